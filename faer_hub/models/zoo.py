"""What the zoo holds: registered FAER architectures, their pretrained tags and tasks."""

from __future__ import annotations

from dataclasses import dataclass

import timm
import torch

from ..tasks import TASKS


@dataclass(frozen=True)
class ZooEntry:
    name: str
    tags: tuple[str, ...]
    task: str | None
    """The task of a task model (``faer_raf`` -> ``rafdb``); None for sized architectures."""
    num_classes: int
    params: int


def list_models(pattern: str = "faer_*") -> list[ZooEntry]:
    """Every registered model matching ``pattern``, with its tags and parameter count.

    Models are built on the meta device, so listing is instant even for ``faer_large``.
    """
    tasks_by_model = {t.model_name: t for t in TASKS.values()}
    entries = []
    for name in timm.list_models(pattern):
        tags = tuple(p.split(".", 1)[1] for p in timm.list_pretrained(f"{name}.*"))
        with torch.device("meta"):
            model = timm.create_model(name)
        task = tasks_by_model.get(name)
        entries.append(ZooEntry(
            name=name,
            tags=tags,
            task=task.name if task else None,
            num_classes=model.num_classes,
            params=sum(p.numel() for p in model.parameters()),
        ))
    return entries
