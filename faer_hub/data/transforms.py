"""The model's image transform, dataset targets and the on-device batch normaliser.

Transforms come from the model's pretrained config through timm's data helpers. The paper's
recipe: resize to the input size (no aspect-preserving crop), ImageNet normalisation; the
random horizontal flip of training is drawn by :mod:`faer_hub.data.loader`, which turns a split
into uint8 batches. :class:`BatchNormalizer` normalises those batches on the consumer's device,
with the operations (and the values) of the per-image float transform that ``faer-hub predict``
applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import timm.data
import torch
from PIL import Image
from torch import nn

ImageTransform = Callable[[Image.Image], torch.Tensor]
DataConfigSource = nn.Module | Mapping[str, Any]


def resolve_data_config(source: DataConfigSource, *, image_size: int | None = None) -> dict[str, Any]:
    """timm data config (input_size, mean, std, interpolation, crop_pct) for a model or a config.

    ``source``: a timm model (its ``pretrained_cfg``) or a data config / pretrained_cfg mapping.
    ``image_size`` overrides the input size.
    """
    if isinstance(source, nn.Module):
        config = timm.data.resolve_data_config({}, model=source)
    else:
        config = timm.data.resolve_data_config({}, pretrained_cfg=dict(source))
    if image_size is not None:
        config["input_size"] = (3, image_size, image_size)
    return config


def build_transform(data_config: Mapping[str, Any], *, crop_mode: str | None = None,
                    normalize: bool = True) -> ImageTransform:
    """PIL image -> tensor at the input size, built with :func:`timm.data.create_transform`.

    Resizes to the input size (default :data:`faer_hub.models.faer.FACE_CROP_MODE`, ``'squash'``:
    the recipe's stretch, whatever the config says; ``'center'`` keeps the aspect ratio and
    centre-crops) and normalises; ``normalize=False`` returns uint8 tensors (timm's prefetcher
    form) for :class:`BatchNormalizer` to normalise per batch.
    """
    if crop_mode is None:
        from ..models.faer import FACE_CROP_MODE as crop_mode
    return timm.data.create_transform(
        input_size=data_config["input_size"],
        interpolation=data_config.get("interpolation", "bilinear"),
        mean=data_config["mean"],
        std=data_config["std"],
        use_prefetcher=not normalize,
        is_training=False,
        crop_pct=1.0,
        crop_mode=crop_mode,
    )


Target = str | tuple[str, ...]
"""One target column, or several stacked into one vector per example (valence, arousal)."""


def target_column(features: Mapping[str, Any]) -> Target:
    """``'label'`` (expression datasets), ``'attributes'`` (CelebA) or ``('valence', 'arousal')``
    (AffectNet's valence/arousal config, which has no ``label`` column)."""
    from ..tasks import AFFECTNET_VA_LABELS

    for name in ("label", "attributes"):
        if name in features:
            return name
    if all(name in features for name in AFFECTNET_VA_LABELS):
        return AFFECTNET_VA_LABELS
    raise KeyError(f"dataset has no 'label', 'attributes' or 'valence' + 'arousal' columns: {list(features)}")


def target_columns(target: Target) -> list[str]:
    """The dataset columns a target reads."""
    return [target] if isinstance(target, str) else list(target)


def read_target(row: Mapping[str, Any], target: Target) -> Any:
    """The target of one example (or of a batch fetched as a dict of lists): the column's value,
    or the columns stacked into a vector per example."""
    if isinstance(target, str):
        return row[target]
    return np.stack([np.asarray(row[name], dtype=np.float32) for name in target], axis=-1)


class BatchNormalizer:
    """uint8 image batches ``[B, 3, H, W]`` (timm's prefetcher form) -> float32 normalised with a
    data config's mean/std, on whichever device the batch is; float batches pass through.

    Every consumer of :func:`faer_hub.data.loader.build_dataloader` (the training loop,
    :func:`faer_hub.evaluation.loop.evaluate_model`) applies it on its device, after a
    non-blocking copy of the uint8 batch: a quarter of the bytes of float32 cross the bus.
    ``channels_last`` converts while still uint8.
    """

    def __init__(self, data_config: Mapping[str, Any]) -> None:
        self.mean = torch.tensor(data_config["mean"], dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(data_config["std"], dtype=torch.float32).view(1, -1, 1, 1)

    def __call__(self, images: torch.Tensor, *, channels_last: bool = False) -> torch.Tensor:
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if images.dtype != torch.uint8:
            return images
        if self.mean.device != images.device:
            self.mean, self.std = self.mean.to(images.device), self.std.to(images.device)
        # the operations of ToTensor + Normalize, in their order: bit-identical to the per-image path
        return images.float().div_(255).sub_(self.mean).div_(self.std)
