"""Face detection with five landmarks: MTCNN from ``facenet-pytorch``.

The P-, R- and O-Net weights ship inside the ``facenet-pytorch`` wheel (MIT), so nothing is
downloaded. ``facenet-pytorch`` is imported only when a detector is first built, and the
warnings filters it installs on import are put back as they were.

How :class:`MTCNNDetector` searches a photo (Zhang et al. 2016, "Joint Face Detection and
Alignment using Multi-task Cascaded Convolutional Networks", is the detector itself):

1. **Smallest face searched**: 1/16 of the photo's shorter side, clipped to [20, 64] pixels (a
   512-pixel photo is searched down to 32-pixel faces, a 12-megapixel one down to 64-pixel
   faces). MTCNN's image pyramid, most of its cost, then costs the same for every photo from 320
   to 1024 pixels on the shorter side; the 64-pixel cap keeps the faces of a large group photo.
2. **Downscaled** (Pillow, antialiased) so that this smallest face is 20 pixels, and so that the
   longer side is at most ``max_side``; every box and landmark is mapped back to original pixels.
3. **Edge faces searched again**: facenet-pytorch clamps a box that runs past the image to the
   image, stretches that part into the next network's input, then maps the points back with the
   unclamped box, which puts the landmarks of a face cut by the photo's edge tens of pixels off.
   A face whose box comes within reach of the edge is therefore searched again in a window twice
   its size around it, black where it runs past the photo (the original MTCNN zero-pads its crops
   the same way), resized to 128 pixels; the window's best face whose centre lies in the first
   box replaces it (the first is dropped when the window has none). Only such faces pay for it,
   unlike padding the whole photo.
4. **Kept** when the O-Net score is at least ``min_score`` = 0.8 and the five points have a
   face's geometry (:func:`plausible_face`). The threshold, measured here: on photos without a
   person (scikit-image's coffee, rocket, gravel, chelsea and galaxies, scikit-learn's temple and
   flower, at their size, half and twice it, upright and turned 90 degrees) this search gives one
   candidate, at 0.73 (0.77 at most with ``relative_min_face=0``); the faces in the packaged
   portraits score 0.999 and more, but drawn faces with dark skin or glasses score 0.74-0.88,
   which the earlier 0.9 lost (3 % of the generated CelebA photos).

Same-size photos are searched as one batch by :meth:`MTCNNDetector.detect_batch`, through
:func:`faer_hub.faces.cascade.run_cascade`: facenet-pytorch's cascade with its resampling
batched, the same boxes and points bit for bit. The three networks run on torch's CPU threads by
default (``threads=None``); ``threads=1`` runs them on one (torch's setting put back after each
search). A search is thousands of small operations, each of which waits for every thread: on an
idle 2-core machine the photo path ran 1.1-1.4 times as fast with the detector on torch's two
threads as on one, but with the other core busy 6.8 times slower
(``benchmarks/predict_throughput.py``; README, "Speed of the photo path"). On a shared machine,
pass ``threads=1`` or set ``OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from ..io import ImageSource, read_image
from .cascade import run_cascade

__all__ = ["LANDMARK_NAMES", "Detection", "MTCNNDetector", "SearchPlan", "detect_faces", "plausible_face"]

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


def plausible_face(landmarks: Sequence[Sequence[float]], box: Sequence[float]) -> bool:
    """Whether five points (image-left first, :data:`LANDMARK_NAMES`) in ``box`` ``(x, y, w, h)``
    are laid out like a face.

    The face's axis runs from the eyes' midpoint to the mouth corners' midpoint; its length ``L``
    is the eye-to-mouth distance. A face has:

    - ``L`` between 0.2 and 0.8 of the box size ``sqrt(w * h)``;
    - the axis within 60 degrees of image-down (the mouth below the eyes);
    - the eyes, and the mouth corners, apart across the axis by 0.2 to 2 ``L``, on lines within
      about 30 degrees of square to it (along-axis offset at most 0.6 times the across one);
    - the nose tip between eyes and mouth along the axis (0.1 to 1.0 ``L`` below the eyes) and
      within 0.8 ``L`` of it across;
    - every point inside the box grown by a quarter of its size on each side.

    Measured here: frontal and turned real faces (scikit-image's astronaut and cameraman,
    Matplotlib's Grace Hopper, the astronaut rolled 30 degrees) lie well inside every range
    (``L`` 0.38-0.52 of the box; eyes 0.54-1.11 ``L`` apart, mouth 0.37-1.15 ``L``; nose
    0.56-0.70 ``L`` below the eyes). MTCNN's regressed points look like a face on most false
    detections too, so this removes broken geometry (collapsed, crossed or upside-down points), and
    the score threshold does most of the rejecting.
    """
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    x, y, w, h = (float(v) for v in box)
    if not (w > 0 and h > 0 and np.isfinite(pts).all()):
        return False
    grow = 0.25 * max(w, h)
    if not ((pts[:, 0] >= x - grow).all() and (pts[:, 0] <= x + w + grow).all()
            and (pts[:, 1] >= y - grow).all() and (pts[:, 1] <= y + h + grow).all()):
        return False
    eyes, nose, mouth = pts[:2].mean(axis=0), pts[2], pts[3:].mean(axis=0)
    axis = mouth - eyes
    length = float(np.hypot(*axis))
    if not 0.2 <= length / math.sqrt(w * h) <= 0.8:
        return False
    down = axis / length
    if down[1] < 0.5:  # cos 60 degrees
        return False
    across = np.array([down[1], -down[0]])  # image-right for an upright face
    for left, right in ((pts[0], pts[1]), (pts[3], pts[4])):
        apart = float((right - left) @ across)
        if not 0.2 * length <= apart <= 2.0 * length or abs(float((right - left) @ down)) > 0.6 * apart:
            return False
    below = float((nose - eyes) @ down) / length
    aside = abs(float((nose - (eyes + mouth) / 2) @ across)) / length
    return 0.1 <= below <= 1.0 and aside <= 0.8


def _import_mtcnn() -> Any:
    """facenet-pytorch's ``MTCNN`` (for its three networks and their weights)."""
    try:
        with warnings.catch_warnings():  # puts back the filters facenet-pytorch installs on import
            from facenet_pytorch import MTCNN
    except ImportError as err:
        raise ImportError(
            "face detection needs facenet-pytorch: pip install 'faer_hub[detect]' "
            "(or pass --no-detect for images that already are aligned face crops)"
        ) from err
    return MTCNN


@dataclass(frozen=True)
class SearchPlan:
    """How one photo size is searched: ``scale`` working pixels per original pixel, the working
    ``size`` (w, h), and MTCNN's ``min_face`` in working pixels."""

    scale: float
    size: tuple[int, int]
    min_face: float


EDGE_WINDOW = 128
"""Side of the black-bordered window a face cut by the photo's edge is searched again in (px)."""


class MTCNNDetector:
    """Callable ``detector(image) -> list[Detection]``, largest face first; ``detect_batch(images)``
    for many. The search is described in the module docstring.

    Args:
        min_face_size: Smallest face ever searched, in pixels; also the size the smallest face
            searched in a photo is downscaled to.
        relative_min_face: Smallest face searched as a fraction of the photo's shorter side
            (1/16), ...
        relative_min_face_cap: ... but never above this many pixels (64), so that a large group
            photo is still searched for faces this small. ``relative_min_face=0`` searches every
            photo down to ``min_face_size`` (slower).
        thresholds: P/R/O-Net score thresholds (facenet-pytorch's defaults).
        min_score: Final (O-Net) score below which a detection is dropped.
        max_side: Longer side of the image the networks see at most (a phone photo's 12
            megapixels would make the pyramid slow); results are in original pixels.
        refine_edges: Search a face whose box runs within reach of the photo's edge again inside a
            black-bordered window around it (module docstring, step 3).
        check_geometry: Drop detections whose landmarks are not laid out like a face
            (:func:`plausible_face`).
        batch_size: Same-size photos searched together by :meth:`detect_batch`.
        threads: Torch CPU threads of the calling thread while it searches (module docstring);
            None keeps torch's setting. Put back as it was after each search.
        device: Torch device for the three networks (default CPU).
    """

    def __init__(self, *, min_face_size: int = 20, relative_min_face: float = 1 / 16,
                 relative_min_face_cap: int = 64, thresholds: Sequence[float] = (0.6, 0.7, 0.7),
                 min_score: float = 0.8, max_side: int = 1600, refine_edges: bool = True,
                 check_geometry: bool = True, batch_size: int = 8, threads: int | None = None,
                 device: str | None = None) -> None:
        if min_face_size < 12:
            raise ValueError(f"min_face_size must be at least 12 pixels (MTCNN's window), got {min_face_size}")
        if not 0 <= relative_min_face < 1:
            raise ValueError(f"relative_min_face must be in [0, 1), got {relative_min_face}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 (or None for torch's setting), got {threads}")
        import torch

        mtcnn = _import_mtcnn()
        self.min_face_size = min_face_size
        self.relative_min_face = relative_min_face
        self.relative_min_face_cap = max(relative_min_face_cap, min_face_size)
        self.thresholds = [float(t) for t in thresholds]
        self.min_score = min_score
        self.max_side = max_side
        self.refine_edges = refine_edges
        self.check_geometry = check_geometry
        self.batch_size = batch_size
        self.threads = threads
        self._mtcnn = mtcnn(keep_all=True, min_face_size=min_face_size, thresholds=self.thresholds,
                            post_process=False, device=device or "cpu")
        for net in (self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet):
            # same outputs; PyTorch's channels-last CPU kernels run these small nets ~1.4x faster
            net.to(memory_format=torch.channels_last)

    def plan(self, width: int, height: int) -> SearchPlan:
        """The search of a ``width`` x ``height`` photo (module docstring, steps 1-2)."""
        shorter = min(width, height)
        smallest = min(max(self.relative_min_face * shorter, self.min_face_size), self.relative_min_face_cap)
        scale = min(1.0, self.min_face_size / smallest, self.max_side / max(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        return SearchPlan(scale=scale, size=size, min_face=max(self.min_face_size, smallest * scale))

    def __call__(self, image: ImageSource) -> list[Detection]:
        """Every face in one image (anything :func:`faer_hub.io.read_image` takes), largest first."""
        return self.detect_batch([image])[0]

    def detect_batch(self, images: Sequence[ImageSource]) -> list[list[Detection]]:
        """The faces of each image, in order (one list per image, largest face first).

        Images that share a size are searched together, ``batch_size`` at a time (facenet-pytorch
        runs a batch of same-size images through each network at once). Each image is read with
        :func:`faer_hub.io.read_image`, so an unreadable one raises :class:`faer_hub.io.ImageReadError`
        for the call: read files first to report them one by one.
        """
        with _torch_threads(self.threads):
            return self._detect_batch([read_image(image) for image in images])

    def _detect_batch(self, pictures: list[Image.Image]) -> list[list[Detection]]:
        plans = [self.plan(*picture.size) for picture in pictures]
        working = [picture if plan.size == picture.size
                   else picture.resize(plan.size, Image.Resampling.BILINEAR, reducing_gap=2.0)
                   for picture, plan in zip(pictures, plans)]
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i, plan in enumerate(plans):
            if min(plan.size) >= plan.min_face:  # smaller images cannot hold a face searched for
                groups[(plan.size, plan.min_face)].append(i)
        raw: list[list[_Raw]] = [[] for _ in pictures]
        for indices in groups.values():
            for i, faces in zip(indices, self._search([working[i] for i in indices], plans[indices[0]].min_face)):
                raw[i] = faces
        if self.refine_edges:
            self._refine_at_edges(working, raw)
        return [self._detections(faces, plan) for faces, plan in zip(raw, plans)]

    def _search(self, images: list[Image.Image], min_face: float) -> list[list[_Raw]]:
        """MTCNN over same-size images, ``batch_size`` at a time: (box + score, points) per face."""
        import torch

        m = self._mtcnn
        out: list[list[_Raw]] = []
        for start in range(0, len(images), self.batch_size):
            batch = np.stack([np.asarray(image) for image in images[start:start + self.batch_size]])
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # torch deprecations inside facenet-pytorch
                found = run_cascade(batch, min_face, (m.pnet, m.rnet, m.onet), self.thresholds, m.factor)
            for boxes, points in found:
                out.append([_Raw(box, pts) for box, pts in zip(boxes.astype(np.float64), points.astype(np.float64))])
        return out

    def _refine_at_edges(self, working: list[Image.Image], raw: list[list[_Raw]]) -> None:
        """Search every face within reach of its image's edge again in a black-bordered window
        (module docstring, step 3); the window's answer replaces it, or drops it if it has none."""
        cut = [(i, k) for i, faces in enumerate(raw) for k, face in enumerate(faces)
               if _reaches_edge(face.box, working[i].size)]
        if not cut:
            return
        windows = [_window(raw[i][k].box) for i, k in cut]
        crops = [working[i].crop(window).resize((EDGE_WINDOW, EDGE_WINDOW), Image.Resampling.BILINEAR)
                 for (i, _), window in zip(cut, windows)]
        answers = self._search(crops, self.min_face_size)
        replaced: dict[int, dict[int, _Raw | None]] = defaultdict(dict)
        for (i, k), (x0, y0, x1, _), found in zip(cut, windows, answers):
            scale = (x1 - x0) / EDGE_WINDOW
            mapped = [_Raw(np.r_[face.box[:4] * scale + [x0, y0, x0, y0], face.box[4]],
                           face.points * scale + [x0, y0]) for face in found]
            # the first box of a cut face can be far too large; the face lies inside it
            inside = [face for face in mapped if _centre_inside(face.box, raw[i][k].box)]
            replaced[i][k] = max(inside, key=lambda face: face.box[4]) if inside else None
        for i, answers_of_image in replaced.items():
            faces = [answers_of_image.get(k, face) for k, face in enumerate(raw[i])]
            raw[i] = _without_duplicates([face for face in faces if face is not None])

    def _detections(self, faces: list[_Raw], plan: SearchPlan) -> list[Detection]:
        found = []
        for face in faces:
            x0, y0, x1, y1 = face.box[:4] / plan.scale
            score = float(face.box[4])
            if score < self.min_score:
                continue
            pts = _image_left_first(face.points / plan.scale)
            box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
            if self.check_geometry and not plausible_face(pts, box):
                continue
            found.append(Detection(box=box, score=score, landmarks=tuple((float(x), float(y)) for x, y in pts)))
        return sorted(found, key=lambda d: -d.box[2] * d.box[3])


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    """Torch's CPU threads set to ``threads`` for the calling thread, then put back."""
    import torch

    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class _Raw:
    """One MTCNN answer in working pixels: ``box`` (x0, y0, x1, y1, score), ``points`` (5, 2)."""

    box: np.ndarray
    points: np.ndarray


def _square(box: np.ndarray, grow: float) -> tuple[float, float, float, float]:
    """The square of side ``grow`` times the longer side of ``box`` (x0, y0, x1, y1), same centre."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    half = grow * max(x1 - x0, y1 - y0) / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return cx - half, cy - half, cx + half, cy + half


def _reaches_edge(box: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether MTCNN's square crops around ``box`` (grown a quarter: R-Net's box before its
    regression) run past the image, where facenet-pytorch clamps and stretches them."""
    x0, y0, x1, y1 = _square(box, 1.25)
    return x0 < 0 or y0 < 0 or x1 > size[0] or y1 > size[1]


def _window(box: np.ndarray) -> tuple[int, int, int, int]:
    """The square window, twice the face's side, centred on it (may run past the image)."""
    x0, y0, x1, y1 = _square(box, 2.0)
    side = max(2, round(x1 - x0))
    return round(x0), round(y0), round(x0) + side, round(y0) + side


def _centre_inside(box: np.ndarray, outer: np.ndarray) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return bool(outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3])


def _without_duplicates(faces: list[_Raw]) -> list[_Raw]:
    """Highest score first, dropping a face whose centre lies inside a face already kept (two
    windows can find the same face)."""
    kept: list[_Raw] = []
    for face in sorted(faces, key=lambda face: -face.box[4]):
        if not any(_centre_inside(face.box, other.box) for other in kept):
            kept.append(face)
    return kept


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
