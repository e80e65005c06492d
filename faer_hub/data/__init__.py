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
from .faces import FaceSpec, random_face_spec, render_face
from .rafdb import RafDB
from .synth import write_synthetic
from .transforms import (
    balanced_sampler,
    batch_transform,
    build_dataloader,
    build_transform,
    collate,
    resolve_data_config,
)

__all__ = [
    "AffectNet", "AnnotationError", "BUILDERS", "BuildReport", "CelebA", "DatasetNotFoundError",
    "FaceSpec", "RafDB", "SkippedRow", "balanced_sampler", "batch_transform", "build_dataloader",
    "build_transform", "collate", "get_build_report", "get_builder", "load_dataset", "load_task_dataset",
    "random_face_spec", "render_face", "resolve_data_config", "write_synthetic",
]
