"""Face-crop protocols: how each dataset cut its faces, and the one function that reproduces it.

A model's ``pretrained_cfg["face_crop"]`` (and every export's ``config.json``) names the
protocol its training faces were cut with; prediction, Grad-CAM, the documented
transformers/ONNX snippets, the dataset builders and the synthetic-data generator all cut
faces with :func:`align_face` (or :func:`crop_geometry`), fed detected or annotated points.

* ``celeba`` -- CelebA's align&cropped images: a non-reflective similarity transform mapping
  (left eye, right eye, mouth centre) to (70.745, 112), (108.237, 112), (89.432, 153.514) in
  1-based pixels of a 178 x 218 image (the dataset's alignment script).
* ``rafdb`` -- RAF-DB's aligned 100 x 100 images, in its README's words "roughly aligned using
  similarity transformation according to the two eye locations and the center of mouth", then
  "resized to 100*100": the same three points onto :data:`RAFDB_TEMPLATE`, whose positions
  RAF-DB does not publish (an estimate; see its docstring).
* ``affectnet`` -- AffectNet's face box (``face_x, face_y, face_width, face_height`` of its
  CSVs), squared about its centre and clamped to the image. A detected face has no AffectNet
  box, so prediction derives it from the five landmarks by :data:`AFFECTNET_BOX_RULE`
  (:func:`box_from_landmarks`).
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
    "AFFECTNET_BOX_RULE", "CELEBA_TEMPLATE", "PROTOCOLS", "RAFDB_TEMPLATE", "CropProtocol", "align_face",
    "box_from_landmarks", "box_region", "crop_geometry", "face_crop_setting", "fit_box_rule", "protocol_of_model",
    "resolve_protocol", "similarity_matrix", "warp",
]

CELEBA_TEMPLATE = ((69.745, 111.0), (107.237, 111.0), (88.432, 152.514))
"""CelebA's (left eye, right eye, mouth centre) target, 0-based (the script's 1-based points - 1)."""

RAFDB_TEMPLATE = ((34.2, 46.1), (65.7, 46.1), (50.0, 82.4))
"""Where RAF-DB's aligned 100 x 100 images put the left eye, the right eye and the mouth centre
(0-based pixels): an ESTIMATE, not RAF-DB's numbers.

RAF-DB's README names the three points its similarity transform used (the two eyes and the
centre of the mouth) but not where it put them. Its aligned faces show level eyes a little
above the middle and the face from the brows to the chin filling the frame, the framing of the
widely used 112 x 112 face-recognition crop (InsightFace's five-point ArcFace template: eyes at
46 %, mouth at 82 % of the height); these are that template's eyes and mouth centre scaled by
100/112, eyes levelled. Not fitted to RAF-DB pixels (none are available offline here): when you
know better, override it in a model's config with
``face_crop = {"name": "rafdb", "template": [[x, y], [x, y], [x, y]]}``.
"""

AFFECTNET_BOX_RULE = (3.1, -0.34)
"""``(side, shift)`` of :func:`box_from_landmarks`: AffectNet's (squared) face box from the five
landmarks, as multiples of ``d``, the distance from the eyes' midpoint to the mouth centre. The
box is a square of side ``side * d`` centred ``shift * d`` along the face's eye-to-mouth axis
from the midpoint of the eyes' midpoint and the mouth centre (negative: toward the forehead).

