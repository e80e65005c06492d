"""The picture people want to look at: each face boxed and numbered with its top labels drawn on.

:func:`annotate` draws one picture; :class:`Annotator` writes every picture of a run (``--annotate
DIR``): images as JPEG, videos as an MJPG ``.avi`` of the sampled frames, named per input path
(:func:`faer_hub.inference.output.output_name`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..io import atomic_path
from .output import output_name, write_error

__all__ = ["Annotator", "annotate"]

COLOURS = ((255, 196, 0), (0, 200, 255), (255, 64, 160), (120, 230, 80), (190, 120, 255), (255, 140, 60))


def annotate(image: Image.Image, predictions: Sequence[Any], *, labels: int = 2) -> Image.Image:
    """A copy of ``image`` with face ``k`` boxed and numbered ``k + 1`` and its ``labels`` most
    likely labels (valence/arousal values) written under the box."""
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.size)
    width = max(2, round(side / 250))
    font = ImageFont.load_default(size=max(11, round(side / 40)))
    for k, p in enumerate(predictions):
        colour = COLOURS[k % len(COLOURS)]
        x, y, w, h = p.box if p.box is not None else (0, 0, out.width - 1, out.height - 1)
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=width)
        text = f"{k + 1}: " + ", ".join(f"{label} {score:.2f}" for label, score in p.top_k[:labels])
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th, pad = right - left, bottom - top, width + 1
        tx = min(max(0.0, x), max(0.0, out.width - tw - 2 * pad))
        ty = y + h + width if y + h + width + th + 2 * pad <= out.height else max(0.0, y - th - 2 * pad)
        draw.rectangle((tx, ty, tx + tw + 2 * pad, ty + th + 2 * pad), fill=colour)
        draw.text((tx + pad - left, ty + pad - top), text, fill=(0, 0, 0), font=font)
    return out


class Annotator:
    """Writes the annotated copy of each picture (and video) of a run into ``folder``."""

    def __init__(self, folder: str | os.PathLike, *, every: int = 1) -> None:
        self.folder = Path(folder)
        self.every = every
        self._video: Any = None
        self._video_target: Path | None = None
        self._video_tmp: Path | None = None
        self.written: list[Path] = []

    def add(self, unit: Any) -> None:
        """One unit of :meth:`Predictor.iter_units` (with ``keep_images``)."""
        if unit.end:
            self._close_video()
            return
        if unit.image is None:
            return  # a failed input
        faces = [r for r in unit.rows if r.status == "ok"]
        picture = annotate(unit.image, faces)
        if unit.frame is None:
            target = self.folder / output_name(unit.path, None, ".jpg")
            try:
                with atomic_path(target) as tmp:
                    picture.save(tmp, format="JPEG", quality=92)
            except OSError as err:
                raise write_error(target, err) from None
            self.written.append(target)
        else:
            self._write_frame(unit.path, picture)

    def _write_frame(self, path: str, picture: Image.Image) -> None:
        import cv2

        if self._video is None:
            self._video_target = self.folder / output_name(path, None, ".avi")
            self._video_tmp = self._video_target.with_name(f".{self._video_target.name}.tmp-{os.getpid()}.avi")
            capture = cv2.VideoCapture(path)
            fps = capture.get(cv2.CAP_PROP_FPS)
            capture.release()
            fps = fps / self.every if fps and np.isfinite(fps) and fps > 0 else 10.0
            self._video = cv2.VideoWriter(str(self._video_tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps, picture.size)
            self._size = picture.size
        if picture.size != self._size:
            picture = picture.resize(self._size)
        self._video.write(cv2.cvtColor(np.asarray(picture), cv2.COLOR_RGB2BGR))

    def _close_video(self) -> None:
        if self._video is None:
            return
        from ..io import apply_umask

        self._video.release()
        assert self._video_tmp is not None and self._video_target is not None
        apply_umask(self._video_tmp)
        os.replace(self._video_tmp, self._video_target)
        self.written.append(self._video_target)
        self._video = self._video_target = self._video_tmp = None

    def close(self) -> None:
        self._close_video()
