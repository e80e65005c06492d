"""A short valence/arousal run on generated AffectNet faces learns: validation CCC rises well above 0."""

from __future__ import annotations

import json

import pytest
import timm

import faer_hub  # noqa: F401
from faer_hub.evaluation.loop import evaluate_model

from .conftest import read_log, run_script, write_config
from .test_train_run import _test_loader

pytestmark = pytest.mark.slow

TINY_VA = {
    "task": "affectnet_va",
    "seed": 0,
    "model": {"name": "faer_atto", "pretrained": False, "img_size": 64, "drop_path_rate": 0.0, "ls_init_value": 0.1},
    "data": {"num_workers": 0, "validation_size": 0.15},
    "optim": {"lr": 2.0e-3, "weight_decay": 0.05, "scheduler": "cosine", "warmup_epochs": 0.5},
    "loss": {"mse_weight": 1.0},
    "train": {"epochs": 10, "global_batch_size": 32, "per_device_batch_size": 32, "eval_batch_size": 64,
              "cpu_threads": 1, "log_every_steps": 4},
    "checkpoint": {"every_steps": 0, "keep_last": 1},
    "tracking": {"report_to": "none"},
}
"""FAER-atto from scratch at 64 px on 480 generated faces (newer-release layout: 408 train / 72
validation) for 10 epochs: about a minute on one CPU thread."""


def test_short_run_learns_valence_and_arousal(tmp_path):
    from faer_hub.data.synthetic.write import write_synthetic

    data = write_synthetic("affectnet", tmp_path / "affectnet", layout="new", num_train=480, num_test=96,
                           image_size=64, seed=0)
    out = tmp_path / "run"
    run_script(["--config", str(write_config(tmp_path / "va.yaml", TINY_VA)), "--data-dir", str(data),
                "--output-dir", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection"]["metric"] == "ccc"
    curve = [e["ccc"] for e in read_log(out) if e["event"] == "validation"]
    assert len(curve) == 10 and curve[0] < 0.2
    # measured here: validation CCC 0.05 after epoch 1, 0.57 after epoch 10 (test CCC 0.58)
    assert metrics["validation"]["ccc"] == max(curve) > 0.4
    assert metrics["validation"]["ccc_valence"] > 0.3 and metrics["validation"]["ccc_arousal"] > 0.3
    assert metrics["test"]["ccc"] > 0.35 and metrics["test"]["num_samples"] == 96
    # predicting 0 everywhere gives about 0.52 on these faces; measured here 0.45 since the faces are
    # cut from generated photos at jittered detector-style boxes
    assert metrics["test"]["rmse"] < 0.48

    # the export is the selected epoch and reproduces the test metrics through local-dir:
    model = timm.create_model(f"local-dir:{out / 'export'}", pretrained=True)
    assert model.pretrained_cfg["label_names"] == ["valence", "arousal"]
    loader, _ = _test_loader(data, "affectnet_va", model, batch_size=32)
    reproduced = evaluate_model(model, loader, "affectnet_va")
    assert reproduced["ccc"] == pytest.approx(metrics["test"]["ccc"], abs=1e-6)
    card = (out / "export" / "README.md").read_text()
    assert f"| ccc | {metrics['test']['ccc']:.4f} |" in card
