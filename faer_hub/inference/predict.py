"""Run a FAER model on people's own photos and videos.

Every image is decoded by :func:`faer_hub.io.read_image` (as in training), faces are found with
MTCNN (box, score, five landmarks) and cut the way the model's training faces were cut
(``model.pretrained_cfg["face_crop"]``, :mod:`faer_hub.faces.align`), then classified in
batches. Videos give one row per face per sampled frame. Files that cannot be read are reported
one by one; the rest still run.

    from faer_hub.inference.predict import predict
    report = predict(["photos/"], model="local-dir:runs/demo/export")
    for p in report.predictions: print(p.path, p.box, p.top_k[0])
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import torch
from PIL import Image

from ..faces.align import ProtocolLike, align_face, protocol_of_model, resolve_protocol
from ..faces.detect import LANDMARK_NAMES, Detection
from ..io import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageReadError, atomic_path, read_image
from ..models.sources import create_model_from_source
from ..tasks import activate, kind_of_model, label_names_of_model
from .video import VIDEO_EXTENSIONS, VideoReadError, iter_frames

__all__ = [
    "DEFAULT_MAX_PIXELS", "FileError", "ImageReadError", "NoFace", "OUTPUT_FORMATS", "Prediction",
    "PredictionReport", "Predictor", "format_table", "iter_input_files", "predict", "write_report",
]

Box = tuple[float, float, float, float]
"""Face box ``(x, y, width, height)`` in pixels of the EXIF-oriented image (or video frame)."""


@dataclass
class Prediction:
    """The model's answer for one face (or one whole image without detection)."""

    path: str
    face_index: int | None
    """Index of the face in the image or frame, largest first (None when no detection was run)."""
    box: Box | None
    top_k: list[tuple[str, float]]
    """Most likely labels with probabilities (softmax for classes, sigmoid per attribute); for
    valence/arousal models every output in label order with its value."""
    positive: list[str] | None = None
    """Attribute models: every attribute with probability >= threshold, in label order."""
    probabilities: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    """Face detector score."""
    landmarks: list[tuple[float, float]] | None = None
    """Five landmarks: image-left eye, image-right eye, nose, image-left and image-right mouth corner."""
    frame: int | None = None
    """Video frame index (None for images)."""
    time_s: float | None = None
    """Video timestamp in seconds (None for images)."""
    crop_path: str | None = None
    """Where ``save_crops`` wrote the model's view of this face."""
    values: dict[str, float] | None = None
    """Valence/arousal models: ``{"valence": v, "arousal": a}`` in [-1, 1] (no probabilities)."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON-lines record: path, (frame, time_s), face_index, box, score, landmarks, labels."""
        d: dict[str, Any] = {"path": self.path}
        if self.frame is not None:
            d.update(frame=self.frame, time_s=self.time_s)
        d.update(
            face_index=self.face_index,
            box=None if self.box is None else [round(v, 2) for v in self.box],
            score=None if self.score is None else round(self.score, 6),
            landmarks=None if self.landmarks is None else [[round(x, 2), round(y, 2)] for x, y in self.landmarks],
            top_k=[{"label": label, "score": round(score, 6)} for label, score in self.top_k],
        )
        if self.positive is not None:
            d["positive"] = self.positive
        d["probabilities"] = {k: round(v, 6) for k, v in self.probabilities.items()}
        if self.values is not None:
            d["values"] = {k: round(v, 6) for k, v in self.values.items()}
        if self.crop_path is not None:
            d["crop"] = self.crop_path
        return d


@dataclass
class FileError:
    """A file that could not be processed, and why."""

    path: str
    error: str


@dataclass
class NoFace:
    """A readable image (or video frame) in which face detection found no face."""

    path: str
    frame: int | None = None
    time_s: float | None = None


