"""A short valence/arousal run on generated AffectNet faces learns: validation CCC rises well above 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import timm

import faer_hub  # noqa: F401
from faer_hub.evaluation.loop import evaluate_model

from .conftest import read_log, run_script
from .test_train_run import _test_loader

pytestmark = pytest.mark.slow

VA_TINY = Path(__file__).resolve().parents[2] / "training" / "configs" / "va_tiny.yaml"
"""FAER-atto from scratch at 64 px on 480 generated faces (newer-release layout: 408 train / 72
validation) for 10 epochs: about a minute on one CPU thread. The README's by-hand run uses it too."""


def test_short_run_learns_valence_and_arousal(tmp_path):
    from faer_hub.data.synthetic.write import write_synthetic

    data = write_synthetic("affectnet", tmp_path / "affectnet", layout="new", num_train=480, num_test=96,
                           image_size=64, seed=0)
    out = tmp_path / "run"
    run_script(["--config", str(VA_TINY), "--data-dir", str(data),
                "--output-dir", str(out)])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["selection"]["metric"] == "ccc"
    curve = [e["ccc"] for e in read_log(out) if e["event"] == "validation"]
    assert len(curve) == 10 and curve[0] < 0.2
    # measured here: validation CCC -0.02 after epoch 1, 0.53 after epoch 10 (test CCC 0.42, RMSE 0.45)
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