AffectNet does not say how its boxes frame a face (they come from a face detector). These values
frame the head as a detector's box does: :func:`fit_box_rule` on generated AffectNet rows (head
boxes, annotated landmarks) gives (3.12, -0.34), on the same faces' MTCNN landmarks (3.07, -0.33).
They are an ESTIMATE for the real dataset: every AffectNet CSV row holds both a box and 68
landmarks, so :func:`fit_box_rule` measures the rule on a real copy; override it with
``face_crop = {"name": "affectnet", "box_rule": [side, shift]}``. The box moves with the mouth
(an open mouth lowers the mouth centre), so a detected face's box differs from its annotated
one by about 5 % of the side (measured on generated faces).
"""

ProtocolLike = Union[str, Mapping[str, Any], "CropProtocol", None]


@dataclass(frozen=True)
class CropProtocol:
    """How a dataset's face crops were made.

    ``kind`` is ``"similarity"`` (warp ``points`` of the landmarks onto ``template`` in an image
    of ``size`` = (width, height)) or ``"box"`` (cut the face box, ``square``d if set).
    ``points`` is ``"five"`` (all landmarks) or ``"eyes_mouth"`` (left eye, right eye, mouth centre).
    ``box_rule`` (box kinds): ``(side, shift)`` deriving the dataset's box from five landmarks
    (:func:`box_from_landmarks`), used whenever landmarks are given; without one, the detector's box.
    """

    name: str
    kind: str
    size: tuple[int, int] | None = None
    template: tuple[tuple[float, float], ...] = field(default=())
    points: str = "five"
    square: bool = False
    box_rule: tuple[float, float] | None = None

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
            if self.box_rule is not None:
                out["box_rule"] = list(self.box_rule)
        return out

    def source_points(self, landmarks: np.ndarray) -> np.ndarray:
        """The landmarks this protocol warps, from the five (image-left eye first)."""
        if self.points == "eyes_mouth":
            return np.stack([landmarks[0], landmarks[1], (landmarks[3] + landmarks[4]) / 2])
        return landmarks


PROTOCOLS: dict[str, CropProtocol] = {
    p.name: p for p in (
        CropProtocol("celeba", "similarity", (178, 218), CELEBA_TEMPLATE, points="eyes_mouth"),
        CropProtocol("rafdb", "similarity", (100, 100), RAFDB_TEMPLATE, points="eyes_mouth"),
        CropProtocol("affectnet", "box", square=True, box_rule=AFFECTNET_BOX_RULE),
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
        box_rule=tuple(float(v) for v in merged["box_rule"]) if merged.get("box_rule") else None,  # type: ignore[arg-type]
    )


def face_crop_setting(configured: Any, task: Any = None) -> str | dict[str, Any] | None:
    """The face-crop protocol a model uses, JSON-ready: its config's ``face_crop`` (``configured``),
    else its task's (``task.face_crop``), else ``None``. The one place this fallback is decided:
    model creation, exports and prediction all call it."""
    value = configured if configured is not None else getattr(task, "face_crop", None)
    if value is None or isinstance(value, str):
        return value
    return resolve_protocol(value).to_config()  # type: ignore[union-attr]


def protocol_of_model(model: Any) -> CropProtocol | None:
    """The face-crop protocol a model was trained with (:func:`face_crop_setting` of its config)."""
    from ..tasks import Task

    cfg = getattr(model, "pretrained_cfg", {}) or {}
    configured = cfg.get("face_crop")
    return resolve_protocol(face_crop_setting(configured, None if configured is not None else Task.from_model(model)))


def similarity_matrix(src: Sequence[Sequence[float]], dst: Sequence[Sequence[float]]) -> np.ndarray:
    """The 2 x 3 non-reflective similarity (rotation, uniform scale, shift) best mapping ``src`` to
    ``dst`` in the least-squares sense (OpenCV ``estimateAffinePartial2D`` over all points).

    Kept over a closed-form Umeyama fit, which is exact where OpenCV's refinement stops up to
    1.5e-4 px short: every generated crop and measured number was cut with this one, and the exact
    fit changes 10 % of the generated crops by up to 8 grey levels (exports would not be
    byte-identical). ``tests/faces/test_align.py`` holds it to scikit-image's least squares."""
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
    x, y, w, h = square_box(box) if square else (float(v) for v in box)
    width, height = image_size
    return max(0, round(x)), max(0, round(y)), min(width, round(x + w)), min(height, round(y + h))


def square_box(box: Sequence[float]) -> tuple[float, float, float, float]:
    """``box`` = (x, y, w, h) squared about its centre; the side is the longer one."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h)
    return x + (w - side) / 2, y + (h - side) / 2, side, side


def _eyes_mouth(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eyes' midpoint and the mouth centre of five landmarks."""
    return (landmarks[0] + landmarks[1]) / 2, (landmarks[3] + landmarks[4]) / 2


def box_from_landmarks(landmarks: Sequence[Sequence[float]],
                       rule: tuple[float, float] = AFFECTNET_BOX_RULE) -> tuple[float, float, float, float]:
    """The square box ``(x, y, side, side)`` that ``rule`` = (side, shift) derives from five landmarks
    (see :data:`AFFECTNET_BOX_RULE`); it follows the face's size and position, whatever its roll."""
    eyes, mouth = _eyes_mouth(np.asarray(landmarks, np.float64).reshape(5, 2))
    axis = mouth - eyes
    d = float(np.hypot(*axis))
    if d <= 0:
        raise ValueError(f"landmarks {np.asarray(landmarks).tolist()} put the mouth on the eyes: not a face")
    side, shift = rule
    centre = (eyes + mouth) / 2 + shift * axis
    return float(centre[0] - side * d / 2), float(centre[1] - side * d / 2), side * d, side * d


