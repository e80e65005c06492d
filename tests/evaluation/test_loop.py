"""evaluate_model: predictions, metrics and batch formats."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from faer_hub.evaluation.loop import evaluate_model, split_batch


class FixedLogits(nn.Module):
    """Returns the logits stored in the first channel's pixels (lets tests dictate predictions)."""

    def forward(self, x):
        return x[:, 0, 0, :]


def test_fer_metrics_from_a_model_and_dict_batches():
    logits = torch.zeros(10, 1, 1, 7)
    preds = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0, 0, 0])
    logits[torch.arange(10), 0, 0, preds] = 1.0
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 1, 1, 0])
    loader = DataLoader([{"pixel_values": x, "labels": y} for x, y in zip(logits, labels)], batch_size=4)
    out = evaluate_model(FixedLogits(), loader, "rafdb", return_predictions=True)
    assert out["accuracy"] == pytest.approx(0.8) and out["num_samples"] == 10
    assert out["predictions"] == preds.tolist() and out["references"] == labels.tolist()
    assert out["class_accuracy"]["fear"] == pytest.approx(1 / 3)  # rafdb label 1 = fear: 1 of 3 right
    assert out["task"] == "rafdb" and len(out["confusion_matrix"]) == 7


def test_fae_metrics_threshold_logits_at_zero():
    logits = torch.full((4, 1, 1, 40), -1.0)
    logits[:, 0, 0, 0] = 1.0
    attrs = torch.zeros(4, 40)
    attrs[:2, 0] = 1
    loader = DataLoader(TensorDataset(logits, attrs), batch_size=3)
    out = evaluate_model(FixedLogits(), loader, "celeba")
    assert out["class_accuracy"]["5_o_Clock_Shadow"] == pytest.approx(0.5)
    assert out["class_accuracy"]["Young"] == 1.0
    assert out["mean_accuracy"] == pytest.approx((0.5 + 39) / 40)


def test_wrong_number_of_outputs_and_bad_batches_are_reported():
    loader = DataLoader(TensorDataset(torch.zeros(2, 1, 1, 5), torch.zeros(2, dtype=torch.long)), batch_size=2)
    with pytest.raises(ValueError, match="5 outputs; task 'rafdb' has 7"):
        evaluate_model(FixedLogits(), loader, "rafdb")
    with pytest.raises(KeyError, match="lack an image key"):
        split_batch({"foo": 1})
