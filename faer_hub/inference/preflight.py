"""Checks made before any work: the device exists, the model has trained weights, the outputs can
be written. Each failure is a ``ValueError``/``OSError`` whose one line names the value and the fix
(exit status 2 in the CLI), raised before a model is loaded or a picture read.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

__all__ = [
    "UntrainedModelError", "check_device", "check_output_file", "check_output_folder", "check_predict_output",
    "untrained_reason",
]

HOW_TO_TRAIN = ("train one with `python training/train.py --config training/configs/demo.yaml --output-dir runs/demo` "
                "and pass --model runs/demo/export, or pass --allow-untrained to use it anyway")


class UntrainedModelError(ValueError):
    """A model source that holds no weights trained for a FAER task."""


def check_device(device: Any) -> Any:
    """``device`` as a ``torch.device`` (default: CUDA when available, else CPU), or a ``ValueError``
    saying what to pass when this machine has no such device."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"--device {device}: not a device torch knows; pass cpu, cuda, cuda:<index> or mps "
                         "(or leave --device out: cuda when available, else cpu)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            built = "without CUDA" if torch.version.cuda is None else f"with CUDA {torch.version.cuda} but sees no GPU"
            raise ValueError(f"--device {device}: this machine has no CUDA GPU torch can use (torch "
                             f"{torch.__version__} was built {built}); pass --device cpu, or leave --device out")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {device}: there are {torch.cuda.device_count()} CUDA device(s), "
                             f"numbered 0 to {torch.cuda.device_count() - 1}; pass one of those")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"--device {device}: Apple's MPS is not available here; pass --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device {device}: faer_hub runs on cpu, cuda or mps; pass one of those")
    return dev


def untrained_reason(source: str, *, pretrained: bool = False) -> str | None:
    """Why the model named by ``source`` has no weights trained for a FAER task, or None when it has.

    A model *has trained weights* when its source is an export folder, ``local-dir:`` or
    ``hf-hub:`` repo (their whole point is their weights; ``config.json`` names the task), or a
    timm name loaded with ``--pretrained`` whose pretrained tag is a FAER task (``faer_raf``,
    ``faer_atto.rafdb``: weights trained on the task, downloaded from the Hub). A bare FAER name
    (random weights) and an ImageNet tag (``faer_atto.in1k``: an ImageNet head) are not.
    """
    from ..hub.sources import resolve_source

    name, has_weights = resolve_source(source)
    if has_weights:
        return None
    if not pretrained:
        return (f"--model {source} has random weights (a timm name without --pretrained): its answers would "
                f"mean nothing; {HOW_TO_TRAIN}")
    import timm

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is not None and (cfg.to_dict().get("label_names")):
        return None
    tag = getattr(cfg, "tag", None) or "its default"
    return (f"--model {source} --pretrained loads {tag} weights, not weights trained for a FAER task (an ImageNet "
            f"head at best); {HOW_TO_TRAIN}")


def check_output_file(path: str | os.PathLike, *, option: str = "--output") -> Path:
    """Raise, naming ``path``, unless a file can be created or appended there (tried, then removed)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: {path.parent} {what}; create it or choose another path")
    if path.exists():
        try:
            with open(path, "ab"):
                pass
        except OSError as err:
            raise OSError(f"{option} {path}: cannot write it ({err.strerror}); "
                                       "choose a writable place") from None
    else:
        _probe(path.parent, option)
    return path


def check_predict_output(path: str | os.PathLike, *, resume: bool = False, overwrite: bool = False) -> None:
    """Refuse an existing, non-empty ``path`` unless it is an output of ``faer-hub predict`` (its CSV
    header, its table header, or JSON lines of its records) that ``resume`` continues or
    ``overwrite`` replaces: anything else is someone's file, left as it is."""
    import json

    from .output import is_predict_record

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open(path, "rb") as f:
        first = f.readline(4096)
    try:
        record = json.loads(first)
    except ValueError:
        record = None
    ours = (first.startswith(b"path,frame,time_s,face_index,status,")  # our CSV
            or (first.startswith(b"file ") and b"top labels" in first)  # our table
            or is_predict_record(record))  # our JSON lines
    if not ours:
        raise FileExistsError(f"--output {path} exists and is not an output of faer-hub predict; it is left as it "
                              "is: choose another file name")
    if not (resume or overwrite):
        raise FileExistsError(f"--output {path} holds an earlier faer-hub predict output; pass --resume to continue "
                              "it, --overwrite to replace it, or choose another file name")


def check_output_folder(path: str | os.PathLike, *, option: str) -> Path:
    """Create folder ``path`` if needed and raise, naming it, unless files can be written in it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{option} {path}: it is a file, not a folder; give a folder name")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"{option} {path}: cannot create the folder ({err.strerror}); "
                                   "choose a writable place") from None
    _probe(path, option)
    return path


def _probe(folder: Path, option: str) -> None:
    probe = folder / f".faer-hub-write-test-{uuid.uuid4().hex[:8]}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as err:
        raise OSError(f"{option}: cannot write in {folder} ({err.strerror}); "
                                   "choose a writable place") from None
    probe.unlink(missing_ok=True)
