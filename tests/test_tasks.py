"""The task policy: tasks.py alone decides what a task's (or a model's) outputs are."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
import timm
import torch

from faer_hub.tasks import (KINDS, PROBLEM_TYPE_KINDS, TASKS, Task, activate, get_kind, get_task, kind_of_config,
                            kind_of_model, label_name_problems, label_names_of_model)


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


def test_label_names_fall_back_to_class_numbers_unless_they_name_each_output_once():
    assert label_names_of_model(fake_model(3)) == ["class_0", "class_1", "class_2"]
    assert label_names_of_model(fake_model(3, label_names=["a", "b"])) == ["class_0", "class_1", "class_2"]
    assert label_names_of_model(fake_model(2, label_names=["a", "a"])) == ["class_0", "class_1"]  # one check
    assert label_names_of_model(fake_model(2, label_names=["a", "b"])) == ["a", "b"]
    resized = timm.create_model("faer_atto.rafdb", num_classes=3)  # registered names describe the 7-class head
    assert label_names_of_model(resized) == ["class_0", "class_1", "class_2"]


def test_label_name_problems_name_where_the_names_came_from():
    assert label_name_problems(None, 7, "x") == [] and label_name_problems(["a", "b"], 2, "x") == []
    assert label_name_problems(["a", "b"], 3, "cfg.json") == ["cfg.json: 2 label_names but num_classes = 3"]
    assert label_name_problems(["a", "a"], 2, "x") == ["x: label_names repeat 'a'; each output needs its own name"]
    assert label_name_problems(["a", " "], 2, "x") == ["x: label_names must be non-empty strings"]


def test_a_configs_kind_is_its_tasks_else_its_problem_types_else_single_label():
    assert kind_of_config({"faer_task": "celeba", "problem_type": "regression"}) is KINDS["fae"]
    assert kind_of_config({"problem_type": "regression"}) is KINDS["va"]
    assert kind_of_config({"faer_task": "nope", "problem_type": "multi_label_classification"}) is KINDS["fae"]
    assert kind_of_config({"faer_task": ["celeba"], "problem_type": {}}) is KINDS["fer"]  # malformed: no guess
    assert kind_of_config({}) is KINDS["fer"]
    assert get_kind("va") is KINDS["va"]
    with pytest.raises(ValueError, match="unknown task kind 'x'; expected one of fer, fae, va"):
        get_kind("x")


def test_a_kinds_loss_is_described_from_the_runs_values_only():
    fae, fer, va = (KINDS[name].loss for name in ("fae", "fer", "va"))
    assert fae.describe({"focal_gamma": 1.5}, 40) == "sigmoid focal loss (gamma = 1.5) on the 40 outputs"
    assert fae.describe({"focal_gamma": 0.0}, 40) == "sigmoid focal loss (gamma = 0) on the 40 outputs"
    assert fae.describe({}, 40) == "sigmoid focal loss on the 40 outputs"  # not recorded: not guessed
    assert fer.describe({"center_weight": 0.01}, 7) == "cross-entropy plus 0.01 x center loss on the pooled features"
    assert fer.describe({"center_weight": 0.0}, 7) == fer.describe({}, 7) == "cross-entropy"
    assert va.describe({"mse_weight": 2}, 2).endswith("over each batch) plus 2 x the mean squared error")
    assert [k.name for k in KINDS.values() if k.single_label] == ["fer"]
    assert [k.name for k in KINDS.values() if not k.in_paper] == ["va"]


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


REPO_ROOT = Path(__file__).resolve().parents[1]


def kind_switches(root: Path) -> list[str]:
    """Where code outside tasks.py decides by a task kind's name: ``kind == "va"``, ``x[task.kind]``
    or a table keyed by kind names."""
    names = set(KINDS)
    found = []
    paths = [p for folder in ("faer_hub", "training") for p in sorted((root / folder).rglob("*.py"))]
    for path in paths:
        if path == root / "faer_hub" / "tasks.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
                strings = {c.value for o in operands for c in ast.walk(o)
                           if isinstance(c, ast.Constant) and isinstance(c.value, str)}
                if strings & names and any(_names_a_kind(o) for o in operands):
                    found.append(where)
            elif isinstance(node, ast.Subscript) and _names_a_kind(node.slice):
                found.append(where)
            elif isinstance(node, ast.Dict):
                keys = {k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                if len(keys & names) >= 2:
                    found.append(where)
    return found


def _names_a_kind(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "kind") or (isinstance(node, ast.Name) and node.id == "kind")


def test_no_code_outside_tasks_switches_on_a_kinds_name():
    assert kind_switches(REPO_ROOT) == []


def test_the_kind_switch_finder_finds_switches(tmp_path):
    (tmp_path / "faer_hub").mkdir()
    (tmp_path / "training").mkdir()
    (tmp_path / "faer_hub" / "tasks.py").write_text('KINDS = {"fer": 1, "fae": 2}\n')  # tasks.py may
    (tmp_path / "faer_hub" / "a.py").write_text(
        'if task.kind == "va":\n    pass\nx = kind in ("fer", "fae")\nunits = {"fae": 1, "fer": 2}\ny = UNITS[task.kind]\n'
        'ok = protocol.kind == "similarity"\n')
    assert kind_switches(tmp_path) == ["faer_hub/a.py:1", "faer_hub/a.py:3", "faer_hub/a.py:4", "faer_hub/a.py:5"]
