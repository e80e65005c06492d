"""Hub-ready export folders: ``config.json`` + ``model.safetensors`` + model card ``README.md``.

Every FAER export has this one format, whether it comes from training, from converting the
authors' checkpoint (``faer-hub convert``) or from :func:`save_export` directly. It loads with
``timm.create_model('local-dir:<folder>', pretrained=True)``, with ``'hf-hub:<org>/<repo>'`` once
pushed (as in timm, without ``pretrained=True`` these give the architecture only), and with
transformers' ``AutoModelForImageClassification`` (timm wrapper) after ``import faer_hub``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
from safetensors.torch import save_file
from timm.models._hub import save_config_for_hf

from ..io import atomic_dir, naming_write_failures
from ..models.faer import export_config_path
from ..tasks import TASKS, Task, get_task, label_name_problems
from .cards import TRAINING_DATA_KEY, RunFacts

EXPORT_FILES = ("config.json", "model.safetensors", "README.md")


def is_export(folder: Path) -> bool:
    """Whether ``folder``'s ``config.json`` is one :func:`save_export` wrote (it names a FAER task),
    so that ``overwrite`` replaces only faer_hub's exports, never a folder of the same file names."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and "faer_task" in config


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
    run: Optional[RunFacts] = None,
    repo_id: Optional[str] = None,
    overwrite: bool = False,
) -> Path:
    """Write ``model`` as a Hub-ready folder and return its path.

    Args:
        model: A FAER (or any timm) model.
        folder: Destination: absent or empty, or an earlier export (only :data:`EXPORT_FILES`)
            with ``overwrite``; anything else raises :class:`faer_hub.io.DestinationError`. Never
            left half-written: an earlier export is replaced once the new one is complete.
        task: The task the model was trained for (name or :class:`Task`); inferred from the
            model's pretrained config when omitted.
        results: Measured metrics to put in the card (``None``: the card says none were measured).
        run: The facts of the training run that made these weights
            (:class:`faer_hub.hub.cards.RunFacts`: recipe file, overrides, resolved config, data);
            the card describes that run and ``config.json`` records the licence that follows from
            it. ``None`` (``faer-hub export``, ``convert``): the card says the recipe is unknown.
        repo_id: The Hub repo the folder is meant for, used in the card's usage lines.
        overwrite: Replace an earlier export in ``folder``.
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
    with atomic_dir(folder, own_files=EXPORT_FILES, overwrite=overwrite, what="an export", recognise=is_export) as tmp:
        face_crop = face_crop_config(model, task)
        model_config = dict(
            label_names=list(task.label_names),
            problem_type=task.problem_type,
            faer_task=task.name,
        )
        with naming_write_failures(folder / "model.safetensors"):  # the largest file: where a disk fills up
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
        _record_training_facts(config, task, run, model_export_config(model))
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        card = _render_card(config, task, results, run, repo_id)
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


def _record_training_facts(config: dict[str, Any], task: Task, run: Optional[RunFacts],
                           source: Optional[Mapping[str, Any]]) -> None:
    """Write the weights' licence and training data into ``config``: from the run's facts, else
    kept from the export the model was loaded from (re-exporting the demo keeps its MIT licence and
    its "generated" notice), else the dataset's terms. The licence is timm's
    ``pretrained_cfg.license`` with ``license_name``/``license_link`` top-level (timm's config has no
    such fields); the card reads the same values, so both tell one story."""
    from .cards import Licence, weights_licence

    for key in ("license_name", "license_link", TRAINING_DATA_KEY):
        config.pop(key, None)
    source = source or {}
    source_licence = (source.get("pretrained_cfg") or {}).get("license")
    if run is None and source.get(TRAINING_DATA_KEY) and source_licence and source.get("faer_task") == task.name:
        licence = Licence(source_licence, source.get("license_name"), source.get("license_link"))
        config[TRAINING_DATA_KEY] = source[TRAINING_DATA_KEY]
    else:
        licence = weights_licence(task, run)
        if run is not None:
            config[TRAINING_DATA_KEY] = "generated" if run.generated_data else task.dataset
    config.setdefault("pretrained_cfg", {})["license"] = licence.id
    if licence.name:
        config["license_name"] = licence.name
    if licence.link:
        config["license_link"] = licence.link


def _render_card(
    config: Mapping[str, Any],
    task: Task,
    results: Optional[Mapping[str, Any]],
    run: Optional[RunFacts],
    repo_id: Optional[str],
) -> str:
    from .cards import render_model_card

    return render_model_card(task, repo_id=repo_id, results=results, export_config=config, run=run)


def missing_export_files(folder: Union[str, Path]) -> list[str]:
    """The files of :data:`EXPORT_FILES` that ``folder`` lacks (empty for a complete export)."""
    return [name for name in EXPORT_FILES if not (Path(folder) / name).is_file()]


class ExportError(ValueError):
    """An export folder that cannot be used as it is (the message names the file and the problem)."""


def export_label_names(config: Mapping[str, Any]) -> Optional[list[str]]:
    """The label names an export's ``config.json`` records (top level, else in its pretrained_cfg)."""
    labels = config.get("label_names") or (config.get("pretrained_cfg") or {}).get("label_names")
    return None if labels is None else list(labels)


