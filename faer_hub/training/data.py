"""Training data order and augmentation that depend only on (seed, epoch, position).

A resumed run must see exactly the batches, and exactly the random flips, that the
uninterrupted run saw. Two pieces make that hold regardless of worker processes, Accelerate's
batch prefetching, or how many batches are skipped on resume:

* :class:`EpochSampler` draws the epoch's order (a permutation, or class-balanced draws with
  replacement) from a generator seeded with ``(seed, epoch)``, and yields ``(index, aug_seed)``
  pairs whose augmentation seeds are drawn, all at once per epoch, from ``(seed, epoch)``: the
  seed of a sample depends on its position only.
* :class:`SeededAugmentDataset` applies the (random) transform of one sample under its own
  seed, restoring the global RNG states afterwards, so data loading never touches the RNG that
  dropout and drop-path use.

Batches leave the workers as uint8 ``[B, 3, H, W]`` (a quarter of the float32 bytes), in pinned
memory when a GPU is there; the training loop copies them without blocking and normalises them
on the device with :class:`faer_hub.data.transforms.BatchNormalizer`.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from PIL import Image
from torchvision import transforms as T

from ..io import read_image

__all__ = ["EpochSampler", "SeededAugmentDataset", "build_eval_loader", "build_train_loader", "class_balanced_weights", "derive_seed"]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed mixing ``keys`` (NumPy SeedSequence): stable across runs and platforms."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32).astype(np.uint64)
               .dot(np.array([1 << 31, 1], dtype=np.uint64)) & np.uint64((1 << 63) - 1))


def class_balanced_weights(labels: Sequence[int], num_classes: int) -> torch.Tensor:
    """Per-sample weight 1 / (count of its class), as papers sample AffectNet."""
    labels_t = torch.as_tensor(list(labels), dtype=torch.long)
    counts = torch.bincount(labels_t, minlength=num_classes).clamp_min(1).to(torch.float64)
    return (1.0 / counts)[labels_t]


class EpochSampler(Sampler):
    """Yields ``(index, aug_seed)``: the order of epoch ``e`` depends on ``(seed, e)`` only.

    Call :meth:`set_epoch` before iterating each epoch (also on resume). With ``weights``, draws
    ``len(weights)`` indices with replacement in proportion to them (class-balanced sampling).
    """

    def __init__(self, num_samples: int, *, seed: int, weights: Optional[torch.Tensor] = None) -> None:
        if num_samples <= 0:
            raise ValueError("cannot sample from an empty dataset")
        self.num_samples = num_samples
        self.seed = seed
        self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if self.weights is not None and len(self.weights) != num_samples:
            raise ValueError(f"{len(self.weights)} weights for {num_samples} samples")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[tuple[int, int]]:
        generator = torch.Generator().manual_seed(derive_seed(self.seed, self.epoch, 0))
        if self.weights is None:
            order = torch.randperm(self.num_samples, generator=generator)
        else:
            order = torch.multinomial(self.weights, self.num_samples, replacement=True, generator=generator)
        aug_seeds = np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, self.epoch, 1])))
        seeds = aug_seeds.integers(0, np.iinfo(np.int64).max, size=self.num_samples, dtype=np.int64)
        return zip(order.tolist(), seeds.tolist())


class SeededAugmentDataset(Dataset):
    """``dataset[index]`` -> ``{"pixel_values": transform(image), "labels": target}``, each random
    transform seeded per draw.

    ``dataset`` is a Hugging Face split with an ``image`` column and a ``label`` (FER),
    ``attributes`` (FAE) or ``valence`` + ``arousal`` column (``target_column``, see
    :func:`faer_hub.data.transforms.target_column`); ``__getitem__`` takes the ``(index, aug_seed)`` pairs of
    :class:`EpochSampler` (or a plain index, seeded by the index alone).
    """

    def __init__(self, dataset: Any, transform: Callable[[Any], torch.Tensor], target_column: Any) -> None:
        from ..data.transforms import read_target

        self.dataset = dataset
        self.transform = transform
        self.target_column = target_column
        self._read_target = read_target

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: Any) -> dict[str, Any]:
        index, aug_seed = item if isinstance(item, tuple) else (item, None)
        example = self.dataset[int(index)]
        image = example["image"]
        if isinstance(image, (Image.Image, dict, bytes)):
            image = read_image(image)  # the decoder of predict: same file, same pixels
        if aug_seed is None:  # a plain index (evaluation): the transform is deterministic
            return {"pixel_values": self.transform(image), "labels": self._read_target(example, self.target_column)}
        python_state = random.getstate()
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(aug_seed)
            random.seed(aug_seed)
            try:
                pixels = self.transform(image)
            finally:
                random.setstate(python_state)
        return {"pixel_values": pixels, "labels": self._read_target(example, self.target_column)}


def build_eval_loader(split: Any, data_config: Mapping[str, Any], *, batch_size: int, num_workers: int = 0) -> DataLoader:
    """A sequential DataLoader over one HF split with the data package's evaluation transform
    (resize to the model's input size) and ``{"pixel_values": uint8, "labels"}`` batches.

    Workers persist across passes (validation runs every epoch)."""
    from ..data.transforms import build_transform, collate, target_column, target_columns

    target = target_column(split.features)
    resize = build_transform(data_config, training=False, normalize=False)
    return DataLoader(
        SeededAugmentDataset(split.select_columns(["image", *target_columns(target)]), resize, target),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
    )


def build_train_loader(
    split: Any,
    data_config: Mapping[str, Any],
    *,
    batch_size: int,
    seed: int,
    hflip: float = 0.5,
    balanced: bool = False,
    num_workers: int = 0,
) -> tuple[DataLoader, EpochSampler]:
    """The training DataLoader (and its sampler, for ``set_epoch``) over one HF split.

    Images are resized to the model's input size (the data package's evaluation transform) after
    a random horizontal flip with probability ``hflip``; batches are the data package's
    ``{"pixel_values": uint8, "labels"}`` dicts, normalised on the device by the training loop.
    ``balanced``: class-balanced draws with replacement.
    """
    from ..data.transforms import build_transform, collate, target_column, target_columns

    target = target_column(split.features)
    resize = build_transform(data_config, training=False, normalize=False)
    transform = T.Compose([T.RandomHorizontalFlip(hflip), resize]) if hflip > 0 else resize
    weights = None
    if balanced:
        if target != "label":
            raise ValueError("data.balanced_sampling needs single-label classes (a label column); CelebA is "
                             "multi-label and AffectNet valence/arousal has no classes")
        labels = split.with_format("numpy")["label"]
        weights = class_balanced_weights(labels, split.features["label"].num_classes)
    sampler = EpochSampler(len(split), seed=seed, weights=weights)
    loader = DataLoader(
        SeededAugmentDataset(split.select_columns(["image", *target_columns(target)]), transform, target),
        batch_size=batch_size,
        sampler=sampler,
        collate_fn=collate,
        num_workers=num_workers,
        drop_last=len(split) >= batch_size,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
    )
    return loader, sampler
