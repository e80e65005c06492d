"""The one DataLoader over a dataset split: uint8 batches at the model's input size.

Training, its validation and test passes, ``faer-hub evaluate`` and the loader benchmark all
read images through :func:`build_dataloader`. Each image is decoded by
:func:`faer_hub.io.read_image` (the decoder of ``faer-hub predict``), optionally prepared (a
face crop), optionally flipped and jittered (:class:`RandomSimilarity`), and resized to the input size by the uint8 form of
:func:`faer_hub.data.transforms.build_transform`. Consumers normalise the batches on their
device with :class:`faer_hub.data.transforms.BatchNormalizer` (a quarter of the float32 bytes
cross the bus); :func:`faer_hub.evaluation.loop.evaluate_model` and ``training/train.py`` do.

Batches are ``{"pixel_values": uint8 [B, 3, H, W], "labels": long [B]}`` for expression datasets
(``label`` column), ``float [B, 40]`` 0/1 for CelebA (``attributes``) or ``float [B, 2]`` for
AffectNet's valence/arousal config (``valence`` and ``arousal``). Each batch is fetched from the
Arrow table in one call.

The order is the sampler's: sequential by default (evaluation). Training passes the resumable
:class:`faer_hub.training.data.EpochSampler`, whose ``(index, seed)`` pairs seed each example's
random flip, so the flips depend on the seed and the position only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms import functional as F

from ..io import read_image
from .transforms import ImageTransform, Target, build_transform, read_target, target_column, target_columns

__all__ = ["RandomSimilarity", "SplitImages", "build_dataloader", "class_balanced_weights", "collate"]

Item = int | tuple[int, int]
"""An index, or an ``(index, seed)`` pair whose seed draws the example's random flip and jitter."""


@dataclass(frozen=True)
class RandomSimilarity:
    """A random similarity jitter of a face crop: the spread of a face aligner's error.

    Each example is rotated by up to ``degrees``, scaled by up to ``1 ± scale`` and shifted by up
    to ``translate`` of its width and height, all drawn uniformly (torchvision's ``RandomAffine``
    parameters, without shear), about the crop's centre; uncovered corners are black. A detector's
    landmarks are a few percent of the eye distance off an annotator's, so a model that only saw
    crops cut at annotated points meets slightly other crops on photos; this teaches it those.
    Not in the paper's recipe (Xu et al. 2024, Sec. 3.2: a random horizontal flip only); all zero: off.
    """

    degrees: float = 0.0
    translate: float = 0.0
    scale: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.degrees or self.translate or self.scale)

    def __call__(self, image: Image.Image, generator: torch.Generator) -> Image.Image:
        """``image`` jittered by parameters drawn from ``generator``."""
        angle, shift_x, shift_y, scale = (2 * torch.rand(4, generator=generator) - 1).tolist()
        width, height = image.size
        return F.affine(image, angle=angle * self.degrees,
                        translate=[round(shift_x * self.translate * width), round(shift_y * self.translate * height)],
                        scale=1.0 + scale * self.scale, shear=[0.0, 0.0],
                        interpolation=F.InterpolationMode.BILINEAR)


