"""One call from a manual download to a typed ``DatasetDict`` with train / validation / test."""

from __future__ import annotations

import logging
import os
from typing import Any

import datasets
import numpy as np

from ..tasks import get_task
from ._builder import CROP_SHORT_SIDE, FaerBuilder
from .affectnet import AffectNet
from .celeba import CelebA
from .errors import AnnotationError, BuildReport, DatasetNotFoundError
from .rafdb import RafDB

logger = logging.getLogger(__name__)

BUILDERS: dict[str, type[FaerBuilder]] = {"celeba": CelebA, "rafdb": RafDB, "affectnet": AffectNet}
"""Builder class per dataset name."""


def get_builder(name: str, data_dir: str | os.PathLike, config: str | None = None, *,
                skip_bad_rows: bool = False, cache_dir: str | os.PathLike | None = None,
                crop_short_side: int = CROP_SHORT_SIDE) -> FaerBuilder:
    """The (unprepared) builder of dataset ``name`` for the download in ``data_dir``.
    ``crop_short_side``: bound of the stored face crops' short side (AffectNet; 0: native size)."""
    try:
        cls = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(BUILDERS)}") from None
    crops = {"crop_short_side": crop_short_side} if cls is AffectNet else {}  # the others store files as they are
    return cls(
        data_dir=data_dir,
        config_name=config,
        cache_dir=None if cache_dir is None else str(cache_dir),
        skip_bad_rows=skip_bad_rows,
        **crops,
    )


def stratified_split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (keep, held_out) indices: ``fraction`` of every class held out, seeded.

    Per class, ``round(fraction * n)`` items (at least one when the class has two or more and
    ``fraction > 0``) are drawn with ``numpy.random.default_rng(seed)``.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"validation_size must be in [0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    held: list[np.ndarray] = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        n = int(round(fraction * len(members)))
        if fraction > 0 and n == 0 and len(members) >= 2:
            n = 1
        held.append(rng.permutation(members)[:n])
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=np.int64)
    keep = np.setdiff1d(np.arange(len(labels)), held_out)
    return keep, held_out


STRATIFY_COLUMNS = ("label", "expression")
"""Class columns the validation carve stratifies by (the first one present)."""


def carve_validation(train: datasets.Dataset, validation_size: float, seed: int) -> tuple[datasets.Dataset, datasets.Dataset]:
    """Split ``train`` into (train, validation), stratified by ``label`` (AffectNet valence/arousal:
    by ``expression``), deterministic for ``seed``."""
    column = next(c for c in STRATIFY_COLUMNS if c in train.features)
    labels = np.asarray(train.with_format("numpy")[column])
    keep, held = stratified_split_indices(labels, validation_size, seed)
    return train.select(keep), train.select(held)


def load_dataset(name: str, data_dir: str | os.PathLike, config: str | None = None, *,
                 validation_size: float = 0.1, seed: int = 0, skip_bad_rows: bool = False,
                 cache_dir: str | os.PathLike | None = None, crop_short_side: int = CROP_SHORT_SIDE,
                 num_proc: int = 1) -> datasets.DatasetDict:
    """Prepare (once, cached) and load a manually downloaded dataset.

    ``name``: ``'celeba'``, ``'rafdb'`` (config ``'aligned'``/``'original'``) or ``'affectnet'``
    (config ``'7'``/``'8'``, or ``'va'`` for valence and arousal). The layout in ``data_dir`` is detected. Always returns splits
    ``train``, ``validation`` and ``test``: CelebA uses its own partition; for RAF-DB and
    AffectNet ``validation_size`` of train is held out, stratified by label and seeded by
    ``seed`` (the test split is never touched). Bad rows raise
    :class:`~faer_hub.data.errors.AnnotationError` unless ``skip_bad_rows``; then they are
    left out and listed in the returned dict's ``build_report`` attribute
    (:class:`~faer_hub.data.errors.BuildReport`, also saved in the cache).
    ``cache_dir`` defaults to the Hugging Face datasets cache. The cache stores the images' bytes
    (AffectNet: face crops, short side at most ``crop_short_side``); a first build checks and
    writes them in ``num_proc`` processes.
    """
    builder = get_builder(name, data_dir, config, skip_bad_rows=skip_bad_rows, cache_dir=cache_dir,
                          crop_short_side=crop_short_side)
    builder.num_proc = num_proc
    try:
        builder.download_and_prepare(num_proc=num_proc if num_proc > 1 else None)
    except datasets.exceptions.DatasetGenerationError as err:
        cause = err.__cause__
        if isinstance(cause, (AnnotationError, DatasetNotFoundError)):
            raise cause from None
        raise
    prepared: datasets.DatasetDict = builder.as_dataset()  # type: ignore[assignment]
    report = builder.build_report()
    splits: dict[str, datasets.Dataset] = {}
    if "validation" in prepared:
        splits = {"train": prepared["train"], "validation": prepared["validation"]}
    else:
        splits["train"], splits["validation"] = carve_validation(prepared["train"], validation_size, seed)
    splits["test"] = prepared["test"]
    out = datasets.DatasetDict(splits)
    out.build_report = report  # type: ignore[attr-defined]
    if report.skipped:
        logger.warning("%s: %d bad rows skipped: %s", builder.TITLE, len(report.skipped), report.summary())
    return out


def load_task_dataset(task_name: str, data_dir: str | os.PathLike, **kwargs: Any) -> datasets.DatasetDict:
    """:func:`load_dataset` for a :data:`faer_hub.tasks.TASKS` name (``'affectnet7'`` -> config ``'7'``)."""
    task = get_task(task_name)
    return load_dataset(task.dataset, data_dir, task.dataset_config, **kwargs)


def get_build_report(dataset_dict: datasets.DatasetDict) -> BuildReport:
    """The :class:`BuildReport` attached by :func:`load_dataset` (empty if none)."""
    return getattr(dataset_dict, "build_report", BuildReport())