@dataclass
class PredictionReport:
    predictions: list[Prediction] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    no_faces: list[NoFace] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file was read and classified."""
        return not self.errors


def iter_input_files(inputs: Iterable[str | os.PathLike]) -> Iterator[Path]:
    """Files named on the command line as given; folders searched recursively for images and videos.

    A folder without any such file is yielded itself, so that it is reported, not skipped; so are
    image-named links that lead nowhere (broken, or a loop). Linked folders are not followed.
    """
    wanted = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in wanted
                           and (p.is_file() or (p.is_symlink() and not p.exists())))
            yield from found or [path]
        else:
            yield path  # missing files and non-images are reported by read_image


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class _Pending:
    path: str
    face_index: int | None
    detection: Detection | None
    crop: Image.Image
    frame: int | None = None
    time_s: float | None = None


class Predictor:
    """Batched inference of one model over images, videos and folders.

    Args:
        model: A model object or any model source (timm name, ``hf-hub:``, ``local-dir:``, folder).
        pretrained: Load pretrained weights for a plain timm name.
        top_k: How many labels to report per face.
        threshold: Attribute models: probability at or above which an attribute is positive.
        multi_label: Force sigmoid (True) or softmax (False); default: from the model's task.
        detect_faces: Find faces (MTCNN) and classify each, cut with the model's face-crop
            protocol (default). False classifies whole images, for inputs that already are
            aligned crops like the training images.
        face_crop: Override the model's protocol (``celeba``, ``rafdb``, ``affectnet``, ``box``
            or a config dict).
        batch_size: Crops per forward pass.
        device: ``'cpu'``, ``'cuda'`` ...; default: CUDA when available.
        max_pixels: Refuse images larger than this.
        detector: A callable ``image -> list[Detection]`` replacing MTCNN.
        every: Videos: classify every ``every``-th frame.
        save_crops: Folder to write each face as the model received it (before normalisation).
    """

    def __init__(
        self,
        model: torch.nn.Module | str,
        *,
        pretrained: bool = False,
        top_k: int = 5,
        threshold: float = 0.5,
        multi_label: bool | None = None,
        detect_faces: bool = True,
        face_crop: ProtocolLike = None,
        batch_size: int = 32,
        device: str | torch.device | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        detector: Any = None,
        every: int = 1,
        save_crops: str | os.PathLike | None = None,
    ) -> None:
        from ..data.transforms import build_transform, resolve_data_config

        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if isinstance(model, str):
            model = create_model_from_source(model, pretrained=pretrained)
        self.model = model.eval().to(self.device)
        self.labels = label_names_of_model(model)
        self.kind = kind_of_model(model, multi_label)
        self.multi_label = self.kind.multi_label
        self.regression = self.kind.regression
        self.top_k = min(top_k, len(self.labels))
        self.threshold = threshold
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.every = every
        self.face_crop = resolve_protocol(face_crop) if face_crop is not None else protocol_of_model(model)
        if detector is None and detect_faces:
            from ..faces.detect import MTCNNDetector

            detector = MTCNNDetector(device=str(self.device))
        self.detector = detector if detect_faces else None
        self.save_crops = Path(save_crops) if save_crops is not None else None
        data_config = resolve_data_config(model)
        # the evaluation transform of training: resize ("squash") to the input size, normalise
        self.transform = build_transform(data_config)
        self._view = build_transform(data_config, normalize=False)

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """The model input for one decoded image or face crop (the training evaluation transform)."""
        return self.transform(image)

    def model_view(self, image: Image.Image) -> Image.Image:
        """What the model receives for ``image`` before normalisation, as an RGB image."""
        return Image.fromarray(self._view(image).permute(1, 2, 0).numpy())

    def crop(self, image: Image.Image, detection: Detection) -> Image.Image:
        """The face cut with the model's protocol (the detected box when it has none)."""
        return align_face(image, detection, self.face_crop if self.face_crop is not None else "box")

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """Scores ``(N, num_classes)`` for RGB images: probabilities (sigmoid or softmax), or
        valence/arousal clipped to [-1, 1]."""
        out = []
        for start in range(0, len(images), self.batch_size):
            batch = torch.stack([self.preprocess(im) for im in images[start:start + self.batch_size]])
            logits = self.model(batch.to(self.device)).float()
            out.append(activate(logits, self.kind).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.labels))

    def predict(self, inputs: Iterable[str | os.PathLike], *, progress: bool = False) -> PredictionReport:
        """Classify every image, video frame or face in ``inputs`` (files and folders)."""
        report = PredictionReport()
        pending: list[_Pending] = []
        files = list(iter_input_files(inputs))
        iterator: Iterable[Path] = files
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(files, desc="predict", unit="file", file=sys.stderr)
        for path in iterator:
            try:
                for frame, time_s, image in self._images(path):
                    pending += self._faces(str(path), image, frame, time_s, report)
                    if len(pending) >= self.batch_size:
                        report.predictions += self._run(pending)
                        pending = []
            except (ImageReadError, VideoReadError) as err:
                report.errors.append(FileError(str(path), err.reason))
        report.predictions += self._run(pending)
        return report

    def _images(self, path: Path) -> Iterator[tuple[int | None, float | None, Image.Image]]:
        if is_video(path):
            for frame in iter_frames(path, every=self.every):
                yield frame.index, frame.time_s, frame.image
        else:
            yield None, None, read_image(path, max_pixels=self.max_pixels)

    def _faces(self, path: str, image: Image.Image, frame: int | None, time_s: float | None,
               report: PredictionReport) -> list[_Pending]:
        if self.detector is None:
            return [_Pending(path, None, None, image, frame, time_s)]
        detections = self.detector(image)
        if not detections:
            report.no_faces.append(NoFace(path, frame, time_s))
        return [_Pending(path, i, det, self.crop(image, det), frame, time_s) for i, det in enumerate(detections)]

    def _run(self, pending: list[_Pending]) -> list[Prediction]:
        if not pending:
            return []
        probs = self.classify([item.crop for item in pending])
        results = []
        for item, p in zip(pending, probs.tolist()):
            det = item.detection
            if self.regression:  # values, not probabilities: all outputs, in label order
                top_k, values, probabilities = list(zip(self.labels, p)), dict(zip(self.labels, p)), {}
            else:
                order = sorted(range(len(p)), key=lambda i: -p[i])[: self.top_k]
                top_k, values, probabilities = [(self.labels[i], p[i]) for i in order], None, dict(zip(self.labels, p))
            results.append(Prediction(
                path=item.path, face_index=item.face_index, box=None if det is None else det.box,
                top_k=top_k, values=values,
                positive=[lab for lab, v in zip(self.labels, p) if v >= self.threshold] if self.multi_label else None,
                probabilities=probabilities,
                score=None if det is None else det.score,
                landmarks=None if det is None else [tuple(pt) for pt in det.landmarks],
                frame=item.frame, time_s=item.time_s,
                crop_path=str(self._save_crop(item)) if self.save_crops is not None else None,
            ))
        return results

    def _save_crop(self, item: _Pending) -> Path:
        """Write the model's view of one face as PNG: ``<stem>[_f<frame>]_face<i>.png``, atomically."""
        assert self.save_crops is not None
        self.save_crops.mkdir(parents=True, exist_ok=True)
        name = Path(item.path).stem
        if item.frame is not None:
            name += f"_f{item.frame:06d}"
        name += "_image.png" if item.face_index is None else f"_face{item.face_index}.png"
        target = self.save_crops / name
        with atomic_path(target) as tmp:
            self.model_view(item.crop).save(tmp, format="PNG")
        return target