def model_export_config(model: torch.nn.Module) -> Optional[dict[str, Any]]:
    """The ``config.json`` of the export folder or Hub repo ``model`` was loaded from
    (``local-dir:``/export folder, or ``hf-hub:`` read from the local cache), else None."""
    path = export_config_path(getattr(model, "pretrained_cfg", None) or {})
    if path is None:
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return config if isinstance(config, dict) else None


def export_problems(folder: Union[str, Path]) -> tuple[Optional[dict[str, Any]], list[str]]:
    """``(config, problems)`` of an export folder: ``config.json`` parsed (None when it cannot be),
    and what is wrong with the config and the weights, each naming its file. Empty when usable.

    The weights are compared tensor by tensor with the model the config builds (built on the
    ``meta`` device, so an impossible size in the config costs no memory)."""
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
    problems = _preprocessing_problems(config_file, config)
    if not isinstance(config.get("pretrained_cfg", {}), dict):
        return config, problems  # the checks below read it
    if not config.get("architecture"):
        problems.append(f"{config_file} has no 'architecture'")
    labels = export_label_names(config)
    n = config.get("num_classes")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        problems.append(f"{config_file}: num_classes = {n!r}, expected a positive integer")
    problems += label_name_problems(labels, n, str(config_file))
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
    if not problems:
        problems += _shape_problems(folder, config, shapes)
    return config, problems


INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "box", "hamming", "lanczos")
"""The resize modes timm's transforms know (``pretrained_cfg["interpolation"]``)."""


def _preprocessing_problems(config_file: Path, config: Mapping[str, Any]) -> list[str]:
    """What in ``config.json``'s ``pretrained_cfg`` and ``face_crop`` no transform could use, each
    naming the file and the value (checked before anything loads it)."""
    from ..faces.align import resolve_protocol

    cfg = config.get("pretrained_cfg", {})
    if not isinstance(cfg, dict):
        return [f"{config_file}: pretrained_cfg = {cfg!r}, expected a JSON object"]
    problems = []

    def numbers(value: Any, count: int) -> bool:
        return (isinstance(value, list) and len(value) == count
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))

    size = cfg.get("input_size", [3, 224, 224])
    if not (numbers(size, 3) and all(isinstance(v, int) and v >= 1 for v in size) and size[0] == 3):
        problems.append(f"{config_file}: pretrained_cfg.input_size = {size!r}, expected [3, height, width] "
                        "with positive whole numbers")
    for key in ("mean", "std"):
        value = cfg.get(key, [0.5, 0.5, 0.5])
        if not numbers(value, 3) or (key == "std" and min(value) <= 0):
            problems.append(f"{config_file}: pretrained_cfg.{key} = {value!r}, expected three numbers"
                            + (" above 0" if key == "std" else ""))
    interpolation = cfg.get("interpolation", "bilinear")
    if interpolation not in INTERPOLATIONS:
        problems.append(f"{config_file}: pretrained_cfg.interpolation = {interpolation!r}, expected one of "
                        + ", ".join(INTERPOLATIONS))
    for where, crop in (("face_crop", config.get("face_crop")), ("pretrained_cfg.face_crop", cfg.get("face_crop"))):
        try:
            resolve_protocol(crop)
        except (TypeError, ValueError, KeyError) as err:
            problems.append(f"{config_file}: {where} = {crop!r} is not a face crop ({err})")
    return problems


def _shape_problems(folder: Path, config: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]) -> list[str]:
    """Differences between the tensors of ``model.safetensors`` and those of the model that
    ``config.json`` builds (on the meta device: no memory is allocated, whatever the sizes)."""
    import timm

    config_file, weights_file = folder / "config.json", folder / "model.safetensors"
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in
                        timm.create_model(f"local-dir:{folder}", pretrained=False).state_dict().items()}
    except Exception as err:  # noqa: BLE001  (any config timm cannot build from is the config's problem)
        from ..errors import one_line

        return [f"{config_file}: cannot build {config.get('architecture')!r} from it "
                f"({type(err).__name__}: {one_line(err, first_line=True, limit=200)})"]
    problems = []
    for name in sorted(expected.keys() & shapes.keys()):
        if expected[name] != shapes[name]:
            problems.append(f"{weights_file}: {name} has shape {list(shapes[name])} but {config_file} builds "
                            f"{list(expected[name])}")
    missing, unexpected = sorted(expected.keys() - shapes.keys()), sorted(shapes.keys() - expected.keys())
    if missing:
        problems.append(f"{weights_file} lacks {len(missing)} tensor(s) of the model ({', '.join(missing[:3])}...)")
    if unexpected:
        problems.append(f"{weights_file} holds {len(unexpected)} tensor(s) the model does not have "
                        f"({', '.join(unexpected[:3])}...)")
    return problems[:3]


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
