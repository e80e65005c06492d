"""The packaged evaluate modules load offline and compute the right numbers."""

import math
import socket

import pytest

from faer_hub.evaluation.metrics import METRIC_NAMES, load_metric


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a packaged metric tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


SCALES = {"fer_accuracy": "fractions in [0, 1]", "fae_accuracy": "fractions in [0, 1]",
          "va_regression": "concordance correlation coefficient (Lin 1989), in [-1, 1]"}
"""What each metric's description must say about the scale of its numbers."""


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_loads_from_the_package_without_network(name, no_network):
    metric = load_metric(name)
    assert metric.name == name  # the packaged module, not another metric of that name
    assert SCALES[name] in " ".join(metric.description.split())


def test_unknown_metric_name_lists_the_packaged_ones():
    with pytest.raises(ValueError, match="fer_accuracy, fae_accuracy, va_regression"):
        load_metric("accuracy")


def test_fer_metrics_on_a_worked_example():
    # true:  a a a b b c      predicted: a a b b b a
    out = load_metric("fer_accuracy").compute(
        predictions=[0, 0, 1, 1, 1, 0], references=[0, 0, 0, 1, 1, 2], label_names=["a", "b", "c"]
    )
    assert out["accuracy"] == pytest.approx(4 / 6)
    assert out["class_accuracy"] == pytest.approx({"a": 2 / 3, "b": 1.0, "c": 0.0})
    assert out["balanced_accuracy"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    # F1: a: p=2/3 r=2/3 -> 2/3 ; b: p=2/3 r=1 -> 0.8 ; c: 0
    assert out["macro_f1"] == pytest.approx((2 / 3 + 0.8 + 0) / 3)
    assert out["confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert out["num_samples"] == 6 and out["label_names"] == ["a", "b", "c"]


def test_fer_class_without_samples_is_none_and_ids_are_checked():
    metric = load_metric("fer_accuracy")
    out = metric.compute(predictions=[0, 1], references=[0, 1], label_names=["a", "b", "c"])
    assert out["class_accuracy"]["c"] is None and out["balanced_accuracy"] == 1.0
    with pytest.raises(ValueError, match="outside 0..2"):
        metric.compute(predictions=[3], references=[0], label_names=["a", "b", "c"])


def test_fae_mean_and_per_attribute_accuracy():
    metric = load_metric("fae_accuracy")
    out = metric.compute(
        predictions=[[1, 0, 1], [0, 0, 1]], references=[[1, 1, 1], [0, 1, 0]], label_names=["x", "y", "z"]
    )
    assert out["class_accuracy"] == pytest.approx({"x": 1.0, "y": 0.0, "z": 0.5})
    assert out["mean_accuracy"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="0 or 1"):
        metric.compute(predictions=[[2, 0, 1]], references=[[1, 1, 1]], label_names=["x", "y", "z"])


# valence (column 0): labels  0.5 -0.5  0.5 -0.5 (mean 0, variance 0.25)
#                     preds   0.5 -0.5  0.0  0.0 (mean 0, variance 0.125), covariance 0.125
#   CCC = 2 x 0.125 / (0.25 + 0.125 + 0^2) = 2/3; PCC = 0.125 / sqrt(0.25 x 0.125) = 1/sqrt(2)
#   RMSE = sqrt((0 + 0 + 0.25 + 0.25) / 4) = sqrt(0.125); SAGR: signs agree on 2 of 4 (0 has no sign) = 0.5
# arousal (column 1): labels  0.2 0.4 0.6 0.8, preds = labels + 0.1: variances and covariance 0.05
#   CCC = 0.1 / (0.05 + 0.05 + 0.1^2) = 10/11; PCC = 1; RMSE = 0.1; SAGR = 1
VA_PRED = [[0.5, 0.3], [-0.5, 0.5], [0.0, 0.7], [0.0, 0.9]]
VA_TRUE = [[0.5, 0.2], [-0.5, 0.4], [0.5, 0.6], [-0.5, 0.8]]


def test_va_metrics_against_a_hand_computation():
    out = load_metric("va_regression").compute(predictions=VA_PRED, references=VA_TRUE)
    expected = {
        "ccc_valence": 2 / 3, "pcc_valence": 1 / math.sqrt(2), "rmse_valence": math.sqrt(0.125), "sagr_valence": 0.5,
        "ccc_arousal": 10 / 11, "pcc_arousal": 1.0, "rmse_arousal": 0.1, "sagr_arousal": 1.0,
    }
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, abs=1e-9), key
    for metric in ("ccc", "pcc", "rmse", "sagr"):
        assert out[metric] == pytest.approx((expected[f"{metric}_valence"] + expected[f"{metric}_arousal"]) / 2)
    assert out["num_samples"] == 4 and out["label_names"] == ["valence", "arousal"]


def test_va_metrics_undefined_correlation_is_none_and_shapes_are_checked():
    metric = load_metric("va_regression")
    out = metric.compute(predictions=[[0.1, 0.2], [0.1, 0.3]], references=[[0.5, 0.2], [-0.5, 0.3]])
    assert out["pcc_valence"] is None and out["pcc"] is None  # a constant prediction has no correlation
    assert out["ccc_valence"] == 0.0 and out["ccc_arousal"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="must both be"):
        metric.compute(predictions=[[0.1, 0.2]], references=[[0.1, 0.2, 0.3]])
