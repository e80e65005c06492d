"""Transforms, collation, class-balanced sampling and the DataLoader used by training and evaluation.

Transforms come from the model's pretrained config through timm's data helpers. The paper's
recipe: resize to the input size (no aspect-preserving crop), random horizontal flip when
training, ImageNet normalisation. More augmentation: pass ``augment`` (timm
``create_transform`` training kwargs such as ``scale``, ``color_jitter``, ``auto_augment``,
``re_prob``).

Batches are dicts: ``{"pixel_values": float [B, 3, H, W], "labels": long [B]}`` for expression
datasets (``label`` column), ``float [B, 40]`` 0/1 for CelebA (``attributes`` column) or
``float [B, 2]`` for AffectNet's valence/arousal config (``valence`` and ``arousal`` columns).

Speed: :func:`build_dataloader` fetches a whole batch per dataset call, resizes each image to
a uint8 tensor (timm's ``use_prefetcher`` form of the same transform) and normalises the
stacked batch in one vectorised step; the values equal the per-image float pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import timm.data
import torch
from PIL import Image
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, WeightedRandomSampler
from torchvision import transforms as T

from ..io import read_image

ImageTransform = Callable[[Image.Image], torch.Tensor]
DataConfigSource = nn.Module | Mapping[str, Any] | None


def resolve_data_config(source: DataConfigSource = None, *, image_size: int | None = None) -> dict[str, Any]:
    """timm data config (input_size, mean, std, interpolation, crop_pct) for a model or a config.

    ``source``: a timm model (its ``pretrained_cfg``), a data config / pretrained_cfg mapping,
    or ``None`` for timm's ImageNet defaults at 224 px. ``image_size`` overrides the input size.
    """
    if isinstance(source, nn.Module):
        config = timm.data.resolve_data_config({}, model=source)
    elif source is None:
        config = timm.data.resolve_data_config({})
    else:
        config = timm.data.resolve_data_config({}, pretrained_cfg=dict(source))
    if image_size is not None:
        config["input_size"] = (3, image_size, image_size)
    return config


def build_transform(data_config: Mapping[str, Any], *, training: bool,
                    augment: Mapping[str, Any] | None = None, crop_mode: str = "squash",
                    normalize: bool = True) -> ImageTransform:
    """PIL image -> normalised tensor, built with :func:`timm.data.create_transform`.

    Evaluation and the paper's training recipe resize to the input size (``crop_mode='squash'``;
    ``'center'`` keeps the aspect ratio and centre-crops); training adds a random horizontal
    flip. ``augment`` (training only) switches to timm's full training pipeline with those
    keyword arguments, e.g. ``dict(scale=(0.8, 1.0), color_jitter=0.2, re_prob=0.25)``.
    ``normalize=False`` returns uint8 tensors (timm's prefetcher form) for
    :func:`batch_transform` to normalise per batch; random erasing needs ``normalize=True``.
    """
    common = dict(
        input_size=data_config["input_size"],
        interpolation=data_config.get("interpolation", "bilinear"),
        mean=data_config["mean"],
        std=data_config["std"],
        use_prefetcher=not normalize,
    )
    if training and augment:
        return timm.data.create_transform(**common, is_training=True, **dict(augment))
    resize = timm.data.create_transform(**common, is_training=False, crop_pct=1.0, crop_mode=crop_mode)
    return T.Compose([T.RandomHorizontalFlip(0.5), resize]) if training else resize


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


def batch_transform(image_transform: ImageTransform, target: Target, *,
                    normalize_with: Mapping[str, Any] | None = None,
                    prepare: Callable[[Image.Image], Image.Image] | None = None) -> Callable[[dict], dict]:
    """A ``Dataset.with_transform`` function: decoded batch -> ``pixel_values`` and ``labels``.

    ``prepare`` runs on each image after :func:`faer_hub.io.read_image` decodes it.
    Without ``normalize_with`` it returns lists of the transform's tensors. With a data config
    (``mean``/``std``), ``image_transform`` must yield uint8 tensors (``normalize=False``); the
    batch is stacked and normalised at once, and ``labels`` becomes a tensor as in :func:`collate`.
    """
    def decode(image: Any) -> Image.Image:
        decoded = read_image(image)
        return prepare(decoded) if prepare is not None else decoded

    if normalize_with is None:
        def apply(batch: dict[str, list]) -> dict[str, Any]:
            return {
                "pixel_values": [image_transform(decode(image)) for image in batch["image"]],
                "labels": read_target(batch, target),
            }
        return apply

    normalize = BatchNormalizer(normalize_with)

    def apply_batched(batch: dict[str, list]) -> dict[str, Any]:
        pixels = torch.stack([image_transform(decode(image)) for image in batch["image"]])
        return {
            "pixel_values": normalize(pixels),
            "labels": _label_tensor(read_target(batch, target)),
        }
    return apply_batched


class BatchNormalizer:
    """uint8 image batches ``[B, 3, H, W]`` (timm's prefetcher form) -> float32 normalised with a
    data config's mean/std, on whichever device the batch is; float batches pass through.

    The training loop applies it on the GPU, after a non-blocking copy of the uint8 batch: a
    quarter of the bytes of float32 cross the bus. ``channels_last`` converts while still uint8.
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


def _label_tensor(labels: Any) -> torch.Tensor:
    tensor = torch.as_tensor(np.asarray(labels))
    return tensor.long() if tensor.ndim == 1 else tensor.float()


def collate(batch: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]]) -> dict[str, torch.Tensor]:
    """Stack examples into ``{"pixel_values", "labels"}`` tensors.

    Accepts a list of examples (ordinary DataLoader batching) or one dict of lists (a batch
    fetched in one call, as :func:`build_dataloader` does). Integer labels become ``long``
    ``[B]``; attribute vectors become ``float`` ``[B, 40]``, valence/arousal ``float`` ``[B, 2]``.
    """
    if isinstance(batch, Mapping):
        pixels, labels = batch["pixel_values"], batch["labels"]
    else:
        pixels = [example["pixel_values"] for example in batch]
        labels = [example["labels"] for example in batch]
    if not isinstance(pixels, torch.Tensor):
        pixels = torch.stack(list(pixels))
    if isinstance(labels, torch.Tensor):
        labels = labels.tolist()
    return {"pixel_values": pixels, "labels": _label_tensor(labels)}


