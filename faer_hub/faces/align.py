"""Face-crop protocols: how each dataset cut its faces, and the one warp that reproduces it.

A model's ``pretrained_cfg["face_crop"]`` (and every export's ``config.json``) names the
protocol its training faces were cut with; prediction, Grad-CAM and the documented
transformers/ONNX snippets cut a detected face the same way before the model's own transform.

* ``celeba`` -- CelebA's align&cropped images: a non-reflective similarity transform mapping
  (left eye, right eye, mouth centre) to (70.745, 112), (108.237, 112), (89.432, 153.514) in
  1-based pixels of a 178 x 218 image (the dataset's alignment script).
* ``rafdb`` -- RAF-DB's aligned 100 x 100 images: a five-point similarity transform onto
  :data:`RAFDB_TEMPLATE` (RAF-DB publishes none; see its docstring).
* ``affectnet`` -- AffectNet: the face box, squared about its centre and clamped to the image as
  the AffectNet builder clamps the dataset's boxes (:func:`box_region`).
* ``box`` -- the detected box, clamped (models trained without a protocol).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, Union

import numpy as np
from PIL import Image

from ..io import ImageSource, read_image
from .detect import Detection

__all__ = [
    "CELEBA_TEMPLATE", "PROTOCOLS", "RAFDB_TEMPLATE", "CropProtocol", "align_face", "box_region",
    "protocol_of_model", "resolve_protocol", "similarity_matrix", "warp",
]

CELEBA_TEMPLATE = ((69.745, 111.0), (107.237, 111.0), (88.432, 152.514))
"""CelebA's (left eye, right eye, mouth centre) target, 0-based (the script's 1-based points - 1)."""

RAFDB_TEMPLATE = (
    (34.19, 46.16), (65.65, 45.98), (50.02, 64.05), (37.10, 82.47), (63.15, 82.32),
)
"""Five points (eyes, nose tip, mouth corners) in a 100 x 100 RAF-DB crop, 0-based pixels.

RAF-DB ships its aligned 100 x 100 faces but not the template they were warped onto. Its aligned
images show level eyes a little above the middle and the face from the brows to the chin
filling the frame, which is the framing of the widely used five-point template of 112 x 112
face-recognition crops (InsightFace's ArcFace alignment; eyes at 46 %, mouth at 82 % of the
height); this is that template scaled by 100/112. It was chosen by that framing, not fitted to RAF-DB pixels (no RAF-DB images are
available offline here): override it with ``face_crop = {"name": "rafdb", "template": [...]}``
in a model's config when you know better.
"""

ProtocolLike = Union[str, Mapping[str, Any], "CropProtocol", None]


@dataclass(frozen=True)
class CropProtocol:
    """How a dataset's face crops were made.

    ``kind`` is ``"similarity"`` (warp ``points`` of the landmarks onto ``template`` in an image
    of ``size`` = (width, height)) or ``"box"`` (cut the face box, ``square``d if set).
    ``points`` is ``"five"`` (all landmarks) or ``"eyes_mouth"`` (left eye, right eye, mouth centre).
    """

    name: str
    kind: str
    size: tuple[int, int] | None = None
    template: tuple[tuple[float, float], ...] = field(default=())
    points: str = "five"
    square: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("similarity", "box"):
            raise ValueError(f"face crop {self.name!r}: kind must be 'similarity' or 'box', got {self.kind!r}")
        if self.kind == "similarity":
            need = {"five": 5, "eyes_mouth": 3}.get(self.points)
            if need is None:
                raise ValueError(f"face crop {self.name!r}: points must be 'five' or 'eyes_mouth'")
            if len(self.template) != need or self.size is None:
                raise ValueError(f"face crop {self.name!r}: needs a size and {need} template points "
                                 f"for points={self.points!r}, got {len(self.template)}")

    def to_config(self) -> dict[str, Any]:
        """A JSON-ready dict that :func:`resolve_protocol` turns back into this protocol."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.kind == "similarity":
            out.update(size=list(self.size or ()), points=self.points, template=[list(p) for p in self.template])
        else:
            out["square"] = self.square
        return out

    def source_points(self, landmarks: np.ndarray) -> np.ndarray:
        """The landmarks this protocol warps, from the five (image-left eye first)."""
        if self.points == "eyes_mouth":
            return np.stack([landmarks[0], landmarks[1], (landmarks[3] + landmarks[4]) / 2])
        return landmarks


PROTOCOLS: dict[str, CropProtocol] = {
    p.name: p for p in (
        CropProtocol("celeba", "similarity", (178, 218), CELEBA_TEMPLATE, points="eyes_mouth"),
        CropProtocol("rafdb", "similarity", (100, 100), RAFDB_TEMPLATE),
        CropProtocol("affectnet", "box", square=True),
        CropProtocol("box", "box"),
    )
}
"""The built-in protocols by name."""


