"""The package surface: `import faer_hub` is light and still registers FAER with timm."""

from __future__ import annotations

import subprocess
import sys

import pytest

import faer_hub


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_and_building_the_cli_load_no_torch():
    # `faer-hub --help` and argument errors must answer at once: nothing heavy before a command runs
    loaded = _run("import sys, faer_hub, faer_hub.cli; faer_hub.cli.build_parser(); "
                  "print(sorted(m for m in ('torch', 'timm', 'datasets', 'accelerate') if m in sys.modules))")
    assert loaded == "[]"


@pytest.mark.parametrize("order", ["import faer_hub, timm", "import timm, faer_hub",
                                   "import faer_hub; from timm.models import create_model",
                                   "from faer_hub.models.cca import ContextualChannelAttention",
                                   "import faer_hub.models.zoo", "from faer_hub.models import FAER"])
def test_faer_models_are_registered_whichever_is_imported_first(order):
    assert _run(f"{order}; import timm; print(timm.is_model('faer_raf'), timm.is_model('faer_atto'))") == "True True"


def test_public_names_load_on_first_use():
    assert faer_hub.FAER.__name__ == "FAER" and len(faer_hub.CELEBA_ATTRIBUTES) == 40
    assert set(faer_hub.__all__) <= set(dir(faer_hub))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        faer_hub.nope  # noqa: B018


@pytest.mark.slow  # imports transformers in a fresh interpreter (about 10-20 s)
def test_transformers_pipeline_works_when_faer_hub_is_imported_first(raf_export):
    """The cards' snippet, as printed: `import faer_hub` first, then transformers looks for timm
    (`find_spec`) before importing it; the registration must survive the look."""
    pytest.importorskip("transformers")
    code = (
        "import faer_hub\n"
        "from transformers import pipeline\n"
        "from PIL import Image\n"
        f"classify = pipeline('image-classification', model={str(raf_export)!r})\n"
        "print(classify(Image.new('RGB', (64, 64), 'grey'), top_k=7)[0]['label'] in faer_hub.RAFDB_LABELS)\n"
    )
    assert _run(code).splitlines()[-1] == "True"


def test_looking_for_timm_does_not_use_up_the_registration():
    code = ("import importlib.util, faer_hub; importlib.util.find_spec('timm'); importlib.util.find_spec('timm'); "
            "import timm; print(timm.is_model('faer_atto'))")
    assert _run(code) == "True"
