"""Training data order and augmentation seeds that depend only on (seed, epoch, position).

A resumed run must see exactly the batches, and exactly the random flips, that the
uninterrupted run saw, regardless of worker processes, Accelerate's batch prefetching, or how
many batches are skipped on resume. :class:`EpochSampler` draws the epoch's order (a
permutation, or class-balanced draws with replacement) from a generator seeded with
``(seed, epoch)``, and yields ``(index, aug_seed)`` pairs whose augmentation seeds are drawn, all
at once per epoch, from ``(seed, epoch)``: the seed of a sample depends on its position only.

Everything else is the data package's one loader (:func:`faer_hub.data.loader.build_dataloader`),
which applies each pair's seed to that example's flip without touching the global RNGs that
dropout and drop-path use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from ..data.loader import RandomSimilarity, build_dataloader, class_balanced_weights

__all__ = ["EpochSampler", "build_train_loader", "cache_location", "derive_seed"]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed mixing ``keys`` (NumPy SeedSequence): stable across runs and platforms."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint32).astype(np.uint64)
               .dot(np.array([1 << 31, 1], dtype=np.uint64)) & np.uint64((1 << 63) - 1))


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


def build_train_loader(
    split: Any,
    data_config: Mapping[str, Any],
    *,
    batch_size: int,
    seed: int,
    hflip: float = 0.5,
    jitter: RandomSimilarity | None = None,
    balanced: bool = False,
    num_workers: int = 0,
) -> tuple[DataLoader, EpochSampler]:
    """The training DataLoader (and its sampler, for ``set_epoch``) over one HF split.

    :func:`faer_hub.data.loader.build_dataloader` in the order of an :class:`EpochSampler`, whose
    seeds draw each example's random horizontal flip (probability ``hflip``) and ``jitter``. ``balanced``:
    class-balanced draws with replacement (:func:`faer_hub.data.loader.class_balanced_weights`).
    """
    weights = class_balanced_weights(split) if balanced else None
    sampler = EpochSampler(len(split), seed=seed, weights=weights)
    loader = build_dataloader(split, data_config, batch_size=batch_size, sampler=sampler, hflip=hflip, jitter=jitter,
                              drop_last=len(split) >= batch_size, num_workers=num_workers)
    return loader, sampler


def cache_location(data: Any, dataset: str, output_dir: Path) -> Path:
    """The folder that holds the run's dataset cache (``data``: the config's ``data`` section), as
    :func:`faer_hub.training.run.load_splits` chooses it: ``data.cache_dir``, the generated
    dataset's folder, or the Hugging Face datasets cache."""
    if data.cache_dir:
        return Path(data.cache_dir)
    if data.synthetic:
        return (Path(data.data_dir) if data.data_dir else output_dir / "data" / dataset).parent
    import datasets

    return Path(datasets.config.HF_DATASETS_CACHE)
