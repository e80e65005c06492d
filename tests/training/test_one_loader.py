"""Training's evaluation passes and ``faer-hub evaluate`` feed the model through the same loader."""

from __future__ import annotations

import torch

import faer_hub.evaluation.loop as loop
from faer_hub.cli import main as cli

from .conftest import load_train_module


def test_cli_evaluation_and_training_evaluation_see_identical_batches(tmp_path, monkeypatch, fer_config, raf_dir):
    real = loop.evaluate_model
    seen: dict[str, list[list[dict[str, torch.Tensor]]]] = {"training": [], "cli": []}

    def recording(into: str):
        def evaluate_model(model, dataloader, task, *args, **kwargs):
            seen[into].append([{key: value.clone() for key, value in batch.items()} for batch in dataloader])
            return real(model, dataloader, task, *args, **kwargs)
        return evaluate_model

    train = load_train_module()
    monkeypatch.setattr(train, "evaluate_model", recording("training"))
    run = tmp_path / "run"
    train.main(["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(run),
                "--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1"])
    monkeypatch.setattr(loop, "evaluate_model", recording("cli"))
    assert cli(["evaluate", "--model", str(run / "export"), "--data-dir", str(raf_dir), "--split", "test",
                "--batch-size", "8", "--out", str(tmp_path / "eval"), "--no-paper"]) == 0

    (from_cli,) = seen["cli"]
    test_passes = [batches for batches in seen["training"] if sum(len(b["labels"]) for b in batches) == 35]
    assert len(test_passes) == 2  # the last epoch's and the selected epoch's test metrics
    assert sum(len(b["labels"]) for b in from_cli) == 35
    for from_training in test_passes:
        assert len(from_training) == len(from_cli)
        for ours, theirs in zip(from_training, from_cli):
            assert ours.keys() == theirs.keys() == {"pixel_values", "labels"}
            assert ours["pixel_values"].dtype == torch.uint8  # normalised by evaluate_model, on the device
            for key in ours:
                assert ours[key].dtype == theirs[key].dtype and torch.equal(ours[key], theirs[key]), key