def balanced_sampler(labels: Sequence[int] | np.ndarray | torch.Tensor, num_samples: int | None = None, *,
                     seed: int = 0, generator: torch.Generator | None = None) -> WeightedRandomSampler:
    """Class-balanced sampling with replacement: each example weighs 1 / (count of its class).

    ``num_samples`` defaults to ``len(labels)`` per epoch; ``generator`` (or one seeded with
    ``seed``) makes the draw reproducible.
    """
    labels_np = np.asarray(labels)
    if labels_np.ndim != 1 or len(labels_np) == 0:
        raise ValueError("balanced_sampler needs a non-empty 1-D sequence of class ids")
    _, inverse, counts = np.unique(labels_np, return_inverse=True, return_counts=True)
    weights = torch.as_tensor(1.0 / counts[inverse], dtype=torch.double)
    if generator is None:
        generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(weights, num_samples or len(labels_np), replacement=True, generator=generator)


def build_dataloader(dataset: Any, model_or_data_config: DataConfigSource = None, *, training: bool,
                     batch_size: int, num_workers: int = 0, balanced: bool = False, seed: int = 0,
                     image_size: int | None = None, augment: Mapping[str, Any] | None = None,
                     drop_last: bool = False, prepare: Callable[[Image.Image], Image.Image] | None = None) -> DataLoader:
    """DataLoader over one split of :func:`faer_hub.data.load_dataset` yielding :func:`collate` dicts.

    Transforms come from ``model_or_data_config`` (a timm model or a data config mapping;
    ``image_size`` overrides its input size). ``training`` shuffles (seeded by ``seed``) and
    flips; ``balanced`` replaces shuffling with :func:`balanced_sampler` (expression datasets
    only). Batches are fetched with one dataset call each (fast with Arrow), decoded and
    transformed lazily via ``with_transform``. ``prepare`` runs on each decoded image before the
    transform, e.g. a :class:`faer_hub.faces.FaceCropper` for datasets of raw photos.
    """
    target = target_column(dataset.features)
    data_config = resolve_data_config(model_or_data_config, image_size=image_size)
    batched = not (training and augment and augment.get("re_prob", 0) > 0)  # erasing needs floats
    transform = build_transform(data_config, training=training, augment=augment, normalize=not batched)
    fn = batch_transform(transform, target, normalize_with=data_config if batched else None, prepare=prepare)
    view = dataset.with_transform(fn, columns=["image", *target_columns(target)])
    generator = torch.Generator().manual_seed(seed)
    if balanced:
        if target != "label":
            raise ValueError("balanced sampling needs single-label classes (a 'label' column)")
        labels = np.asarray(dataset.with_format("numpy")["label"])
        sampler: Any = balanced_sampler(labels, generator=generator)
    elif training:
        sampler = RandomSampler(range(len(dataset)), generator=generator)
    else:
        sampler = SequentialSampler(range(len(dataset)))
    return DataLoader(
        view,
        sampler=BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last),
        batch_size=None,
        collate_fn=collate,
        num_workers=num_workers,
        generator=generator,
        persistent_workers=num_workers > 0,
    )
