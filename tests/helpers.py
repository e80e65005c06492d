"""Helpers the tests import by name (``from helpers import ...``; tests/ is on the path)."""

from __future__ import annotations

from pathlib import Path


def rafdb_split(images, labels=None):
    """A RAF-DB-typed split (``image``, ``label`` ClassLabel) over image files or PIL images;
    every label 0 unless given."""
    import datasets

    from faer_hub.tasks import RAFDB_LABELS

    images = [str(i) if isinstance(i, Path) else i for i in images]
    return datasets.Dataset.from_dict(
        {"image": images, "label": list(labels) if labels is not None else [0] * len(images)},
        features=datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=list(RAFDB_LABELS))}),
    )


def record_inputs(model) -> list:
    """A list that receives a copy of every input tensor ``model`` is called with."""
    seen = []
    model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    return seen


SMALL_INPUT = dict(pretrained_cfg_overlay=dict(input_size=(3, 64, 64)))
"""Overlay that makes a model's data config 64 px, so evaluation and prediction tests stay fast."""
