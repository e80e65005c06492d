"""Publishing: folder checks, mocked HfApi upload (no network), dataset push guard."""

from __future__ import annotations

import json
import re

import pytest
import timm
import torch
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

import faer_hub  # noqa: F401
from faer_hub.hub.export import save_export
from faer_hub.hub.publish import ExportFolderError, check_export_folder, push_dataset, push_export


class FakeHfApi:
    """Records calls instead of talking to the Hub."""

    def __init__(self):
        self.calls = []
        self.uploaded = {}

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def upload_folder(self, *, repo_id, folder_path, **kwargs):
        from pathlib import Path

        import fnmatch
        files = [p for p in Path(folder_path).iterdir() if p.is_file()]
        kept = [p for p in files if not any(fnmatch.fnmatch(p.name, pat) for pat in kwargs["ignore_patterns"])]
        self.uploaded = {p.name: p.read_bytes() for p in kept}
        self.calls.append(("upload_folder", repo_id, kwargs))
        return "commit-info"


@pytest.fixture
def export(tmp_path):
    torch.manual_seed(0)
    model = timm.create_model("faer_atto.rafdb")
    return save_export(model, tmp_path / "run" / "export", task="rafdb", repo_id="me/faer_atto.rafdb")


def test_push_uploads_checked_folder(export):
    (export / "optimizer.pt").write_bytes(b"pickle")  # never uploaded
    api = FakeHfApi()
    assert push_export(export.parent, "me/faer_atto.rafdb", private=True, commit_message="v1", api=api) == "commit-info"
    (create, upload) = api.calls
    assert create == ("create_repo", "me/faer_atto.rafdb", dict(private=True, repo_type="model", exist_ok=True))
    assert upload[1] == "me/faer_atto.rafdb" and upload[2]["commit_message"] == "v1"
    assert set(api.uploaded) == {"config.json", "model.safetensors", "README.md"}


@pytest.mark.parametrize("missing", ["config.json", "model.safetensors", "README.md"])
def test_incomplete_folder_is_refused(export, missing):
    (export / missing).unlink()
    api = FakeHfApi()
    with pytest.raises(ExportFolderError, match=f"missing {missing}"):
        push_export(export, "me/faer_atto.rafdb", api=api)
    assert api.calls == []  # nothing created on the Hub


def test_card_config_disagreement_is_refused(export):
    config = json.loads((export / "config.json").read_text())
    config["label_names"] = list(reversed(config["label_names"]))
    (export / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportFolderError, match="README.md lists labels"):
        check_export_folder(export)


def test_weights_config_disagreement_is_refused(export):
    config = json.loads((export / "config.json").read_text())
    config["num_classes"] = 8
    config["label_names"] = config["label_names"] + ["contempt"]
    (export / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportFolderError, match="head.fc.weight has 7 outputs"):
        check_export_folder(export)


def test_corrupt_weights_and_card_are_refused(export):
    (export / "model.safetensors").write_bytes(b"garbage")
    (export / "README.md").write_text("---\nmodel-index: [{name: x}]\n---\n")
    with pytest.raises(ExportFolderError) as err:
        check_export_folder(export)
    assert "model.safetensors cannot be read" in str(err.value) and "invalid model card" in str(err.value)


def test_a_card_without_faer_hub_metadata_is_refused_not_passed(export):
    # the old card text names architecture and labels in prose, but only the metadata counts
    text = (export / "README.md").read_text()
    (export / "README.md").write_text("---\nlibrary_name: timm\n---\n" + text.split("---\n", 2)[2])
    with pytest.raises(ExportFolderError) as err:
        check_export_folder(export)
    message = str(err.value)
    assert f"{export / 'README.md'}: its metadata does not record faer_hub.architecture, faer_hub.label_names, " \
           "faer_hub.repo_id" in message
    assert f"re-export the folder, e.g. `faer-hub export --model local-dir:{export} <new folder>`" in message


def _edit_card_metadata(export, **facts):
    from huggingface_hub import ModelCard

    card = ModelCard.load(export / "README.md")
    card.data.faer_hub = {**card.data.faer_hub, **facts}
    card.save(export / "README.md")


@pytest.mark.parametrize("facts, refusal", [
    (dict(architecture="faer_tiny"), "README.md describes architecture 'faer_tiny' but config.json has 'faer_atto'"),
    (dict(task="affectnet7"), "README.md describes task 'affectnet7' but config.json has 'rafdb'"),
    (dict(label_names=["a", "b"]), "README.md lists labels ['a', 'b'] but config.json has"),
])
def test_card_metadata_that_contradicts_config_is_refused(export, facts, refusal):
    _edit_card_metadata(export, **facts)
    with pytest.raises(ExportFolderError, match=re.escape(refusal)):
        check_export_folder(export)


def test_card_metadata_matching_config_and_repo_passes(export):
    from huggingface_hub import ModelCard

    facts = ModelCard.load(export / "README.md").data.faer_hub
    assert facts == dict(architecture="faer_atto", task="rafdb", repo_id="me/faer_atto.rafdb",
                         label_names=["surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"])
    assert check_export_folder(export, repo_id="me/faer_atto.rafdb")["architecture"] == "faer_atto"


def test_card_for_another_repo_is_refused_or_retargeted(export):
    api = FakeHfApi()
    with pytest.raises(ExportFolderError, match="written for 'me/faer_atto.rafdb'"):
        push_export(export, "team/raf-small", api=api)
    push_export(export, "team/raf-small", api=api, retarget_card=True)
    card = api.uploaded["README.md"].decode()
    assert "hf-hub:team/raf-small" in card and "me/faer_atto.rafdb" not in card
    assert "me/faer_atto.rafdb" in (export / "README.md").read_text()  # folder untouched


def _dataset(names):
    features = Features({"image_id": Value("string"), "label": ClassLabel(names=list(names))})
    split = Dataset.from_dict({"image_id": ["a", "b"], "label": [0, 1]}, features=features)
    return DatasetDict(train=split, test=split)


def test_push_dataset_private_by_default_and_guarded(monkeypatch):
    from faer_hub.tasks import RAFDB_LABELS

    calls = []
    monkeypatch.setattr(DatasetDict, "push_to_hub", lambda self, repo_id, **kw: calls.append((repo_id, kw)) or "ok")
    ds = _dataset(RAFDB_LABELS)
    assert push_dataset(ds, "me/rafdb-prepared", task="rafdb") == "ok"
    assert calls[0][0] == "me/rafdb-prepared" and calls[0][1]["private"] is True
    with pytest.raises(PermissionError, match="may not be redistributed"):
        push_dataset(ds, "me/rafdb-public", task="rafdb", private=False)
    with pytest.raises(ValueError, match="expects"):
        push_dataset(_dataset(reversed(RAFDB_LABELS)), "me/x", task="rafdb")
    push_dataset(ds, "me/synthetic", private=False, i_have_redistribution_rights=True)
    assert calls[-1][1]["private"] is False and len(calls) == 2