def predict(inputs: Iterable[str | os.PathLike], model: torch.nn.Module | str, **kwargs: Any) -> PredictionReport:
    """Classify images/videos/folders with a model or model source; see :class:`Predictor` for options."""
    progress = kwargs.pop("progress", False)
    return Predictor(model, **kwargs).predict(inputs, progress=progress)


# --- output -------------------------------------------------------------------------------------

OUTPUT_FORMATS = ("table", "jsonl", "csv")


def csv_header(labels: Sequence[str], top_k: int, *, multi_label: bool = False) -> list[str]:
    """Columns of the CSV output: one row per face, ready to plot against ``time_s``; ``status`` is
    ``ok``, ``no face`` (an image or frame without one) or ``error: <why>`` (a file that failed), so
    every input has a row, as in JSON lines."""
    landmark_cols = [f"{name}_{axis}" for name in LANDMARK_NAMES for axis in "xy"]
    ranks = [f"{kind}_{r}" for r in range(1, top_k + 1) for kind in ("label", "score")]
    return (["path", "frame", "time_s", "face_index", "status", "box_x", "box_y", "box_w", "box_h", "face_score",
             *landmark_cols, *ranks] + (["positive"] if multi_label else []) + [f"p_{label}" for label in labels])


def write_report(report: PredictionReport, fmt: str, out: TextIO, *, multi_label: bool = False) -> None:
    """Write predictions as a table, JSON lines or CSV; failed files and faceless images or frames
    are rows too (JSON lines, CSV ``status``; the table lists faceless ones)."""
    if fmt == "jsonl":
        for p in report.predictions:
            out.write(json.dumps(p.to_dict()) + "\n")
        for n in report.no_faces:
            extra = {} if n.frame is None else {"frame": n.frame, "time_s": n.time_s}
            out.write(json.dumps({"path": n.path, **extra, "faces": 0}) + "\n")
        for e in report.errors:
            out.write(json.dumps({"path": e.path, "error": e.error}) + "\n")
    elif fmt == "csv":
        labels = list(report.predictions[0].probabilities) if report.predictions else []
        top_k = max((len(p.top_k) for p in report.predictions), default=0)
        header = csv_header(labels, top_k, multi_label=multi_label)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        blank = lambda v: "" if v is None else v  # noqa: E731
        for p in report.predictions:
            box = [f"{v:.2f}" for v in p.box] if p.box else [""] * 4
            lms = [f"{c:.2f}" for pt in p.landmarks for c in pt] if p.landmarks else [""] * 10
            ranks = [v for label, score in p.top_k for v in (label, f"{score:.6f}")]
            ranks += [""] * (2 * top_k - len(ranks))
            row = [p.path, blank(p.frame), blank(p.time_s), blank(p.face_index), "ok", *box,
                   "" if p.score is None else f"{p.score:.6f}", *lms, *ranks]
            if multi_label:
                row.append(";".join(p.positive or []))
            writer.writerow(row + [f"{p.probabilities.get(label, float('nan')):.6f}" for label in labels])
        padding = [""] * (len(header) - 5)
        for n in report.no_faces:
            writer.writerow([n.path, blank(n.frame), blank(n.time_s), "", "no face", *padding])
        for e in report.errors:
            writer.writerow([e.path, "", "", "", f"error: {e.error}", *padding])
    elif fmt == "table":
        out.write(format_table(report, multi_label=multi_label))
    else:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")


def format_table(report: PredictionReport, *, multi_label: bool = False) -> str:
    """A human-readable, column-aligned table (one row per face)."""
    rows = [("file", "frame", "face", "box", "top labels") + (("positive attributes",) if multi_label else ())]
    for p in report.predictions:
        box = "-" if p.box is None else "{:.0f},{:.0f} {:.0f}x{:.0f}".format(*p.box)
        top = ", ".join(f"{label} {score:.2f}" for label, score in p.top_k)
        frame = "-" if p.frame is None else f"{p.frame} ({p.time_s:.2f}s)"
        row = (p.path, frame, "-" if p.face_index is None else str(p.face_index), box, top)
        rows.append(row + ((", ".join(p.positive or []) or "-",) if multi_label else ()))
    for n in report.no_faces:
        frame = "-" if n.frame is None else f"{n.frame} ({n.time_s:.2f}s)"
        rows.append((n.path, frame, "-", "-", "no face detected") + (("-",) if multi_label else ()))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    buf = io.StringIO()
    for r in rows:
        buf.write("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n")
    return buf.getvalue()
