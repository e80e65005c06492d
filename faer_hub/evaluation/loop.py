"""Evaluate a model (classifier or valence/arousal regressor) on a dataloader, on one or many processes.

:func:`evaluate_model` runs the model under Accelerate, gathers predictions from every process
with ``accelerator.gather_for_metrics`` (which drops the samples Accelerate repeats to even out
the last batch, so each sample counts exactly once), and computes the task's packaged
``evaluate`` metric (:mod:`faer_hub.evaluation.metrics`). Training, ``faer-hub evaluate`` and tests share it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional, Union

import torch
from accelerate import Accelerator
from torch import nn

from ..data.transforms import BatchNormalizer, resolve_data_config
from ..processes import cpu_processes
from ..tasks import Task, get_task
from .metrics import load_metric

__all__ = ["evaluate_model", "split_batch"]

_IMAGE_KEYS = ("pixel_values", "image", "images", "input")
_TARGET_KEYS = ("label", "labels", "attributes", "target", "targets")


def split_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(images, targets)`` from a ``(images, targets, ...)`` tuple or a dict batch
    (``pixel_values``/``image`` and ``label``/``labels``/``attributes``)."""
    if isinstance(batch, Mapping):
        image_key = next((k for k in _IMAGE_KEYS if k in batch), None)
        target_key = next((k for k in _TARGET_KEYS if k in batch), None)
        if image_key is None or target_key is None:
            raise KeyError(
                f"batch keys {sorted(batch)} lack an image key ({', '.join(_IMAGE_KEYS)}) "
                f"or a target key ({', '.join(_TARGET_KEYS)})"
            )
        return batch[image_key], batch[target_key]
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(f"cannot read images and targets from a batch of type {type(batch).__name__}")


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    dataloader: Iterable,
    task: Union[Task, str],
    accelerator: Optional[Accelerator] = None,
    *,
    channels_last: bool = False,
    return_predictions: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """Metrics of ``model`` on every sample of ``dataloader``, identical on all processes.

    Args:
        model: A model returning the task's ``num_classes`` outputs (logits, or valence/arousal values).
        dataloader: Yields ``(images, targets)`` or dict batches (see :func:`split_batch`); uint8
            images are normalised on the device with the model's own mean/std.
        task: The task (or its name): chooses the metric and the label names.
        accelerator: The caller's Accelerator, with ``model`` and ``dataloader`` already
            prepared by it. ``None``: a fresh ``Accelerator()`` prepares both here.
        channels_last: Feed images in channels-last memory format.
        return_predictions: Also return ``predictions`` and ``references`` (lists, in
            dataloader order) for inspection.
        progress: Show a progress bar on the main process.

    Returns:
        JSON-serialisable metrics: FER ``accuracy``, ``balanced_accuracy``, ``macro_f1``,
        ``class_accuracy`` (by label name), ``confusion_matrix``; FAE ``mean_accuracy``,
        ``class_accuracy`` (by attribute name); all ``num_samples``, ``label_names``, ``task``.
        Classification metrics are fractions in [0, 1], as the model cards expect. Valence/arousal:
        ``ccc``, ``pcc``, ``rmse``, ``sagr`` (means over the two) and ``<metric>_valence`` /
        ``<metric>_arousal`` (:mod:`faer_hub.evaluation.metrics` ``va_regression``).
    """
    task = get_task(task) if isinstance(task, str) else task
    normalize = BatchNormalizer(resolve_data_config(model))
    if accelerator is None:
        accelerator = Accelerator(cpu=cpu_processes())
        model = accelerator.prepare_model(model, evaluation_mode=True)
        if accelerator.num_processes > 1:  # one process: iterate the loader as it is
            dataloader = accelerator.prepare_data_loader(dataloader)
    was_training = model.training
    model.eval()
    preds, refs = [], []
    batches = dataloader
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(dataloader, desc="eval", disable=not accelerator.is_local_main_process, leave=False)
    try:
        for batch in batches:
            images, targets = split_batch(batch)
            images = normalize(images.to(accelerator.device, non_blocking=True), channels_last=channels_last)
            targets = targets.to(accelerator.device, non_blocking=True)
            with accelerator.autocast():
                logits = model(images)
            if logits.shape[-1] != task.num_classes:
                raise ValueError(f"model gives {logits.shape[-1]} outputs; task {task.name!r} has {task.num_classes}")
            batch_preds, batch_refs = accelerator.gather_for_metrics(
                (task.predictions(logits.float()), task.references(targets))
            )
            preds.append(batch_preds.cpu())
            refs.append(batch_refs.cpu())
    finally:
        model.train(was_training)
    if not preds:
        raise ValueError("the evaluation dataloader yielded no batch")
    predictions = torch.cat(preds)
    references = torch.cat(refs)
    with accelerator.main_process_first():
        metric = load_metric(task.spec.metric)
    result = metric.compute(
        predictions=predictions.tolist(), references=references.tolist(), label_names=list(task.label_names)
    )
    result["task"] = task.name
    if return_predictions:
        result["predictions"] = predictions.tolist()
        result["references"] = references.tolist()
    return result
