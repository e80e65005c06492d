"""Datasets for FAER: builders for CelebA, RAF-DB and AffectNet, transforms and loaders,
and generated faces in the datasets' official formats.

>>> from faer_hub.data import load_dataset, build_dataloader
>>> dd = load_dataset("rafdb", "/data/RAF-DB")            # doctest: +SKIP
>>> loader = build_dataloader(dd["train"], model, training=True, batch_size=64)  # doctest: +SKIP
"""

from .affectnet import AffectNet
from .celeba import CelebA
from .errors import AnnotationError, BuildReport, DatasetNotFoundError, SkippedRow
from .load import BUILDERS, get_build_report, get_builder, load_dataset, load_task_dataset
from .rafdb import RafDB

__all__ = [
    "AffectNet", "AnnotationError", "BUILDERS", "BuildReport", "CelebA", "DatasetNotFoundError",
    "RafDB", "SkippedRow", "get_build_report", "get_builder", "load_dataset", "load_task_dataset",
]
