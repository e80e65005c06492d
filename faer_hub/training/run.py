"""Pieces of a training run that are not the loop: batch arithmetic, data, resume config,
trackers, EMA, and the results that go into the model card."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import datasets
from timm.utils import ModelEmaV3
from torch import nn

from ..tasks import Task
from .config import Config, ConfigError, TrainConfig, config_to_dict, load_config

__all__ = [
    "RESUME_MAY_CHANGE", "card_results", "selection_metric", "gradient_accumulation_steps", "load_splits", "make_ema",
    "resolve_resume_config", "tracker_names",
]

logger = logging.getLogger(__name__)

RESUME_MAY_CHANGE = (
    "data.data_dir", "data.cache_dir", "data.num_workers", "train.eval_batch_size", "train.log_every_steps",
    "train.per_device_batch_size", "train.mixed_precision", "train.dist_timeout_minutes", "model.compile",
    "checkpoint.every_steps", "checkpoint.every_epochs", "checkpoint.keep_last", "tracking.report_to",
    "tracking.project_name", "eval.every_epochs", "data.cache_per_node", "data.cache_wait_minutes",
)
"""Keys a resumed run may change. None alters the recipe: the global batch stays, so the batch
may be split differently over processes (at an epoch boundary; see :mod:`.checkpoint`), and
precision and compilation follow the machine the run continues on."""


def gradient_accumulation_steps(train: TrainConfig, num_processes: int) -> int:
    """``global_batch_size / (per_device_batch_size x num_processes)``, which must be a whole number."""
    per_step = train.per_device_batch_size * num_processes
    if train.global_batch_size % per_step:
        options = [
            f"per_device_batch_size={b} (accumulation {train.global_batch_size // (b * num_processes)})"
            for b in range(1, train.global_batch_size + 1)
            if train.global_batch_size % (b * num_processes) == 0
        ][-3:]
        raise ConfigError(
            f"train.global_batch_size {train.global_batch_size} is not train.per_device_batch_size "
            f"{train.per_device_batch_size} x {num_processes} process(es) x a whole gradient accumulation; "
            f"with {num_processes} process(es) use e.g. " + ", ".join(options)
        )
    return train.global_batch_size // per_step


def selection_metric(config: Config, task: Task) -> str:
    """The validation metric that picks the best epoch (checked against what the task reports)."""
    valid = task.spec.select_metrics
    name = config.eval.select_metric or valid[0]
    if name not in valid:
        raise ConfigError(f"config key 'eval.select_metric' must be one of {', '.join(valid)} for task "
                          f"{task.name!r}, got {name!r}")
    return name


def resolve_resume_config(saved: Path, config_path: Optional[Path], overrides: Sequence[str]) -> Config:
    """The config of a resumed run: the saved ``config.yaml`` (plus ``--set`` overrides).

    A ``--config`` given on resume must resolve to the same values except :data:`RESUME_MAY_CHANGE`.
    """
    if not saved.is_file():
        raise ConfigError(f"--resume: {saved} not found; nothing to resume in that folder")
    resumed = load_config(saved, overrides)
    if config_path is not None:
        requested = config_to_dict(load_config(config_path, overrides))
        current = config_to_dict(resumed)
        changed = [k for k in _diff(current, requested) if k not in RESUME_MAY_CHANGE]
        if changed:
            raise ConfigError(
                f"--resume: {config_path} differs from the run's {saved} in {', '.join(changed)}; a resumed run "
                f"must keep its recipe (only {', '.join(RESUME_MAY_CHANGE)} may change). Drop --config to reuse "
                "the saved one, or start a new run in another --output-dir."
            )
    changed = [k for k in _diff(config_to_dict(load_config(saved)), config_to_dict(resumed)) if k not in RESUME_MAY_CHANGE]
    if changed:
        raise ConfigError(f"--resume: --set may not change {', '.join(changed)} of a run in progress")
    return resumed


def _diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys = []
    for k in a:
        if isinstance(a[k], Mapping):
            keys += _diff(a[k], b[k], f"{prefix}{k}.")
        elif a[k] != b[k]:
            keys.append(f"{prefix}{k}")
    return keys


def load_splits(config: Config, task: Task, output_dir: Path) -> datasets.DatasetDict:
    """train / validation / test of the task; generated RAF-DB-format faces when ``data.synthetic``.

    Synthetic data goes to ``data.data_dir`` (or ``<output-dir>/data/<dataset>``) when that folder is
    absent or empty, and is reused when present.
    """
    from ..data import load_task_dataset

    data_dir = Path(config.data.data_dir) if config.data.data_dir else None
    cache_dir = config.data.cache_dir
    if config.data.synthetic:
        if data_dir is None:
            data_dir = output_dir / "data" / task.dataset
        if not data_dir.exists() or not any(data_dir.iterdir()):
            from ..data.synthetic.write import write_synthetic

            logger.info("generating %d + %d synthetic %s images in %s", config.data.synthetic_train,
                        config.data.synthetic_test, task.dataset, data_dir)
            write_synthetic(task.dataset, data_dir, num_train=config.data.synthetic_train,
                            num_test=config.data.synthetic_test, seed=config.seed)
        cache_dir = cache_dir or data_dir.parent / f".{data_dir.name}.hf_cache"
    elif data_dir is None:
        raise ConfigError(
            f"no dataset folder: pass --data-dir with the {task.dataset_title} download ({task.data.url}), "
            "or set data.synthetic: true for generated faces"
        )
    return load_task_dataset(task.name, data_dir, validation_size=config.data.validation_size,
                             seed=config.seed, cache_dir=cache_dir, skip_bad_rows=config.data.skip_bad_rows,
                             crop_short_side=config.data.crop_short_side)


def tracker_names(report_to: str) -> Optional[list[str]]:
    """Accelerate ``log_with``: TensorBoard when asked for (or installed, with ``auto``)."""
    if report_to == "none":
        return None
    has_tb = any(importlib.util.find_spec(m) is not None for m in ("tensorboard", "tensorboardX"))
    if report_to == "tensorboard" and not has_tb:
        raise ConfigError("tracking.report_to is 'tensorboard' but TensorBoard is not installed (pip install tensorboard)")
    return ["tensorboard"] if has_tb else None


def make_ema(model: nn.Module, train: TrainConfig) -> Optional[ModelEmaV3]:
    """timm's ModelEmaV3 of ``model`` (on its device) when ``train.ema`` is on."""
    if not train.ema:
        return None
    return ModelEmaV3(model, decay=train.ema_decay, use_warmup=train.ema_warmup)


def card_results(metrics: Mapping[str, Any], *, split: str, synthetic: bool) -> dict[str, Any]:
    """Metrics of :func:`faer_hub.evaluation.loop.evaluate_model` in the model card's format."""
    results: dict[str, Any] = {
        k: v for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "num_samples"
    }
    results["num_samples"] = metrics.get("num_samples")
    results["split"] = split
    results["class_accuracy"] = {k: v for k, v in (metrics.get("class_accuracy") or {}).items() if v is not None}
    if synthetic:
        results["dataset"] = "synthetic"
        results["dataset_name"] = "generated faces in the dataset's format (faer_hub.data.synthetic.write), not real data"
    return results
