"""Checkpoints of the authors' training code load into FAER with the same logits."""

import subprocess
import sys
import warnings

import pytest
import timm
import torch
from authors_reference import AuthorsFAER

import faer_hub
from faer_hub.hub.convert import convert_checkpoint


@pytest.fixture(scope="module")
def authors_checkpoint(tmp_path_factory):
    """Their atto-sized model with random (not init) weights, saved as their code saves it."""
    torch.manual_seed(0)
    model = AuthorsFAER().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.1)
    path = tmp_path_factory.mktemp("authors") / "best.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}, "epoch": 3}, path)
    return model, path


def test_pretrained_cfg_overlay_loads_authors_checkpoint_with_same_logits(authors_checkpoint):
    reference, path = authors_checkpoint
    model = timm.create_model(
        "faer_atto.rafdb", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(2, 3, 64, 64)
    feats, logits = reference(x)
    torch.testing.assert_close(model(x), logits, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(model.forward_head(model.forward_features(x), pre_logits=True), feats, rtol=1e-4, atol=1e-5)


def test_checkpoint_without_module_prefix_or_wrapper(authors_checkpoint, tmp_path):
    reference, _ = authors_checkpoint
    path = tmp_path / "plain.pth"
    torch.save(reference.state_dict(), path)
    model = timm.create_model("faer_atto.rafdb", pretrained=True, pretrained_cfg_overlay=dict(file=str(path))).eval()
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(model(x), reference(x)[1], rtol=1e-4, atol=1e-5)


def test_convert_writes_an_export_folder_with_same_logits(authors_checkpoint, tmp_path):
    reference, path = authors_checkpoint
    folder = convert_checkpoint(path, tmp_path / "export", task="rafdb", model_name="faer_atto")
    model = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    assert tuple(model.pretrained_cfg["label_names"]) == faer_hub.RAFDB_LABELS
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(model(x), reference(x)[1], rtol=1e-4, atol=1e-5)


def test_convert_command(authors_checkpoint, tmp_path):
    _, path = authors_checkpoint
    out = tmp_path / "cli_export"
    result = subprocess.run(
        [sys.executable, "-m", "faer_hub.cli", "convert", str(path), str(out), "--task", "rafdb", "--model", "faer_atto"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "model.safetensors").is_file() and "local-dir:" in result.stdout


def test_convert_rejects_head_of_another_task(authors_checkpoint, tmp_path):
    _, path = authors_checkpoint
    with pytest.raises(ValueError, match="not a loadable FAER .* size mismatch for head.fc.weight"):
        convert_checkpoint(path, tmp_path / "x", task="affectnet8", model_name="faer_atto")
    assert not (tmp_path / "x").exists()


def test_convert_names_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*nope.pth"):
        convert_checkpoint(tmp_path / "nope.pth", tmp_path / "x", task="rafdb")


def test_pickled_objects_are_refused(tmp_path):
    """Checkpoints are read with weights_only=True: arbitrary pickled objects do not load."""
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "payload": object()}, path)
    with pytest.raises(Exception, match="[Ww]eights only load failed|weights_only"):
        convert_checkpoint(path, tmp_path / "x", task="rafdb", model_name="faer_atto")


def test_a_matching_head_that_timm_would_drop_is_warned_about(authors_checkpoint):
    """faer_atto (tagged .in1k, 1000 classes) + num_classes=7 + the authors' 7-class checkpoint:
    timm drops the trained head; the user is told, and told how to keep it."""
    _, path = authors_checkpoint
    with pytest.warns(UserWarning, match=r"head.fc has 7 outputs, as the model, but timm will drop it .*num_classes=7"):
        dropped = timm.create_model("faer_atto", pretrained=True, num_classes=7,
                                    pretrained_cfg_overlay=dict(file=str(path)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = timm.create_model("faer_atto", pretrained=True, num_classes=7,
                                 pretrained_cfg_overlay=dict(file=str(path), num_classes=7))
    reference = torch.load(path, weights_only=True)["state_dict"]["module.head.weight"]
    assert torch.equal(kept.head.fc.weight, reference) and not torch.equal(dropped.head.fc.weight, reference)


def test_a_checkpoint_without_cc_attention_is_refused_or_exported_with_a_warning_when_asked(tmp_path):
    """A plain ConvNeXt checkpoint has no CC Attention: its export would hold that layer at
    random initialisation, so convert refuses it unless told, and then warns."""
    from safetensors.torch import load_file, save_file

    plain = timm.create_model("convnext_atto", num_classes=7)
    path = tmp_path / "convnext.safetensors"
    save_file(plain.state_dict(), path)
    with pytest.raises(ValueError, match=r"convnext.safetensors holds no CC Attention weights .*allow-missing-weights"):
        convert_checkpoint(path, tmp_path / "x", task="rafdb", model_name="faer_atto")
    assert not (tmp_path / "x").exists()
    with pytest.warns(UserWarning, match="keeps CC Attention at random initialisation"):
        folder = convert_checkpoint(path, tmp_path / "x", task="rafdb", model_name="faer_atto",
                                    allow_missing_weights=True)
    exported = load_file(folder / "model.safetensors")
    assert torch.equal(exported["head.fc.weight"], plain.state_dict()["head.fc.weight"])


def test_convert_replaces_an_earlier_export_only_with_overwrite(authors_checkpoint, tmp_path):
    from faer_hub.io import DestinationError

    _, path = authors_checkpoint
    folder = convert_checkpoint(path, tmp_path / "export", task="rafdb", model_name="faer_atto")
    with pytest.raises(DestinationError, match="already holds an export"):
        convert_checkpoint(path, folder, task="rafdb", model_name="faer_atto")
    convert_checkpoint(path, folder, task="rafdb", model_name="faer_atto", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]
