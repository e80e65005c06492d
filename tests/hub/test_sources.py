"""Model sources: one way to name a model (timm name, hf-hub:, local-dir:, an export folder)."""

from __future__ import annotations

import json

import pytest
import timm

from faer_hub.hub.export import ExportError
from faer_hub.hub.sources import create_model_from_source, resolve_source


def test_model_sources(raf_export, tmp_path, monkeypatch):
    assert resolve_source("faer_atto.rafdb") == ("faer_atto.rafdb", False)
    assert resolve_source(str(raf_export)) == (f"local-dir:{raf_export}", True)
    assert resolve_source(f"local-dir:{raf_export}") == (f"local-dir:{raf_export}", True)
    assert resolve_source("hf-hub:org/repo") == ("hf-hub:org/repo", True)
    monkeypatch.chdir(raf_export.parent)
    assert resolve_source(raf_export.name) == (f"local-dir:{raf_export.name}", True)  # bare folder name
    with pytest.raises(ValueError, match="unknown model 'no_such_model'"):
        resolve_source("no_such_model")
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        resolve_source(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="folder not found"):
        resolve_source("local-dir:/does/not/exist")


def test_a_timm_name_without_pretrained_gives_random_weights_and_an_export_its_own(raf_export):
    from_export = create_model_from_source(str(raf_export))
    assert not from_export.training
    assert from_export.pretrained_cfg["label_names"][0] == "surprise"
    saved = timm.create_model(f"local-dir:{raf_export}", pretrained=True).state_dict()
    assert all((saved[k] == v).all() for k, v in from_export.state_dict().items())
    fresh = create_model_from_source("faer_atto.rafdb")
    assert fresh.num_classes == 7 and not fresh.training


def test_an_export_whose_labels_disagree_with_its_outputs_is_refused_naming_the_file(raf_export, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(raf_export, broken)
    config = json.loads((broken / "config.json").read_text())
    config["label_names"] = config["label_names"][:3]
    (broken / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match=rf"{broken / 'config.json'}.*3 label_names but num_classes = 7"):
        create_model_from_source(str(broken))


def test_a_path_that_is_not_a_folder_says_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="looks like a path but is not a folder"):
        resolve_source(str(tmp_path / "model.safetensors"))


def test_a_hub_repo_whose_config_asks_for_a_billion_classes_is_refused_before_allocating(raf_export, hf_cache,
                                                                                          monkeypatch):
    import huggingface_hub.constants
    from offline_hub import populate_hf_cache

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    files = {name: raf_export / name for name in ("config.json", "model.safetensors", "README.md")}
    populate_hf_cache(hf_cache, "me/good", files)
    assert create_model_from_source("hf-hub:me/good").num_classes == 7
    snapshot = populate_hf_cache(hf_cache, "me/huge", files)
    config = json.loads((snapshot / "config.json").read_text())
    config["model_args"]["num_classes"] = 10**9
    (snapshot / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match=r"'hf-hub:me/huge': .*head.fc.weight has shape \[7, 320\] but "
                                          r".*config.json builds \[1000000000, 320\]"):
        create_model_from_source("hf-hub:me/huge")


def test_a_timm_name_with_a_resized_head_gets_class_numbers_not_an_error():
    """tasks.py's label rule: names registered for the 7-class head give way; only names recorded
    with weights (an export's config.json, above) are refused."""
    from faer_hub.tasks import label_names_of_model

    model = create_model_from_source("faer_atto.rafdb", num_classes=3)
    assert model.num_classes == 3 and label_names_of_model(model) == ["class_0", "class_1", "class_2"]


def _http_error(kind, status):
    import httpx

    return kind("refused", response=httpx.Response(status, request=httpx.Request("GET", "https://huggingface.co/x")))


@pytest.mark.parametrize("raised, error, message", [
    (None, FileNotFoundError, r"'hf-hub:me/absent': not in the Hugging Face cache \(.*\) and HF_HUB_OFFLINE=1; "
                              r"download it while online \(`hf download me/absent`\)"),
    ("RepositoryNotFoundError", FileNotFoundError, r"no repo 'me/absent' on the Hub, or it is private; .*hf auth login"),
    ("GatedRepoError", PermissionError, r"'hf-hub:me/absent': the repo is gated; accept its terms"),
])
def test_a_hub_repo_that_cannot_be_fetched_is_one_line_naming_it_and_the_fix(hf_cache, monkeypatch, raised, error,
                                                                             message):
    import huggingface_hub
    import huggingface_hub.constants
    import huggingface_hub.errors

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hf_cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    if raised is not None:  # what the Hub answers online (a mocked download; nothing leaves this machine)
        kind = getattr(huggingface_hub.errors, raised)

        def refuse(*args, **kwargs):
            raise _http_error(kind, 401 if raised == "GatedRepoError" else 404)

        monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse)
    with pytest.raises(error, match=message):
        create_model_from_source("hf-hub:me/absent")
