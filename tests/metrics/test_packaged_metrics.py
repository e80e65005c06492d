"""The packaged evaluate modules load offline and compute the right numbers."""

import socket

import pytest

from faer_hub.metrics import METRIC_NAMES, load_metric


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a packaged metric tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_loads_from_the_package_without_network(name, no_network):
    metric = load_metric(name)
    assert metric.name == name  # the packaged module, not another metric of that name
    assert "fractions in [0, 1]" in metric.description


def test_unknown_metric_name_lists_the_packaged_ones():
    with pytest.raises(ValueError, match="fer_accuracy, fae_accuracy"):
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
