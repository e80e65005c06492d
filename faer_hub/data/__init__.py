"""Datasets for FAER: builders for CelebA, RAF-DB and AffectNet, transforms and loaders,
and generated faces in the datasets' official formats.

>>> from faer_hub.data import load_dataset, build_dataloader, resolve_data_config
>>> dd = load_dataset("rafdb", "/data/RAF-DB")            # doctest: +SKIP
>>> loader = build_dataloader(dd["test"], resolve_data_config(model), batch_size=64)  # doctest: +SKIP
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "AffectNet": "affectnet", "CelebA": "celeba", "RafDB": "rafdb",
    "AnnotationError": "errors", "BuildReport": "errors", "DatasetNotFoundError": "errors", "SkippedRow": "errors",
    "BUILDERS": "load", "get_build_report": "load", "get_builder": "load", "load_dataset": "load",
    "load_task_dataset": "load",
    "FaceSpec": "synthetic", "random_face_spec": "synthetic", "render_face": "synthetic", "write_synthetic": "synthetic",
    "build_dataloader": "loader", "class_balanced_weights": "loader", "collate": "loader",
    "BatchNormalizer": "transforms", "build_transform": "transforms", "resolve_data_config": "transforms",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
