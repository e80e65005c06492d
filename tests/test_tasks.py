"""The task policy: tasks.py alone decides what a task's (or a model's) outputs are."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import timm
import torch

from faer_hub.tasks import KINDS, PROBLEM_TYPE_KINDS, TASKS, Task, activate, get_task, kind_of_model, label_names_of_model


def fake_model(num_classes: int = 7, **cfg) -> SimpleNamespace:
    return SimpleNamespace(num_classes=num_classes, pretrained_cfg=cfg)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_model_and_sized_tag_knows_its_task(name):
    task = TASKS[name]
    assert Task.from_model(timm.create_model(task.model_name, pretrained=False)) is task
    sized = timm.create_model(f"faer_atto.{name}", pretrained=False)
    assert Task.from_model(sized) is task and sized.num_classes == task.num_classes
    assert label_names_of_model(sized) == list(task.label_names)
    assert kind_of_model(sized) is task.spec


def test_a_models_task_is_read_from_the_export_record_then_tag_architecture_and_labels():
    raf = TASKS["rafdb"]
    assert Task.from_model(fake_model(faer_task="celeba", tag="rafdb")) is TASKS["celeba"]
    assert Task.from_model(fake_model(tag="affectnet7")) is TASKS["affectnet7"]
    assert Task.from_model(fake_model(architecture="faer_raf")) is raf
    assert Task.from_model(fake_model(label_names=list(raf.label_names))) is raf
    assert Task.from_model(fake_model(label_names=["a", "b"])) is None
    assert Task.from_model(SimpleNamespace(num_classes=7)) is None  # no pretrained_cfg at all


def test_a_model_of_no_known_task_gets_the_kind_its_config_declares_else_single_label():
    assert kind_of_model(fake_model(problem_type="regression")) is KINDS["va"]
    assert kind_of_model(fake_model(problem_type="multi_label_classification")) is KINDS["fae"]
    assert kind_of_model(fake_model()) is KINDS["fer"]
    assert kind_of_model(fake_model(tag="celeba"), multi_label=False) is KINDS["fer"]  # forced by the caller
    assert kind_of_model(fake_model(tag="rafdb"), multi_label=True) is KINDS["fae"]


def test_label_names_fall_back_to_class_numbers_when_the_config_has_none_or_too_few():
    assert label_names_of_model(fake_model(3)) == ["class_0", "class_1", "class_2"]
    assert label_names_of_model(fake_model(3, label_names=["a", "b"])) == ["class_0", "class_1", "class_2"]
    assert label_names_of_model(fake_model(2, label_names=["a", "b"])) == ["a", "b"]


def test_kinds_agree_with_their_problem_types_and_metrics():
    assert PROBLEM_TYPE_KINDS == {k.problem_type: k for k in KINDS.values()} and len(PROBLEM_TYPE_KINDS) == 3
    assert [k.name for k in KINDS.values() if k.multi_label] == ["fae"]
    assert [k.name for k in KINDS.values() if k.regression] == ["va"]
    for kind in KINDS.values():
        assert kind.select_metrics, kind.name
    assert get_task("celeba").primary_metric == "mean_accuracy" and get_task("affectnet_va").primary_metric == "ccc"


def test_scores_and_predictions_follow_the_kind():
    logits = torch.tensor([[2.0, -1.0, 0.5], [-3.0, 0.0, 4.0]])
    assert torch.allclose(activate(logits, "fer").sum(-1), torch.ones(2))
    assert torch.equal(activate(logits, "fae"), logits.sigmoid())
    assert activate(logits, KINDS["va"]).abs().max() == 1.0
    fer, fae, va = TASKS["rafdb"], TASKS["celeba"], TASKS["affectnet_va"]
    assert fer.predictions(logits).tolist() == [0, 2]
    assert fae.predictions(logits).tolist() == [[1, 0, 1], [0, 0, 1]]  # logit > 0 <=> sigmoid > 0.5
    assert va.predictions(logits).tolist() == [[1.0, -1.0, 0.5], [-1.0, 0.0, 1.0]]
    assert fer.references(torch.tensor([1.0])).dtype == torch.int64
    assert va.references(torch.tensor([1])).dtype == torch.float32


def test_an_unknown_task_or_kind_lists_the_valid_ones():
    with pytest.raises(KeyError, match="valid tasks: celeba, rafdb"):
        get_task("raf")
    with pytest.raises(ValueError, match="kind must be one of fer, fae, va"):
        Task(name="x", model_name="faer_x", dataset="rafdb", dataset_config=None, label_names=("a",),
             kind="regression", dataset_title="X")
    with pytest.raises(ValueError, match="dataset must be one of celeba, rafdb, affectnet"):
        Task(name="x", model_name="faer_x", dataset="fer2013", dataset_config=None, label_names=("a",),
             kind="fer", dataset_title="X")
