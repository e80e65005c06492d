"""Run a FAER model on people's own photos.

Images are read robustly (EXIF orientation, grayscale, palette, RGBA, CMYK, 16-bit), optionally
searched for faces with OpenCV's bundled Haar cascade (one result per face, with its box), and
classified in batches. Files that cannot be read are reported one by one; the rest still run.

    from faer_hub.predict import predict
    report = predict(["photos/"], model="local-dir:runs/demo/export", detect_faces=True)
    for p in report.predictions: print(p.path, p.box, p.top_k[0])
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .sources import create_model_from_source, model_kind, model_label_names
from .tasks import activate

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
DEFAULT_MAX_PIXELS = 80_000_000
"""Images with more pixels than this are refused (decompression-bomb guard)."""

Box = tuple[int, int, int, int]
"""Face box ``(x, y, width, height)`` in the EXIF-oriented image."""


@dataclass
class Prediction:
    """The model's answer for one face (or one whole image without detection)."""

    path: str
    face_index: int | None
    """Index of the face in the image (None when no detection was run)."""
    box: Box | None
    top_k: list[tuple[str, float]]
    """Most likely labels with probabilities (softmax for classes, sigmoid per attribute); for
    valence/arousal models every output in label order with its value."""
    positive: list[str] | None = None
    """Attribute models: every attribute with probability >= threshold, in label order."""
    probabilities: dict[str, float] = field(default_factory=dict)
    values: dict[str, float] | None = None
    """Valence/arousal models: ``{"valence": v, "arousal": a}`` in [-1, 1] (no probabilities)."""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["top_k"] = [{"label": label, "score": round(score, 6)} for label, score in self.top_k]
        d["probabilities"] = {k: round(v, 6) for k, v in self.probabilities.items()}
        if self.positive is None:
            d.pop("positive")
        if self.values is None:
            d.pop("values")
        else:
            d["values"] = {k: round(v, 6) for k, v in self.values.items()}
        return d


@dataclass
class FileError:
    """A file that could not be processed, and why."""

    path: str
    error: str


@dataclass
class NoFace:
    """A readable image in which face detection found no face."""

    path: str


