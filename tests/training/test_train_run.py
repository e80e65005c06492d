"""End-to-end runs of training/train.py on generated data with a tiny model."""

from __future__ import annotations

import json

import pytest
import timm
import torch
from safetensors.torch import load_file

import faer_hub  # noqa: F401
from faer_hub.evaluation.loop import evaluate_model
from faer_hub.tasks import CELEBA_ATTRIBUTES, RAFDB_LABELS
from faer_hub.training.config import config_to_dict, load_config

from .conftest import TINY_FER, load_train_module, read_log, write_config


def _test_loader(data_dir, task, model, batch_size=8):
    from faer_hub.data import load_task_dataset
    from faer_hub.data.loader import build_dataloader
    from faer_hub.data.transforms import resolve_data_config

    splits = load_task_dataset(task, data_dir, cache_dir=data_dir.parent / f".{data_dir.name}.hf_cache")
    return build_dataloader(splits["test"], resolve_data_config(model), batch_size=batch_size), splits


def test_fer_run_writes_every_output_and_a_loadable_export(baseline_run, raf_dir):
    out = baseline_run
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection"]["split"] == "validation"
    assert "validation" in metrics["selection"]["note"] and metrics["selection"]["weights"] == "ema"
    assert metrics["selection"]["best_epoch"] in (0, 1)
    test = metrics["test"]
    assert test["num_samples"] == 35 and sum(map(sum, test["confusion_matrix"])) == 35
    assert list(test["class_accuracy"]) == list(RAFDB_LABELS)
    for key in ("accuracy", "balanced_accuracy", "macro_f1"):
        assert 0.0 <= test[key] <= 1.0
    assert metrics["last_epoch"]["epoch"] == 1 and metrics["last_epoch"]["test"]["num_samples"] == 35
    assert [h["epoch"] for h in metrics["history"]] == [0, 1]

    events = read_log(out)
    assert [e["step"] for e in events if e["event"] == "train"] == list(range(1, 15))
    assert [e["epoch"] for e in events if e["event"] == "validation"] == [0, 1]
    assert events[0]["event"] == "start" and events[-1]["event"] == "done"
    assert config_to_dict(load_config(out / "config.yaml")) == config_to_dict(
        load_config(None, [f"data.data_dir={raf_dir}"], base=TINY_FER))

    steps = sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))
    assert steps == ["step-00000012", "step-00000014"]  # keep_last 2 (12 mid-epoch, 14 epoch end)
    latest = json.loads((out / "checkpoints" / "step-00000014" / "train_state.json").read_text())
    assert (out / "checkpoints" / latest["best_dir"] / "ema.safetensors").is_file()
    assert latest["best_epoch"] == metrics["selection"]["best_epoch"]

    # the export is the selected epoch's (EMA) weights and reproduces the reported test metrics
    model = timm.create_model(f"local-dir:{out / 'export'}", pretrained=True)
    assert model.pretrained_cfg["label_names"] == list(RAFDB_LABELS)
    assert tuple(model.pretrained_cfg["input_size"]) == (3, 32, 32)
    loader, _ = _test_loader(raf_dir, "rafdb", model)
    again = evaluate_model(model, loader, "rafdb")
    assert again["accuracy"] == test["accuracy"] and again["confusion_matrix"] == test["confusion_matrix"]
    card = (out / "export" / "README.md").read_text()
    assert f"{100 * test['accuracy']:.2f}" in card and "synthetic" in card
    assert "center_weight: 0.01" in card  # the exact training config is in the card


def test_fae_run_on_celeba_format(tmp_path, celeba_dir):
    config = dict(TINY_FER, task="celeba", loss={"focal_gamma": 2.0},
                  train=dict(TINY_FER["train"], epochs=1, ema=False))
    cfg = write_config(tmp_path / "fae.yaml", config)
    out = tmp_path / "run"
    metrics = load_train_module().main(["--config", str(cfg), "--data-dir", str(celeba_dir), "--output-dir", str(out)])
    assert metrics["selection"]["metric"] == "mean_accuracy"
    assert metrics["test"]["num_samples"] == 16
    assert list(metrics["test"]["class_accuracy"]) == list(CELEBA_ATTRIBUTES)
    assert json.loads((out / "metrics.json").read_text())["test"]["mean_accuracy"] == metrics["test"]["mean_accuracy"]
    model = timm.create_model(f"local-dir:{out / 'export'}", pretrained=True)
    assert model.num_classes == 40
    loader, _ = _test_loader(celeba_dir, "celeba", model)
    assert evaluate_model(model, loader, "celeba")["mean_accuracy"] == metrics["test"]["mean_accuracy"]


def test_non_finite_loss_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, fer_config, raf_dir, monkeypatch):
    from faer_hub.training.guard import NonFiniteLossError
    from faer_hub.training.model import ModelWithLoss

    calls = {"n": 0}
    forward = ModelWithLoss.forward

    def poisoned(self, images, targets):
        logits, loss, parts = forward(self, images, targets)
        calls["n"] += 1
        return logits, (loss * float("nan") if calls["n"] == 3 else loss), parts

    monkeypatch.setattr(ModelWithLoss, "forward", poisoned)
    out = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"optimizer step 3 \(epoch 1\).*step-00000002"):
        load_train_module().main(["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)])
    steps = [p.name for p in (out / "checkpoints").iterdir()]
    assert steps == ["step-00000002"] and not (out / "metrics.json").exists()
    state = json.loads((out / "checkpoints" / "step-00000002" / "train_state.json").read_text())
    assert state["global_step"] == 2
    weights = load_file(out / "checkpoints" / "step-00000002" / "model.safetensors")
    assert all(torch.isfinite(t).all() for t in weights.values())


def test_validation_and_checkpoints_follow_their_epoch_cadence_and_the_lr_rule_is_logged(tmp_path, raf_dir):
    config = dict(TINY_FER, train=dict(TINY_FER["train"], epochs=3, ema=False),
                  eval={"every_epochs": 2}, checkpoint={"every_epochs": 2, "every_steps": 0, "keep_last": 5},
                  optim=dict(TINY_FER["optim"], lr_scaling="linear", lr_reference_batch=4))
    out = tmp_path / "run"
    metrics = load_train_module().main(["--config", str(write_config(tmp_path / "c.yaml", config)),
                                        "--data-dir", str(raf_dir), "--output-dir", str(out)])
    events = read_log(out)
    assert [e["epoch"] for e in events if e["event"] == "validation"] == [1, 2]  # every 2nd epoch, and the last
    assert [h["epoch"] for h in metrics["history"]] == [1, 2] and metrics["selection"]["best_epoch"] in (1, 2)
    assert sorted(p.name for p in (out / "checkpoints").glob("step-*")) == ["step-00000014", "step-00000021"]
    start = next(e for e in events if e["event"] == "start")
    assert start["lr_scaling"] == "linear" and start["lr"] == pytest.approx(2e-3)  # 1e-3 x global batch 8 / 4
