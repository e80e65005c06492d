"""The zoo listing: every registered FAER model with its tags, task and size."""

from __future__ import annotations

import subprocess
import sys

import timm

from faer_hub.models.zoo import ZOO, list_models, measure_models
from faer_hub.tasks import TASKS


def test_the_table_is_the_registry():
    """ZOO answers `faer-hub list` without building models; it must say what building them says."""
    assert list(ZOO) == measure_models()


def test_list_models_reports_tags_tasks_and_sizes():
    entries = {e.name: e for e in list_models()}
    assert entries["faer_raf"].task == "rafdb" and entries["faer_raf"].num_classes == 7
    assert entries["faer_celeba"].num_classes == 40
    assert set(entries["faer_atto"].tags) == {"in1k", "celeba", "rafdb", "affectnet7", "affectnet8", "affectnet_va"}
    assert entries["faer_affectnet_va"].task == "affectnet_va" and entries["faer_affectnet_va"].num_classes == 2
    assert abs(entries["faer_raf"].params / 1e6 - 101.7) < 0.1


def test_every_task_model_is_listed_with_its_task_and_sized_models_have_none():
    entries = {e.name: e for e in list_models()}
    assert {t.model_name: t.name for t in TASKS.values()} == {n: e.task for n, e in entries.items() if e.task}
    assert entries["faer_atto"].task is None


def test_parameter_counts_are_those_of_the_built_model():
    (atto,) = list_models("faer_atto")
    assert atto.params == sum(p.numel() for p in timm.create_model("faer_atto").parameters())
    assert list_models("no_such_*") == []
    assert [e.name for e in list_models("faer_a*")] == ["faer_affectnet", "faer_affectnet8", "faer_affectnet_va",
                                                         "faer_atto"]


def test_listing_imports_neither_torch_nor_timm():
    code = ("import sys; from faer_hub.cli import main; main(['list']); "
            "print(sorted(m for m in ('torch', 'timm') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "faer_large" in out and out.strip().splitlines()[-1] == "[]"