@dataclass
class PredictionReport:
    predictions: list[Prediction] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    no_faces: list[NoFace] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file was read and classified."""
        return not self.errors


class ImageReadError(ValueError):
    """An input file is not a usable image."""


# --- reading images -----------------------------------------------------------------------------


def load_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Read an image as 8-bit RGB, EXIF orientation applied; raise :class:`ImageReadError`."""
    path = Path(path)
    if path.is_dir():
        raise ImageReadError(f"folder holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    if not path.is_file():
        raise ImageReadError("file not found" if not path.exists() else "not a regular file")
    try:
        with Image.open(path) as img:
            if img.width * img.height > max_pixels:
                raise ImageReadError(
                    f"image too large: {img.width}x{img.height} = {img.width * img.height:,} pixels "
                    f"(limit {max_pixels:,}; raise --max-pixels if you trust the file)"
                )
            img.load()
            return to_rgb(ImageOps.exif_transpose(img))
    except UnidentifiedImageError:
        raise ImageReadError("not an image (unrecognised format)") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(f"image too large: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        if isinstance(err, ImageReadError):
            raise
        raise ImageReadError(f"unreadable image: {err}") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (1, L, P, LA, RGBA, CMYK, I;16, I, F ...) to 8-bit RGB.

    Transparent pixels are composited on white; 16/32-bit grayscale is rescaled, not clipped.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            peak = 1.0
        arr = np.clip(arr / peak * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def iter_image_files(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files named on the command line as given; folders searched recursively for image files.

    A folder without any image file is yielded itself, so that it is reported, not skipped.
    """
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
            yield from found or [path]
        else:
            yield path  # missing files and non-images are reported by load_image


# --- faces --------------------------------------------------------------------------------------


class HaarFaceDetector:
    """Frontal-face detector from OpenCV's bundled Haar cascade (``cv2.data.haarcascades``)."""

    def __init__(self, *, min_size: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5,
                 margin: float = 0.25) -> None:
        try:
            import cv2
        except ImportError as err:  # pragma: no cover - opencv is a declared extra
            raise ImportError("--detect-faces needs OpenCV: pip install 'faer_hub[detect]'") from err
        cascade_path = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"
        if not hasattr(cv2, "CascadeClassifier") or not cascade_path.is_file():
            raise RuntimeError(
                f"OpenCV {cv2.__version__} has no bundled Haar face cascade (OpenCV 5 dropped it); "
                "install 'opencv-python-headless>=4.8,<5' for --detect-faces"
            )
        self._cascade = cv2.CascadeClassifier(str(cascade_path))
        if self._cascade.empty():
            raise RuntimeError(f"could not load OpenCV's face cascade from {cascade_path}")
        self._cv2 = cv2
        self.min_size, self.scale_factor, self.min_neighbors, self.margin = (
            min_size, scale_factor, min_neighbors, margin)

    def __call__(self, image: Image.Image) -> list[Box]:
        """Face boxes (x, y, w, h), widened by ``margin`` and clipped to the image, largest first."""
        gray = np.asarray(image.convert("L"))
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size))
        boxes = [expand_box(tuple(int(v) for v in b), image.size, self.margin) for b in found]
        return sorted(boxes, key=lambda b: -b[2] * b[3])


def expand_box(box: Box, image_size: tuple[int, int], margin: float) -> Box:
    """Grow ``box`` by ``margin`` of its size on each side, clipped to the image."""
    x, y, w, h = box
    width, height = image_size
    dx, dy = round(w * margin), round(h * margin)
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    return (x0, y0, x1 - x0, y1 - y0)


# --- the predictor ------------------------------------------------------------------------------


class Predictor:
    """Batched inference of one model over images, files or folders.

    Args:
        model: A model object or any model source (timm name, ``hf-hub:``, ``local-dir:``, folder).
        pretrained: Load pretrained weights for a plain timm name.
        top_k: How many labels to report per face.
        threshold: Attribute models: probability at or above which an attribute is positive.
        multi_label: Force sigmoid (True) or softmax (False); default: from the model's task.
        detect_faces: Find faces with OpenCV and classify each crop; otherwise the whole image.
        batch_size: Crops per forward pass.
        device: ``'cpu'``, ``'cuda'`` ...; default: CUDA when available.
        max_pixels: Refuse images larger than this.
    """

    def __init__(
        self,
        model: torch.nn.Module | str,
        *,
        pretrained: bool = False,
        top_k: int = 5,
        threshold: float = 0.5,
        multi_label: bool | None = None,
        detect_faces: bool = False,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        detector: Any = None,
    ) -> None:
        from .data.transforms import build_transform, resolve_data_config

        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if isinstance(model, str):
            model = create_model_from_source(model, pretrained=pretrained)
        self.model = model.eval().to(self.device)
        self.labels = model_label_names(model)
        self.kind = model_kind(model, multi_label)
        self.multi_label = self.kind.name == "fae"
        self.regression = self.kind.problem_type == "regression"
        self.top_k = min(top_k, len(self.labels))
        self.threshold = threshold
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.detector = detector if detector is not None else (HaarFaceDetector() if detect_faces else None)
        # the evaluation transform of training: resize ("squash") to the input size, normalise
        self.transform = build_transform(resolve_data_config(model), training=False)

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Scores ``(N, num_classes)`` for RGB images: probabilities (sigmoid or softmax), or
        valence/arousal clipped to [-1, 1]."""
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.transform(to_rgb(im)) for im in images[start:start + self.batch_size]])
            logits = self.model(batch.to(self.device)).float()
            out.append(activate(logits, self.kind).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.labels))

    def predict(self, inputs: Iterable[str | os.PathLike], *, progress: bool = False) -> PredictionReport:
        """Classify every image (or face) in ``inputs`` (files and folders)."""
        report = PredictionReport()
        pending: list[tuple[str, int | None, Box | None, Image.Image]] = []
        files = list(iter_image_files(inputs))
        iterator: Iterable[Path] = files
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(files, desc="predict", unit="img", file=sys.stderr)
        for path in iterator:
            try:
                image = load_image(path, max_pixels=self.max_pixels)
            except ImageReadError as err:
                report.errors.append(FileError(str(path), str(err)))
                continue
            if self.detector is None:
                pending.append((str(path), None, None, image))
            else:
                boxes = self.detector(image)
                if not boxes:
                    report.no_faces.append(NoFace(str(path)))
                for i, (x, y, w, h) in enumerate(boxes):
                    pending.append((str(path), i, (x, y, w, h), image.crop((x, y, x + w, y + h))))
            if len(pending) >= self.batch_size:
                report.predictions += self._run(pending)
                pending = []
        report.predictions += self._run(pending)
        return report

    def _run(self, pending: list[tuple[str, int | None, Box | None, Image.Image]]) -> list[Prediction]:
        if not pending:
            return []
        probs = self.classify([crop for *_, crop in pending])
        results = []
        for (path, face, box, _), p in zip(pending, probs.tolist()):
            if self.regression:  # values, not probabilities: all outputs, in label order
                results.append(Prediction(path=path, face_index=face, box=box, top_k=list(zip(self.labels, p)),
                                          values=dict(zip(self.labels, p))))
                continue
            order = sorted(range(len(p)), key=lambda i: -p[i])[: self.top_k]
            results.append(Prediction(
                path=path, face_index=face, box=box,
                top_k=[(self.labels[i], p[i]) for i in order],
                positive=[lab for lab, v in zip(self.labels, p) if v >= self.threshold] if self.multi_label else None,
                probabilities=dict(zip(self.labels, p)),
            ))
        return results


def predict(inputs: Iterable[str | os.PathLike], model: torch.nn.Module | str, **kwargs: Any) -> PredictionReport:
    """Classify images/folders with a model or model source; see :class:`Predictor` for options."""
    progress = kwargs.pop("progress", False)
    return Predictor(model, **kwargs).predict(inputs, progress=progress)


# --- output -------------------------------------------------------------------------------------

OUTPUT_FORMATS = ("table", "jsonl", "csv")


def write_report(report: PredictionReport, fmt: str, out: TextIO, *, multi_label: bool = False) -> None:
    """Write predictions as a table, JSON lines or CSV. Errors go in JSON lines as records too."""
    if fmt == "jsonl":
        for p in report.predictions:
            out.write(json.dumps(p.to_dict()) + "\n")
        for n in report.no_faces:
            out.write(json.dumps({"path": n.path, "faces": 0}) + "\n")
        for e in report.errors:
            out.write(json.dumps(asdict(e)) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        header = ["path", "face_index", "box_x", "box_y", "box_w", "box_h", "rank", "label", "score"]
        writer.writerow(header + (["positive"] if multi_label else []))
        for p in report.predictions:
            box = list(p.box) if p.box else ["", "", "", ""]
            face = "" if p.face_index is None else p.face_index
            for rank, (label, score) in enumerate(p.top_k, 1):
                row = [p.path, face, *box, rank, label, f"{score:.6f}"]
                writer.writerow(row + ([int(label in (p.positive or []))] if multi_label else []))
    elif fmt == "table":
        out.write(format_table(report, multi_label=multi_label))
    else:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def format_table(report: PredictionReport, *, multi_label: bool = False) -> str:
    """A human-readable, column-aligned table (one row per face)."""
    rows = [("file", "face", "box", "top labels") + (("positive attributes",) if multi_label else ())]
    for p in report.predictions:
        box = "-" if p.box is None else "{},{} {}x{}".format(*p.box)
        top = ", ".join(f"{label} {score:.2f}" for label, score in p.top_k)
        row = (p.path, "-" if p.face_index is None else str(p.face_index), box, top)
        rows.append(row + ((", ".join(p.positive or []) or "-",) if multi_label else ()))
    for n in report.no_faces:
        rows.append((n.path, "-", "-", "no face detected") + (("-",) if multi_label else ()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    buf = io.StringIO()
    for r in rows:
        buf.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    return buf.getvalue()