def resolve_protocol(value: ProtocolLike) -> CropProtocol | None:
    """A :class:`CropProtocol` from a name, a config dict (a name plus overrides) or ``None``."""
    if value is None or isinstance(value, CropProtocol):
        return value
    if isinstance(value, str):
        if value not in PROTOCOLS:
            raise ValueError(f"unknown face crop {value!r}; known: {', '.join(PROTOCOLS)}")
        return PROTOCOLS[value]
    cfg = dict(value)
    base = PROTOCOLS.get(cfg.get("name", ""))
    merged: dict[str, Any] = base.to_config() if base else {}
    merged.update(cfg)
    if "name" not in merged or "kind" not in merged:
        raise ValueError(f"face crop config {cfg} needs a known 'name' or both 'name' and 'kind'")
    return CropProtocol(
        name=str(merged["name"]), kind=str(merged["kind"]),
        size=tuple(int(v) for v in merged["size"]) if merged.get("size") else None,  # type: ignore[arg-type]
        template=tuple((float(x), float(y)) for x, y in merged.get("template") or ()),
        points=str(merged.get("points", "five")), square=bool(merged.get("square", False)),
    )


def protocol_of_model(model: Any) -> CropProtocol | None:
    """The face-crop protocol a model was trained with (its config's ``face_crop``, else its task's)."""
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    if cfg.get("face_crop") is not None:
        return resolve_protocol(cfg["face_crop"])
    from ..tasks import Task

    task = Task.from_model(model)
    return resolve_protocol(task.face_crop) if task is not None else None


def similarity_matrix(src: Sequence[Sequence[float]], dst: Sequence[Sequence[float]]) -> np.ndarray:
    """The 2 x 3 non-reflective similarity (rotation, uniform scale, shift) best mapping ``src`` to
    ``dst`` in the least-squares sense (OpenCV ``estimateAffinePartial2D`` over all points)."""
    import cv2

    src_a, dst_a = np.asarray(src, np.float64).reshape(-1, 2), np.asarray(dst, np.float64).reshape(-1, 2)
    if len(src_a) != len(dst_a) or len(src_a) < 2:
        raise ValueError(f"need matching point sets of at least 2 points, got {len(src_a)} and {len(dst_a)}")
    # a threshold no point can exceed keeps every point an inlier, so the refinement is a plain fit
    matrix, _ = cv2.estimateAffinePartial2D(src_a, dst_a, method=cv2.RANSAC, ransacReprojThreshold=1e9,
                                            maxIters=1, refineIters=100)
    if matrix is None:
        raise ValueError(f"no similarity transform fits the points {src_a.tolist()}")
    return matrix


def warp(image: Image.Image, matrix: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """``image`` warped by the 2 x 3 ``matrix`` into an RGB image of ``size`` = (width, height).

    Large shrinks are first box-averaged by an integer factor so the crop does not alias.
    """
    import cv2

    matrix = np.asarray(matrix, np.float64)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    factor = int(1 / (2 * scale)) if scale < 0.5 else 1
    if factor > 1:
        image = image.reduce(factor)
        offset = (factor - 1) / 2  # centre of reduced pixel i is original pixel factor * i + offset
        matrix = matrix @ np.array([[factor, 0, offset], [0, factor, offset], [0, 0, 1]], np.float64)
    out = cv2.warpAffine(np.asarray(image.convert("RGB")), matrix, tuple(size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(out)


def box_region(box: Sequence[float], image_size: tuple[int, int], *, square: bool = False) -> tuple[int, int, int, int]:
    """``(left, top, right, bottom)`` pixels of ``box`` = (x, y, w, h), optionally squared about its
    centre (side = the longer one), rounded and clamped to the image. Used by the AffectNet builder
    and by prediction alike; the result may be empty (right <= left) for a box outside the image."""
    x, y, w, h = (float(v) for v in box)
    if square:
        side = max(w, h)
        x, y, w, h = x + (w - side) / 2, y + (h - side) / 2, side, side
    width, height = image_size
    return max(0, round(x)), max(0, round(y)), min(width, round(x + w)), min(height, round(y + h))


def align_face(image: ImageSource, face: Detection | Sequence[Sequence[float]], protocol: ProtocolLike,
               *, box: Sequence[float] | None = None) -> Image.Image:
    """The crop of one face that a model trained with ``protocol`` expects.

    ``image`` is anything :func:`faer_hub.io.read_image` takes (path, Pillow image, RGB array...).
    ``face`` is a :class:`~faer_hub.faces.detect.Detection` or its five landmarks (image-left
    eye, image-right eye, nose, image-left and image-right mouth corner); box protocols need a
    detection or ``box``. ``protocol`` is a name (``celeba``, ``rafdb``, ``affectnet``,
    ``box``), a config dict or a :class:`CropProtocol`.
    """
    image = read_image(image)
    resolved = resolve_protocol(protocol if protocol is not None else "box")
    assert resolved is not None
    if isinstance(face, Detection):
        landmarks, box = np.asarray(face.landmarks, np.float64), box or face.box
    else:
        landmarks = np.asarray(face, np.float64).reshape(-1, 2)
    if resolved.kind == "box":
        if box is None:
            raise ValueError(f"face crop {resolved.name!r} cuts the face box: pass a Detection or box=")
        left, top, right, bottom = box_region(box, image.size, square=resolved.square)
        if right <= left or bottom <= top:
            raise ValueError(f"face box {tuple(box)} lies outside the {image.width}x{image.height} image")
        return image.crop((left, top, right, bottom))
    if landmarks.shape != (5, 2):
        raise ValueError(f"need five landmarks (x, y), got an array of shape {landmarks.shape}")
    matrix = similarity_matrix(resolved.source_points(landmarks), resolved.template)
    assert resolved.size is not None
    return warp(image, matrix, resolved.size)
