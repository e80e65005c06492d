"""Hub-ready export folders: ``config.json`` + ``model.safetensors`` + model card ``README.md``.

Every FAER export has this one format, whether it comes from training, from converting the
authors' checkpoint (``faer-hub convert``) or from :func:`save_export` directly. It loads with
``timm.create_model('local-dir:<folder>', pretrained=True)``, with ``'hf-hub:<org>/<repo>'`` once
pushed (as in timm, without ``pretrained=True`` these give the architecture only), and with
transformers' ``AutoModelForImageClassification`` (timm wrapper) after ``import faer_hub``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
from safetensors.torch import save_file
from timm.models._hub import save_config_for_hf

from .tasks import TASKS, Task, get_task

EXPORT_FILES = ("config.json", "model.safetensors", "README.md")


def task_of_model(model: torch.nn.Module) -> Optional[Task]:
    """The task a model was built for, from its pretrained config (tag, then label names)."""
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    if cfg.get("faer_task") in TASKS:
        return TASKS[cfg["faer_task"]]
    if cfg.get("tag") in TASKS:
        return TASKS[cfg["tag"]]
    for task in TASKS.values():
        if cfg.get("architecture") == task.model_name:
            return task
    labels = tuple(cfg.get("label_names") or ())
    matches = [t for t in TASKS.values() if t.label_names == labels]
    return matches[0] if len(matches) == 1 else None


def save_export(
    model: torch.nn.Module,
    folder: Union[str, Path],
    *,
    task: Union[Task, str, None] = None,
    results: Optional[Mapping[str, Any]] = None,
    training_config: Optional[Mapping[str, Any]] = None,
    repo_id: Optional[str] = None,
) -> Path:
    """Write ``model`` as a Hub-ready folder and return its path.

    Args:
        model: A FAER (or any timm) model.
        folder: Destination; replaced as a whole, never left half-written.
        task: The task the model was trained for (name or :class:`Task`); inferred from the
            model's pretrained config when omitted.
        results: Measured metrics to put in the card (``None``: the card says none were measured).
        training_config: The exact training config, recorded in the card.
        repo_id: The Hub repo the folder is meant for, used in the card's usage lines.
    """
    task = get_task(task) if isinstance(task, str) else (task or task_of_model(model))
    if task is None:
        raise ValueError(
            "cannot tell which task this model was trained for; pass task= one of " + ", ".join(TASKS)
        )
    if getattr(model, "num_classes", task.num_classes) != task.num_classes:
        raise ValueError(
            f"model has {model.num_classes} outputs but task {task.name!r} has {task.num_classes} labels"
        )
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        model_config = dict(
            label_names=list(task.label_names),
            problem_type=task.problem_type,
            faer_task=task.name,
        )
        save_file(export_state_dict(model), tmp / "model.safetensors", metadata={"format": "pt"})
        save_config_for_hf(model, tmp / "config.json", model_config=model_config)
        config = json.loads((tmp / "config.json").read_text())
        # num_classes is already top-level; transformers' timm wrapper passes it again next to
        # model_args, which fails with "got multiple values for keyword argument 'num_classes'"
        config.get("model_args", {}).pop("num_classes", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        card = _render_card(config, task, results, training_config, repo_id)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        _replace_dir(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def export_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The weights as an export holds them: on the CPU, float32, contiguous default layout,
    whatever memory format (channels-last) or precision the model was trained in."""
    return {
        name: tensor.detach().to("cpu", torch.float32 if tensor.is_floating_point() else tensor.dtype)
        .contiguous(memory_format=torch.contiguous_format)
        for name, tensor in model.state_dict().items()
    }


def _render_card(
    config: Mapping[str, Any],
    task: Task,
    results: Optional[Mapping[str, Any]],
    training_config: Optional[Mapping[str, Any]],
    repo_id: Optional[str],
) -> str:
    from .cards import render_model_card

    return render_model_card(
        task,
        architecture=config["architecture"],
        repo_id=repo_id,
        results=results,
        training_config=training_config,
    )


def _replace_dir(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, replacing an existing ``dst`` with no moment of a half-written folder."""
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


def missing_export_files(folder: Union[str, Path]) -> list[str]:
    """The files of :data:`EXPORT_FILES` that ``folder`` lacks (empty for a complete export)."""
    return [name for name in EXPORT_FILES if not (Path(folder) / name).is_file()]


def read_export_config(folder: Union[str, Path]) -> dict[str, Any]:
    """Read an export folder's ``config.json``, checking the folder is complete."""
    missing = missing_export_files(folder)
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a complete FAER export folder: missing {', '.join(missing)}. "
            "Create one with faer_hub.hub.save_export(), `faer-hub convert`, or training/train.py."
        )
    return json.loads((Path(folder) / "config.json").read_text())
