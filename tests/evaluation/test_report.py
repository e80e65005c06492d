"""evaluate_source: any model source on one split of a dataset -> metrics.json + figures."""

from __future__ import annotations

import json

import pytest
import timm
import torch

from helpers import SMALL_INPUT
from faer_hub.data import write_synthetic
from faer_hub.evaluation.report import evaluate_source


@pytest.fixture(scope="module")
def raf_data(tmp_path_factory):
    return write_synthetic("rafdb", tmp_path_factory.mktemp("raf"), num_train=14, num_test=14)


def test_the_task_comes_from_the_export_and_the_report_is_written(raf_export, raf_data, tmp_path):
    out = tmp_path / "eval"
    metrics = evaluate_source(str(raf_export), raf_data, out_dir=out, batch_size=8, cache_dir=tmp_path / "c")
    assert metrics["task"] == "rafdb" and metrics["model"] == str(raf_export) and metrics["num_samples"] == 14
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert {p.name for p in out.iterdir()} == {"metrics.json", "class_accuracy.png", "confusion_matrix.png"}


def test_a_model_object_is_evaluated_without_writing_anything(raf_data, tmp_path):
    torch.manual_seed(0)
    model = timm.create_model("faer_atto.rafdb", **SMALL_INPUT).eval()
    metrics = evaluate_source(model, raf_data, split="validation", batch_size=8, cache_dir=tmp_path / "c")
    # RAF-DB has no validation split of its own: the loader holds half of these 14 train rows out
    assert metrics["model"] == "FAER" and metrics["split"] == "validation" and metrics["num_samples"] == 7
    assert list(tmp_path.glob("*.json")) == []


def test_a_split_the_dataset_lacks_is_named_with_the_ones_it_has(raf_export, raf_data, tmp_path):
    with pytest.raises(ValueError, match="no split 'val' in .*available: train, validation, test"):
        evaluate_source(str(raf_export), raf_data, split="val", cache_dir=tmp_path / "c")


def test_a_model_of_no_known_task_needs_one(raf_data, tmp_path):
    model = timm.create_model("faer_atto", num_classes=7, **SMALL_INPUT)
    with pytest.raises(ValueError, match="cannot tell the model's task"):
        evaluate_source(model, raf_data, cache_dir=tmp_path / "c")


def test_valence_arousal_reports_regression_metrics_and_a_scatter(tmp_path):
    data = write_synthetic("affectnet", tmp_path / "an", num_train=14, num_test=14)
    model = timm.create_model("faer_atto.affectnet_va", **SMALL_INPUT).eval()
    out = tmp_path / "eval"
    metrics = evaluate_source(model, data, split="validation", out_dir=out, batch_size=8, cache_dir=tmp_path / "c")
    assert metrics["task"] == "affectnet_va" and -1 <= metrics["ccc"] <= 1 and "accuracy" not in metrics
    assert (out / "va_scatter.png").is_file() and not (out / "confusion_matrix.png").exists()
