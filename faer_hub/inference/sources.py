"""What people pass to ``analyze``/``predict``: paths, folders, videos, in-memory pictures, lists.

Inputs are numbered in the order they are given (a folder's files in name order), streamed: a
folder of a million photos is walked one directory at a time, never listed whole, so the numbering
is the same in every process and after a restart (``--resume``, several processes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..io import IMAGE_EXTENSIONS
from .video import VIDEO_EXTENSIONS

__all__ = ["InputItem", "is_video", "iter_input_files", "iter_inputs"]

_IN_MEMORY = (Image.Image, np.ndarray, bytes, bytearray, dict)
"""Pictures taken as they are, not as paths: Pillow images, RGB arrays, encoded bytes, HF image dicts."""


@dataclass(frozen=True)
class InputItem:
    """One input: its place in the input order, the name rows carry, and the path or picture."""

    index: int
    label: str
    source: Any


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _walk(folder: Path, wanted: frozenset[str]) -> Iterator[Path]:
    """Image and video files under ``folder`` in path order (``sorted(folder.rglob(...))``'s order),
    one directory in memory at a time. Linked folders are not followed; image-named links that
    lead nowhere are yielded, so they are reported."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path, wanted)
        elif path.suffix.lower() in wanted and (path.is_file() or (entry.is_symlink() and not path.exists())):
            yield path


def iter_input_files(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files named as given; folders searched recursively for images and videos, streamed.

    A folder without any such file is yielded itself, so that it is reported, not skipped; so are
    image-named links that lead nowhere (broken, or a loop).
    """
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = False
            for file in _walk(path, wanted):
                found = True
                yield file
            if not found:
                yield path
        else:
            yield path  # missing files and non-images are reported by read_image


def iter_inputs(source: Any) -> Iterator[InputItem]:
    """Number every input in ``source``: one path (str or Path), folder, video or picture, or an
    iterable of any of these (a generator is consumed lazily). Pictures are named ``<image N>``
    (``N`` their place in ``source``) in the rows."""
    items = [source] if isinstance(source, (str, os.PathLike, *_IN_MEMORY)) else source
    index = 0
    for position, item in enumerate(items):
        if isinstance(item, _IN_MEMORY):
            yield InputItem(index, f"<image {position}>", item)
            index += 1
        elif isinstance(item, (str, os.PathLike)):
            for path in iter_input_files([item]):
                yield InputItem(index, str(path), path)
                index += 1
        else:
            raise TypeError(f"input {position}: a {type(item).__name__} is not a picture; pass a path (str or Path), "
                            "a folder, a video, a PIL image, an RGB NumPy array, or a list of these")