class SplitImages(Dataset):
    """``dataset[item]`` -> ``{"pixel_values": uint8 [3, H, W], "labels": target}``.

    ``item``: an index, or an ``(index, seed)`` pair; with ``hflip > 0`` or a ``jitter`` the
    pair's seed decides the horizontal flip (probability ``hflip``) and then the
    :class:`RandomSimilarity` jitter, without touching the global RNGs, and a plain index is
    refused. ``prepare`` runs on each decoded image before them (e.g. a
    :class:`faer_hub.faces.FaceCropper`).
    """

    def __init__(self, split: Any, transform: ImageTransform, *, hflip: float = 0.0,
                 jitter: RandomSimilarity | None = None,
                 prepare: Callable[[Image.Image], Image.Image] | None = None) -> None:
        self.target: Target = target_column(split.features)
        self.split = split.select_columns(["image", *target_columns(self.target)])
        self.transform = transform
        self.hflip = hflip
        self.jitter = jitter or None
        self.prepare = prepare

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, item: Item) -> dict[str, Any]:
        return self.__getitems__([item])[0]

    def __getitems__(self, items: Sequence[Item]) -> list[dict[str, Any]]:
        """A batch of examples fetched with one Arrow call (the DataLoader's batched fetch)."""
        pairs = [item if isinstance(item, tuple) else (item, None) for item in items]
        rows = self.split[[int(index) for index, _ in pairs]]
        targets = read_target(rows, self.target)
        return [{"pixel_values": self._pixels(image, seed), "labels": label}
                for image, (_, seed), label in zip(rows["image"], pairs, targets)]

    def _pixels(self, image: Any, seed: int | None) -> torch.Tensor:
        image = read_image(image)
        if self.prepare is not None:
            image = self.prepare(image)
        if self.hflip > 0 or self.jitter:
            if seed is None:
                raise ValueError("a random flip or jitter needs (index, seed) items from the sampler")
            generator = torch.Generator().manual_seed(seed)
            # RandomHorizontalFlip's draw under the example's own seed, then the jitter's
            if self.hflip > 0 and torch.rand(1, generator=generator) < self.hflip:
                image = F.hflip(image)
            if self.jitter:
                image = self.jitter(image, generator)
        return self.transform(image)


def collate(examples: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """Stack examples into ``{"pixel_values", "labels"}`` tensors: integer labels become ``long``
    ``[B]``; attribute vectors ``float [B, 40]``, valence/arousal ``float [B, 2]``."""
    pixels = torch.stack([example["pixel_values"] for example in examples])
    labels = torch.as_tensor(np.asarray([example["labels"] for example in examples]))
    return {"pixel_values": pixels, "labels": labels.long() if labels.ndim == 1 else labels.float()}


def class_balanced_weights(split: Any) -> torch.Tensor:
    """Per-example sampling weight 1 / (count of its class), as papers sample AffectNet.

    Needs single-label classes (a ``label`` ClassLabel column): CelebA is multi-label and
    AffectNet's valence/arousal config has no classes.
    """
    if target_column(split.features) != "label":
        raise ValueError("balanced sampling needs single-label classes (a 'label' column); CelebA is "
                         "multi-label and AffectNet valence/arousal has no classes")
    labels = torch.as_tensor(np.asarray(split.with_format("numpy")["label"]), dtype=torch.long)
    counts = torch.bincount(labels, minlength=split.features["label"].num_classes).clamp_min(1)
    return (1.0 / counts.to(torch.float64))[labels]


def build_dataloader(
    split: Any,
    data_config: Mapping[str, Any],
    *,
    batch_size: int,
    sampler: Sampler | None = None,
    hflip: float = 0.0,
    jitter: RandomSimilarity | None = None,
    drop_last: bool = False,
    prepare: Callable[[Image.Image], Image.Image] | None = None,
    num_workers: int = 0,
) -> DataLoader:
    """DataLoader of :func:`collate` batches (uint8 pixels) over one split of
    :func:`faer_hub.data.load_dataset`, resized to ``data_config``'s input size.

    ``sampler``: the order (default: sequential, for evaluation); it may yield ``(index, seed)``
    pairs, which ``hflip > 0`` (random horizontal flip probability) and a ``jitter`` require.
    ``prepare`` runs on each decoded image. Batches are in pinned memory when a GPU is there; workers persist
    across passes (validation runs every epoch).
    """
    if (hflip > 0 or jitter) and sampler is None:
        raise ValueError("hflip and jitter need a sampler yielding (index, seed) pairs, e.g. training's EpochSampler")
    resize = build_transform(data_config, normalize=False)
    return DataLoader(
        SplitImages(split, resize, hflip=hflip, jitter=jitter, prepare=prepare),
        batch_size=batch_size,
        sampler=sampler,
        shuffle=False,
        collate_fn=collate,
        drop_last=drop_last,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
    )
