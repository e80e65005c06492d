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
                                   "import faer_hub.models.zoo", "from faer_hub.models import FAER",
                                   # modules whose own first import of timm runs the registration
                                   "from faer_hub.data.transforms import build_transform",
                                   "import faer_hub.hub.sources", "import faer_hub.inference.onnx_export"])
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


LAYERS = (
    ("faer_hub", "_lazy", "_timm_registration", "errors", "settings", "processes", "io", "tasks"),
    ("faces",), ("models",), ("data",), ("hub",), ("viz",), ("evaluation",), ("inference",), ("training",),
    ("app",), ("cli",),
)
"""faer_hub's parts from the bottom up: a module imports from its own layer or the ones below,
never above (models/ is the architecture alone: no hub, training or inference)."""


def _imports_of(path, package_root):
    """``(line, imported module)`` for every import in ``path``, inside functions too (relative
    imports resolved against ``package_root``, the folder of the top package)."""
    import ast

    top = package_root.parent
    package = list(path.relative_to(top).parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - (node.level - 1)]
            if node.module:
                yield node.lineno, ".".join([*base, node.module])
                continue
            for alias in node.names:  # `from . import x`: a submodule x, or a name of the package
                is_module = top.joinpath(*base, alias.name).is_dir() or top.joinpath(*base, f"{alias.name}.py").is_file()
                yield node.lineno, ".".join([*base, alias.name] if is_module else base)


def _layer(module: str) -> int:
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else "faer_hub"
    return next(i for i, layer in enumerate(LAYERS) if part in layer)


def test_no_module_imports_from_a_layer_above_its_own():
    from pathlib import Path

    root = Path(faer_hub.__file__).parent
    upward = []
    for path in sorted(root.rglob("*.py")):
        module = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        for line, imported in _imports_of(path, root):
            if imported.split(".")[0] == "faer_hub" and _layer(imported) > _layer(module):
                upward.append(f"{path.relative_to(root.parent)}:{line} imports {imported}")
    assert upward == []


def test_the_layer_check_sees_imports_inside_functions(tmp_path):
    package = tmp_path / "faer_hub"
    (package / "models").mkdir(parents=True)
    (package / "models" / "faer.py").write_text("def load():\n    from ..hub.export import save_export\n")
    found = list(_imports_of(package / "models" / "faer.py", package))
    assert found == [(2, "faer_hub.hub.export")] and _layer(found[0][1]) > _layer("faer_hub.models.faer")
