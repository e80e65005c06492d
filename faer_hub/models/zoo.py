"""What the zoo holds: registered FAER architectures, their pretrained tags, tasks and sizes.

``faer-hub list`` answers from :data:`ZOO` without importing torch or timm (building a dozen
models only to count their parameters took 6-30 s). The table is data about the registry, kept
honest by ``tests/models/test_zoo.py``, which compares it with :func:`measure_models` (every
registered model built on the meta device); after changing an architecture, print the new rows
with ``python -c "from faer_hub.models.zoo import measure_models; print(*measure_models(), sep=chr(10))"``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from ..tasks import TASKS


@dataclass(frozen=True)
class ZooEntry:
    name: str
    tags: tuple[str, ...]
    task: str | None
    """The task of a task model (``faer_raf`` -> ``rafdb``); None for sized architectures."""
    num_classes: int
    params: int


_SIZED_TAGS = ("affectnet7", "affectnet8", "affectnet_va", "celeba", "in1k", "rafdb")
"""Pretrained tags of every sized architecture: timm's ImageNet backbone and one per task."""

_PARAMS: dict[str, tuple[int, int]] = {  # name: (num_classes, parameters)
    "faer_affectnet": (7, 101_734_663),
    "faer_affectnet8": (8, 101_735_688),
    "faer_affectnet_va": (2, 101_729_538),
    "faer_atto": (1000, 5_079_560),
    "faer_base": (1000, 102_752_488),
    "faer_celeba": (40, 101_768_488),
    "faer_femto": (1000, 7_210_408),
    "faer_large": (1000, 229_625_704),
    "faer_nano": (1000, 21_126_440),
    "faer_pico": (1000, 12_587_240),
    "faer_raf": (7, 101_734_663),
    "faer_small": (1000, 58_190_248),
    "faer_tiny": (1000, 36_555_688),
}


def _zoo() -> list[ZooEntry]:
    tasks_by_model = {t.model_name: t.name for t in TASKS.values()}
    return [
        ZooEntry(name, () if name in tasks_by_model else _SIZED_TAGS, tasks_by_model.get(name), classes, params)
        for name, (classes, params) in sorted(_PARAMS.items())
    ]


ZOO: tuple[ZooEntry, ...] = tuple(_zoo())
"""Every registered FAER model, by name (the registry as :func:`measure_models` finds it)."""


def list_models(pattern: str = "faer_*") -> list[ZooEntry]:
    """The models of :data:`ZOO` whose name matches ``pattern`` (``fnmatch``, as ``timm.list_models``)."""
    return [entry for entry in ZOO if fnmatch.fnmatchcase(entry.name, pattern)]


def measure_models(pattern: str = "faer_*") -> list[ZooEntry]:
    """Every registered model matching ``pattern``, its tags from timm and its parameters counted
    on a meta-device build (seconds per model: for the test and for updating :data:`ZOO`)."""
    import timm
    import torch

    from . import faer  # noqa: F401  (registers the FAER family)

    tasks_by_model = {t.model_name: t.name for t in TASKS.values()}
    entries = []
    for name in timm.list_models(pattern):
        tags = tuple(sorted(p.split(".", 1)[1] for p in timm.list_pretrained(f"{name}.*")))
        with torch.device("meta"):
            model = timm.create_model(name)
        entries.append(ZooEntry(name, tags, tasks_by_model.get(name), model.num_classes,
                                sum(p.numel() for p in model.parameters())))
    return entries
