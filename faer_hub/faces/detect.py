"""Face detection with five landmarks: MTCNN from ``facenet-pytorch``.

The P-, R- and O-Net weights ship inside the ``facenet-pytorch`` wheel (MIT), so nothing is
downloaded. ``facenet-pytorch`` is imported only when a detector is first built, and the
warnings filters it installs on import are put back as they were.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from PIL import Image
from ..io import ImageSource, read_image

__all__ = ["LANDMARK_NAMES", "Detection", "MTCNNDetector", "detect_faces"]

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
"""Order of the five landmarks; left/right as seen in the image (image-left eye first)."""


@dataclass(frozen=True)
class Detection:
    """One face: box ``(x, y, w, h)``, detector score, five landmarks ``(x, y)``, in image pixels."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]
    """Image-left eye, image-right eye, nose tip, image-left and image-right mouth corner."""

    def to_dict(self, ndigits: int = 2) -> dict[str, Any]:
        return {
            "box": [round(v, ndigits) for v in self.box],
            "score": round(self.score, 6),
            "landmarks": [[round(x, ndigits), round(y, ndigits)] for x, y in self.landmarks],
        }


def _import_mtcnn() -> Any:
    try:
        with warnings.catch_warnings():  # puts back the filters facenet-pytorch installs on import
            from facenet_pytorch import MTCNN
    except ImportError as err:
        raise ImportError(
            "face detection needs facenet-pytorch: pip install 'faer_hub[detect]' "
            "(or pass --no-detect for images that already are aligned face crops)"
        ) from err
    return MTCNN


class MTCNNDetector:
    """Callable ``detector(image) -> list[Detection]``, largest face first.

    Args:
        min_face_size: Smallest face side searched for, in pixels.
        thresholds: P/R/O-Net score thresholds (facenet-pytorch's defaults).
        min_score: Final score below which a detection is dropped.
        max_side: Images whose longer side exceeds this are searched at this size (a phone photo's
            12 megapixels would make MTCNN's image pyramid slow); results are in original pixels.
        device: Torch device for the three networks (default CPU).
    """

    def __init__(self, *, min_face_size: int = 20, thresholds: Sequence[float] = (0.6, 0.7, 0.7),
                 min_score: float = 0.9, max_side: int = 1600, device: str | None = None) -> None:
        mtcnn = _import_mtcnn()
        self.min_score = min_score
        self.max_side = max_side
        self._mtcnn = mtcnn(keep_all=True, min_face_size=min_face_size, thresholds=list(thresholds),
                            post_process=False, device=device or "cpu")

    def __call__(self, image: Image.Image) -> list[Detection]:
        image = image.convert("RGB") if image.mode != "RGB" else image
        scale = min(1.0, self.max_side / max(image.size))
        if scale < 1.0:
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgb = np.asarray(image)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch deprecations inside facenet-pytorch
            boxes, scores, points = self._mtcnn.detect(rgb, landmarks=True)
        if boxes is None:
            return []
        # facenet-pytorch returns object arrays; cast before doing maths on them
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) / scale
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        points = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2) / scale
        found = []
        for (x0, y0, x1, y1), score, pts in zip(boxes, scores, points):
            if score < self.min_score:
                continue
            pts = _image_left_first(pts)
            found.append(Detection(
                box=(float(x0), float(y0), float(x1 - x0), float(y1 - y0)),
                score=float(score),
                landmarks=tuple((float(x), float(y)) for x, y in pts),
            ))
        return sorted(found, key=lambda d: -d.box[2] * d.box[3])


def _image_left_first(points: np.ndarray) -> np.ndarray:
    """Eyes and mouth corners ordered image-left, image-right (MTCNN's order for upright faces)."""
    pts = points.copy()
    if pts[0, 0] > pts[1, 0]:
        pts[[0, 1]] = pts[[1, 0]]
    if pts[3, 0] > pts[4, 0]:
        pts[[3, 4]] = pts[[4, 3]]
    return pts


_DEFAULT: MTCNNDetector | None = None


def detect_faces(image: ImageSource, *, detector: MTCNNDetector | None = None) -> list[Detection]:
    """Every face in ``image`` (largest first), with box, score and five landmarks.

    ``image`` is anything :func:`faer_hub.io.read_image` takes: a path (str or Path), a Pillow
    image, an RGB NumPy array, encoded bytes. Uses one shared :class:`MTCNNDetector` with default
    settings unless ``detector`` is given.
    """
    image = read_image(image)
    global _DEFAULT
    if detector is None:
        if _DEFAULT is None:
            _DEFAULT = MTCNNDetector()
        detector = _DEFAULT
    return detector(image)