def fit_box_rule(boxes: Sequence[Sequence[float]], landmarks: Sequence[Sequence[Sequence[float]]]) -> tuple[float, float]:
    """The ``(side, shift)`` rule (:data:`AFFECTNET_BOX_RULE`) that best reproduces ``boxes``
    (x, y, w, h; squared here) from ``landmarks`` (five points each), as medians over the faces.

    For AffectNet, take both from its CSVs (the five points from the 68: mean of points 37-42 and
    43-48 for the eyes, 31 for the nose tip, 49 and 55 for the mouth corners; 1-based)."""
    sides, shifts = [], []
    for box, points in zip(boxes, landmarks):
        eyes, mouth = _eyes_mouth(np.asarray(points, np.float64).reshape(5, 2))
        axis = mouth - eyes
        d2 = float(axis @ axis)
        if d2 <= 0:
            continue
        x, y, side, _ = square_box(box)
        centre = np.array([x + side / 2, y + side / 2])
        sides.append(side / np.sqrt(d2))
        shifts.append(float((centre - (eyes + mouth) / 2) @ axis) / d2)
    if not sides:
        raise ValueError("no face with distinct eyes and mouth to fit a box rule on")
    return float(np.median(sides)), float(np.median(shifts))


def crop_geometry(face: Detection | Sequence[Sequence[float]] | None, protocol: ProtocolLike,
                  image_size: tuple[int, int], *, box: Sequence[float] | None = None
                  ) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2 x 3 matrix taking image pixels to crop pixels, and the crop's (width, height), of the
    crop :func:`align_face` cuts: for mapping points (annotations, detections) into a crop."""
    resolved = resolve_protocol(protocol if protocol is not None else "box")
    assert resolved is not None
    landmarks: np.ndarray | None = None
    if isinstance(face, Detection):
        landmarks, box = np.asarray(face.landmarks, np.float64), box or face.box
    elif face is not None:
        landmarks = np.asarray(face, np.float64).reshape(-1, 2)
    if resolved.kind == "box":
        if resolved.box_rule is not None and landmarks is not None and landmarks.shape == (5, 2):
            box = box_from_landmarks(landmarks, resolved.box_rule)
        if box is None:
            raise ValueError(f"face crop {resolved.name!r} cuts the face box: pass a Detection, landmarks or box=")
        left, top, right, bottom = box_region(box, image_size, square=resolved.square)
        if right <= left or bottom <= top:
            raise ValueError(f"face box {tuple(box)} lies outside the {image_size[0]}x{image_size[1]} image")
        return np.array([[1.0, 0.0, -left], [0.0, 1.0, -top]]), (right - left, bottom - top)
    if landmarks is None or landmarks.shape != (5, 2):
        shape = None if landmarks is None else landmarks.shape
        raise ValueError(f"need five landmarks (x, y), got an array of shape {shape}")
    assert resolved.size is not None
    return similarity_matrix(resolved.source_points(landmarks), resolved.template), resolved.size


def align_face(image: ImageSource, face: Detection | Sequence[Sequence[float]] | None, protocol: ProtocolLike,
               *, box: Sequence[float] | None = None) -> Image.Image:
    """The crop of one face that a model trained with ``protocol`` expects.

    ``image`` is anything :func:`faer_hub.io.read_image` takes (path, Pillow image, RGB array...).
    ``face`` is a :class:`~faer_hub.faces.detect.Detection` or its five landmarks (image-left
    eye, image-right eye, nose, image-left and image-right mouth corner), detected or annotated;
    box protocols take a dataset's box as ``box`` (with ``face=None``), else derive it from the
    landmarks (``box_rule``) or use the detection's box. ``protocol`` is a name (``celeba``,
    ``rafdb``, ``affectnet``, ``box``), a config dict or a :class:`CropProtocol`.
    """
    image = read_image(image)
    resolved = resolve_protocol(protocol if protocol is not None else "box")
    matrix, size = crop_geometry(face, resolved, image.size, box=box)
    if resolved is not None and resolved.kind == "box":  # a plain cut: the pixels as they are
        left, top = int(-matrix[0, 2]), int(-matrix[1, 2])
        return image.crop((left, top, left + size[0], top + size[1]))
    return warp(image, matrix, size)
