"""Frames of a video file (OpenCV ``VideoCapture``), as RGB images with their index and time."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = ["VIDEO_EXTENSIONS", "Frame", "VideoReadError", "iter_frames"]

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


class VideoReadError(ValueError):
    """A video that cannot be opened or holds no frame; the message names the file."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class Frame:
    index: int
    """0-based frame number in the video."""
    time_s: float
    """Timestamp in seconds (frame index / frames per second)."""
    image: Image.Image


def iter_frames(path: str | os.PathLike, *, every: int = 1,
                on_truncated: Callable[[str], None] | None = None) -> Iterator[Frame]:
    """Every ``every``-th frame of the video at ``path`` (0, every, 2 * every, ...) as RGB.

    Raises :class:`VideoReadError` when the file is missing, cannot be decoded, or holds no frame.
    A video that ends before the frame count its header declares (a truncated download, a full
    disk) calls ``on_truncated`` with a message naming the file and the frames read, after the
    last frame; without a callback a :class:`UserWarning` says it.
    """
    try:
        import cv2
    except ImportError as err:  # pragma: no cover - opencv is a declared extra
        raise ImportError("reading videos needs OpenCV: pip install 'faer_hub[detect]'") from err
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    label = str(path)
    if not Path(path).is_file():
        raise VideoReadError(label, "file not found" if not Path(path).exists() else "not a regular file")
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise VideoReadError(label, "cannot open the video (unsupported or corrupt file); "
                                        "re-encode it, e.g. ffmpeg -i in -c:v libx264 out.mp4")
        declared = capture.get(cv2.CAP_PROP_FRAME_COUNT)
        declared = int(declared) if declared and np.isfinite(declared) and declared > 0 else None
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and np.isfinite(fps) and fps > 0 else None
        index = 0
        yielded = False
        while True:
            ok = capture.grab()
            if not ok:
                break
            if index % every == 0:
                ok, bgr = capture.retrieve()
                if not ok or bgr is None:
                    break
                time_s = index / fps if fps else capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                yielded = True
                yield Frame(index, round(float(time_s), 6), Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
            index += 1
        if not yielded:
            raise VideoReadError(label, "the video holds no readable frame")
        if declared is not None and index < declared:
            message = (f"{label}: the video ends early: {index} of the {declared} frames its header declares were "
                       "read (truncated or damaged file); the results cover those frames")
            if on_truncated is None:
                import warnings

                warnings.warn(message, UserWarning, stacklevel=2)
            else:
                on_truncated(message)
    finally:
        capture.release()
