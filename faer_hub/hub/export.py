"""Hub-ready export folders: ``config.json`` + ``model.safetensors`` + model card ``README.md``.

Every FAER export has this one format, whether it comes from training, from converting the
authors' checkpoint (``faer-hub convert``) or from :func:`save_export` directly. It loads with
``timm.create_model('local-dir:<folder>', pretrained=True)``, with ``'hf-hub:<org>/<repo>'`` once
pushed (as in timm, without ``pretrained=True`` these give the architecture only), and with
transformers' ``AutoModelForImageClassification`` (timm wrapper) after ``import faer_hub``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
from safetensors.torch import save_file
from timm.models._hub import save_config_for_hf

from ..io import atomic_dir
from ..tasks import TASKS, Task, get_task

EXPORT_FILES = ("config.json", "model.safetensors", "README.md")


def face_crop_config(model: torch.nn.Module, task: Optional[Task] = None) -> Any:
    """The face-crop protocol to record for ``model`` (:func:`faer_hub.faces.align.face_crop_setting`)."""
    from ..faces.align import face_crop_setting

    return face_crop_setting((getattr(model, "pretrained_cfg", {}) or {}).get("face_crop"), task)


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
    task = get_task(task) if isinstance(task, str) else (task or Task.from_model(model))
    if task is None:
        raise ValueError(
            "cannot tell which task this model was trained for; pass task= one of " + ", ".join(TASKS)
        )
    if getattr(model, "num_classes", task.num_classes) != task.num_classes:
        raise ValueError(
            f"model has {model.num_classes} outputs but task {task.name!r} has {task.num_classes} labels"
        )
    folder = Path(folder)
    with atomic_dir(folder) as tmp:
        face_crop = face_crop_config(model, task)
        model_config = dict(
            label_names=list(task.label_names),
            problem_type=task.problem_type,
            faer_task=task.name,
        )
        save_file(export_state_dict(model), tmp / "model.safetensors", metadata={"format": "pt"})
        save_config_for_hf(model, tmp / "config.json", model_config=model_config)
        config = json.loads((tmp / "config.json").read_text())
        # timm's PretrainedCfg has no face_crop field (loading would refuse it): top level instead
        config.get("pretrained_cfg", {}).pop("face_crop", None)
        if face_crop is not None:
            config["face_crop"] = face_crop
        # num_classes is already top-level; transformers' timm wrapper passes it again next to
        # model_args, which fails with "got multiple values for keyword argument 'num_classes'"
        config.get("model_args", {}).pop("num_classes", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        card = _render_card(config, task, results, training_config, repo_id)
        (tmp / "README.md").write_text(card, encoding="utf-8")
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


def missing_export_files(folder: Union[str, Path]) -> list[str]:
    """The files of :data:`EXPORT_FILES` that ``folder`` lacks (empty for a complete export)."""
    return [name for name in EXPORT_FILES if not (Path(folder) / name).is_file()]


class ExportError(ValueError):
    """An export folder that cannot be used as it is (the message names the file and the problem)."""


def export_label_names(config: Mapping[str, Any]) -> Optional[list[str]]:
    """The label names an export's ``config.json`` records (top level, else in its pretrained_cfg)."""
    labels = config.get("label_names") or (config.get("pretrained_cfg") or {}).get("label_names")
    return None if labels is None else list(labels)


def export_problems(folder: Union[str, Path]) -> tuple[Optional[dict[str, Any]], list[str]]:
    """``(config, problems)`` of an export folder: ``config.json`` parsed (None when it cannot be),
    and what is wrong with the config and the weights, each naming its file. Empty when usable."""
    from safetensors import SafetensorError, safe_open

    folder = Path(folder)
    config_file, weights_file = folder / "config.json", folder / "model.safetensors"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return None, [f"{config_file} is not valid JSON ({err})"]
    except UnicodeDecodeError:
        return None, [f"{config_file} is not a JSON text file"]
    if not isinstance(config, dict):
        return None, [f"{config_file} must hold a JSON object"]
    problems = []
    if not config.get("architecture"):
        problems.append(f"{config_file} has no 'architecture'")
    labels = export_label_names(config)
    n = config.get("num_classes")
    if not isinstance(n, int) or n < 1:
        problems.append(f"{config_file}: num_classes = {n!r}, expected a positive integer")
    elif labels is not None and len(labels) != n:
        problems.append(f"{config_file}: {len(labels)} label_names but num_classes = {n}")
    try:
        with safe_open(str(weights_file), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        return config, problems + [f"{weights_file} cannot be read ({err}); it may be truncated"]
    if not shapes:
        return config, problems + [f"{weights_file} holds no tensors"]
    classifier = (config.get("pretrained_cfg") or {}).get("classifier", "head.fc")
    weight = shapes.get(f"{classifier}.weight")
    if weight is not None and isinstance(n, int) and weight[0] != n:
        problems.append(f"{weights_file}: {classifier}.weight has {weight[0]} outputs but config num_classes = {n}")
    return config, problems


def read_export_config(folder: Union[str, Path]) -> dict[str, Any]:
    """Read an export folder's ``config.json``, checking that the folder is complete and that its
    config and weights agree (:class:`ExportError` naming the file otherwise)."""
    missing = missing_export_files(folder)
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a complete FAER export folder: missing {', '.join(missing)}. "
            "Create one with faer_hub.hub.export.save_export(), `faer-hub convert`, or training/train.py."
        )
    config, problems = export_problems(folder)
    if problems:
        raise ExportError("; ".join(problems) + ". Re-export the folder (`faer-hub export`, training/train.py) "
                          "or download it again.")
    return config
