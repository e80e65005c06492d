"""Run a FAER model on people's own photos and videos: the one path every surface uses.

Every image is decoded by :func:`faer_hub.io.read_image` (as in training), faces are found with
MTCNN (box, score, five landmarks; :data:`DETECT_WINDOW` consecutive pictures per search) and cut
the way the model's training faces were cut (``model.pretrained_cfg["face_crop"]``,
:mod:`faer_hub.faces.align`), then classified in batches. Videos give one row per face per
sampled frame. Files that cannot be read, and pictures too small to hold a detectable face, become
rows saying so; the rest still run.
``faer_hub.analyze``, ``faer-hub predict`` (one or many processes), the app and the benchmarks
are thin layers over :class:`Predictor`.

    import faer_hub
    results = faer_hub.analyze("photos/", model="runs/demo/export")
    results.to_pandas()                      # one row per face: the CSV's columns
    for face in results: print(face["path"], face["box"], face["top_k"][0])
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import torch
from PIL import Image

from ..faces.align import ProtocolLike, align_face, protocol_of_model, resolve_protocol
from ..faces.detect import Detection
from ..io import DEFAULT_MAX_PIXELS, ImageReadError, atomic_path, read_image
from ..hub.sources import create_model_from_source
from ..tasks import activate, kind_of_model, label_names_of_model
from .output import OUTPUT_FORMATS, csv_header, csv_values, format_table, write_report
from .sources import InputItem, is_video, iter_input_files, iter_inputs
from .video import VideoReadError, iter_frames

__all__ = [
    "Analyzer", "BATCH_SIZE", "DEFAULT_MAX_PIXELS", "DETECT_WINDOW", "FileError", "ImageReadError", "MIN_DETECT_SIDE", "NoFace",
    "OUTPUT_FORMATS", "Prediction", "PredictionReport", "Predictor", "Unit", "analyze", "csv_header", "format_table",
    "iter_input_files", "predict", "too_small_reason", "write_report",
]

Box = tuple[float, float, float, float]
"""Face box ``(x, y, width, height)`` in pixels of the EXIF-oriented image (or video frame)."""

DETECT_WINDOW = 8
"""Consecutive pictures searched for faces with one ``detect_batch`` call (at most ``batch_size``):
eight decoded pictures in memory at a time; MTCNN runs same-size ones (a video's frames) as one batch."""

BATCH_SIZE = {"cpu": 8, "accelerator": 32}
"""Default crops per forward pass. On a CPU small batches stay in cache: at 224 px on 2 cores,
``faer_atto`` took 9.2 ms a face in batches of 8 against 11.1 in batches of 32, ``faer_base`` 184
against 198 (measured here)."""

MIN_DETECT_SIDE = 20
"""Shortest side (pixels, as the detector sees the picture) that can hold a face MTCNN finds: its
smallest face is 20 px (``min_face_size``); below it MTCNN's image pyramid is empty."""


@dataclass
class Prediction:
    """The model's answer for one face (or one whole image without detection).

    ``prediction["box"]`` etc. read the JSON-lines record (:meth:`to_dict`), as plain data.
    """

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
    status = "ok"

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
        if self.values is not None:  # valence/arousal: values instead of probabilities
            d["values"] = {k: round(v, 6) for k, v in self.values.items()}
        else:
            d["probabilities"] = {k: round(v, 6) for k, v in self.probabilities.items()}
        if self.crop_path is not None:
            d["crop"] = self.crop_path
        return d

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def keys(self) -> Any:
        return self.to_dict().keys()


@dataclass
class FileError:
    """An input that could not be processed, and why."""

    path: str
    error: str

    @property
    def status(self) -> str:
        return f"error: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error}


@dataclass
class NoFace:
    """A readable image (or video frame) without a face: none found, or too small to search."""

    path: str
    frame: int | None = None
    time_s: float | None = None
    status: str = "no face"
    """``no face``, or ``too small: <why>`` for a picture under :data:`MIN_DETECT_SIDE`."""

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.frame is None else {"frame": self.frame, "time_s": self.time_s}
        return {"path": self.path, **extra, "faces": 0, "status": self.status}


Row = Union[Prediction, NoFace, FileError]


@dataclass
class Unit:
    """The rows of one image or video frame (or of an input that failed), in input order.

    ``end`` units close an input (no rows; ``warnings`` such as a truncated video's).
    """

    index: int
    path: str
    rows: list[Row] = field(default_factory=list)
    image: Image.Image | None = None
    """The decoded picture, when the predictor keeps it (``keep_images``, for ``--annotate``)."""
    frame: int | None = None
    time_s: float | None = None
    end: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass
class PredictionReport:
    """Every row of a run in input order, with views by kind and table conversions."""

    rows: list[Row] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    """The model's label names (CSV ``p_<label>`` columns; empty for valence/arousal models)."""
    ranks: int = 0
    """``label_i``/``score_i`` column pairs (top-k)."""
    multi_label: bool = False

    @property
    def predictions(self) -> list[Prediction]:
        return [r for r in self.rows if isinstance(r, Prediction)]

    @property
    def errors(self) -> list[FileError]:
        return [r for r in self.rows if isinstance(r, FileError)]

    @property
    def no_faces(self) -> list[NoFace]:
        return [r for r in self.rows if isinstance(r, NoFace)]

    @property
    def ok(self) -> bool:
        """True when every file was read and classified."""
        return not self.errors

    def __iter__(self) -> Iterator[Prediction]:
        """The faces (one :class:`Prediction` each); ``rows`` also holds faceless and failed inputs."""
        return iter(self.predictions)

    def __len__(self) -> int:
        return len(self.predictions)

    def __getitem__(self, index: int) -> Prediction:
        return self.predictions[index]

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every row as its JSON-lines record (faces, faceless pictures, failed inputs)."""
        return [row.to_dict() for row in self.rows]

    def to_pandas(self) -> Any:
        """A DataFrame with the CSV's columns, one row per face, faceless picture or failed input."""
        import pandas as pd

        header = csv_header(self.labels, self.ranks, multi_label=self.multi_label)
        return pd.DataFrame([csv_values(r, self.labels, self.ranks, self.multi_label) for r in self.rows],
                            columns=header)

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the CSV (atomically)."""
        self._write(path, "csv")

    def to_jsonl(self, path: str | os.PathLike) -> None:
        """Write the JSON lines (atomically)."""
        self._write(path, "jsonl")

    def _write(self, path: str | os.PathLike, fmt: str) -> None:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
            write_report(self, fmt, out, multi_label=self.multi_label)


def too_small_reason(image: Image.Image, detector: Any = None) -> str | None:
    """Why face detection cannot search ``image`` (``"12x300 px: ..."``), or None when it can.

    Uses the size the detector searches at (MTCNN shrinks pictures longer than its ``max_side``).
    The CLI's rows and the app's message both come from here.
    """
    width, height = image.size
    max_side = getattr(detector, "max_side", None)
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    if min(width, height) * scale >= MIN_DETECT_SIDE:
        return None
    shrunk = f" (searched at {scale:.2f}x)" if scale < 1.0 else ""
    return (f"{width}x{height} px{shrunk}: face detection needs at least {MIN_DETECT_SIDE} px a side; "
            "pass --no-detect if the pictures already are face crops")


@dataclass
class _Pending:
    """One face cut and waiting for the model (or a whole image, without detection)."""

    unit: Unit
    face_index: int | None
    detection: Detection | None
    crop: Image.Image


@dataclass
class _Picture:
    """A decoded picture waiting to be searched for faces; ``faces`` is its unit's queue entry."""

    unit: Unit
    image: Image.Image
    faces: list[_Pending] = field(default_factory=list)


class Predictor:
    """Batched inference of one model over pictures, videos and folders (also ``Analyzer``).

    The model and the detector are loaded once; call :meth:`predict` (or the predictor itself) as
    often as needed.

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
        batch_size: Crops per forward pass (default :data:`BATCH_SIZE`: 8 on a CPU, 32 on an
            accelerator).
        device: ``'cpu'``, ``'cuda'`` ...; default: CUDA when available. A device this machine
            lacks is a ``ValueError`` saying which to pass.
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
        batch_size: int | None = None,
        device: str | torch.device | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        detector: Any = None,
        every: int = 1,
        save_crops: str | os.PathLike | None = None,
    ) -> None:
        from ..data.transforms import build_transform, resolve_data_config
        from .preflight import check_device

        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.device = check_device(device)
        if isinstance(model, (str, os.PathLike)):
            model = create_model_from_source(str(model), pretrained=pretrained)
        self.model = model.eval().to(self.device)
        self.labels = label_names_of_model(model)
        self.kind = kind_of_model(model, multi_label)
        self.multi_label = self.kind.multi_label
        self.regression = self.kind.regression
        self.top_k = min(top_k, len(self.labels))
        self.threshold = threshold
        self.batch_size = batch_size or BATCH_SIZE["cpu" if self.device.type == "cpu" else "accelerator"]
        self.max_pixels = max_pixels
        self.every = every
        self.face_crop = resolve_protocol(face_crop) if face_crop is not None else protocol_of_model(model)
        if detector is None and detect_faces:
            from ..faces.detect import MTCNNDetector

            detector = MTCNNDetector(device=str(self.device))
        self.detector = detector if detect_faces else None
        self.save_crops = os.fspath(save_crops) if save_crops is not None else None
        data_config = resolve_data_config(model)
        # the evaluation transform of training: resize ("squash") to the input size, normalise
        self.transform = build_transform(data_config)
        self._view = build_transform(data_config, normalize=False)

    # --- the model's side ------------------------------------------------------------------------

    @property
    def ranks(self) -> int:
        """``label_i``/``score_i`` pairs per face: top-k, or every output of a valence/arousal model."""
        return len(self.labels) if self.regression else self.top_k

    @property
    def csv_labels(self) -> list[str]:
        """Labels with a ``p_<label>`` probability column (none for valence/arousal models)."""
        return [] if self.regression else list(self.labels)

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

    # --- the run ---------------------------------------------------------------------------------

    def predict(self, inputs: Any, *, progress: bool = False) -> PredictionReport:
        """Classify every face in ``inputs``: a path (str or Path), folder, video, PIL image, RGB
        NumPy array, or a list of these. Returns every row in input order."""
        report = PredictionReport(labels=self.csv_labels, ranks=self.ranks, multi_label=self.multi_label)
        for unit in self.iter_units(inputs, progress=progress):
            report.rows += unit.rows
            report.warnings += unit.warnings
        return report

    __call__ = predict

    def iter_units(self, inputs: Any, *, progress: bool = False, skip: Callable[[str], bool] | None = None,
                   shard: tuple[int, int] | None = None, keep_images: bool = False,
                   stats: dict[str, float] | None = None) -> Iterator[Unit]:
        """Stream the run: one :class:`Unit` per picture or video frame, in input order, each as
        soon as its batch is classified (then an ``end`` unit per input).

        Consecutive pictures (photos and video frames alike) are searched for faces
        :data:`DETECT_WINDOW` at a time with one ``detector.detect_batch`` call when the detector
        has one (MTCNN searches same-size pictures, such as a video's frames, as one batch), else
        one by one; the faces are classified ``batch_size`` at a time. At most ``batch_size``
        pictures wait for classification and :data:`DETECT_WINDOW` for detection, so memory
        stays bounded and rows keep coming on a long run of pictures without faces.

        ``skip(path)`` leaves inputs out (``--resume``); ``shard=(rank, world)`` keeps the inputs
        numbered ``rank`` modulo ``world`` (several processes); ``keep_images`` keeps each decoded
        picture on its unit (``--annotate``); ``stats`` adds up seconds per stage (decode, detect,
        align, classify) for benchmarks.
        """
        bar = _progress_bar() if progress else None
        queue: deque[tuple[Unit, list[_Pending]]] = deque()  # input order, until classified
        window: list[_Picture] = []  # decoded, until searched for faces
        window_size = min(self.batch_size, DETECT_WINDOW) if self.detector is not None else 1
        waiting = held = faces = 0  # faces and pictures (or failed inputs) waiting for the model

        def detect() -> None:
            nonlocal waiting, faces
            found = self._detect(window, stats)
            if bar is not None:
                faces += found
                bar.set_postfix_str(f"{faces} faces", refresh=False)
                bar.update(len(window))
            window.clear()
            waiting += found

        def flush(at_least: int) -> Iterator[Unit]:
            """Classify and hand out the queue once ``at_least`` faces or pictures wait (when
            every queued picture has been searched: the window is empty)."""
            nonlocal waiting, held
            if queue and not window and max(waiting, held) >= at_least:
                yield from self._flush(queue, stats)
                waiting = held = 0

        try:
            for item in iter_inputs(inputs):
                if shard is not None and item.index % shard[1] != shard[0]:
                    continue
                if skip is not None and skip(item.label):
                    continue
                end = Unit(item.index, item.label, end=True)
                try:
                    for frame, time_s, image in self._pictures(item, end.warnings, stats):
                        unit = Unit(item.index, item.label, image=image if keep_images else None, frame=frame,
                                    time_s=time_s)
                        picture = _Picture(unit, image)
                        queue.append((unit, picture.faces))
                        window.append(picture)
                        held += 1
                        if len(window) >= window_size:
                            detect()
                            yield from flush(self.batch_size)
                except (ImageReadError, VideoReadError) as err:
                    queue.append((Unit(item.index, item.label, [FileError(item.label, err.reason)]), []))
                    held += 1
                queue.append((end, []))
                yield from flush(self.batch_size)
            if window:
                detect()
            yield from flush(0)
        finally:
            if bar is not None:
                bar.close()

    def _pictures(self, item: InputItem, warnings: list[str],
                  stats: dict[str, float] | None) -> Iterator[tuple[int | None, float | None, Image.Image]]:
        clock = _Clock(stats, "decode")
        if isinstance(item.source, os.PathLike) and is_video(item.source):
            frames = iter_frames(item.source, every=self.every, on_truncated=warnings.append)
            while True:
                with clock:
                    frame = next(frames, None)
                if frame is None:
                    return
                yield frame.index, frame.time_s, frame.image
        else:
            with clock:
                image = read_image(item.source, max_pixels=self.max_pixels)
            yield None, None, image

    def _find_faces(self, images: Sequence[Image.Image]) -> list[list[Detection]]:
        """The faces of each decoded picture: one ``detector.detect_batch`` call when the detector
        has that method (:class:`~faer_hub.faces.detect.MTCNNDetector`), else one call per picture."""
        batch = getattr(self.detector, "detect_batch", None)
        if callable(batch):
            return list(batch(list(images)))
        return [self.detector(image) for image in images]

    def _detect(self, window: list[_Picture], stats: dict[str, float] | None) -> int:
        """Fill each picture's faces (cut, waiting for the model) or its no-face row; the faces found."""
        if self.detector is None:
            for picture in window:
                picture.faces.append(_Pending(picture.unit, None, None, picture.image))
            return len(window)
        searched = []
        for picture in window:
            reason = too_small_reason(picture.image, self.detector)
            if reason is None:
                searched.append(picture)
            else:
                unit = picture.unit
                unit.rows.append(NoFace(unit.path, unit.frame, unit.time_s, status=f"too small: {reason}"))
        if not searched:
            return 0
        with _Clock(stats, "detect"):
            found = self._find_faces([picture.image for picture in searched])
        with _Clock(stats, "align"):
            for picture, detections in zip(searched, found, strict=True):
                unit = picture.unit
                if not detections:
                    unit.rows.append(NoFace(unit.path, unit.frame, unit.time_s))
                picture.faces += [_Pending(unit, i, det, self.crop(picture.image, det))
                                  for i, det in enumerate(detections)]
        return sum(len(detections) for detections in found)

    def _flush(self, queue: deque[tuple[Unit, list[_Pending]]], stats: dict[str, float] | None) -> Iterator[Unit]:
        pending = [p for _, faces in queue for p in faces]
        if pending:
            with _Clock(stats, "classify"):
                scores = self.classify([p.crop for p in pending]).tolist()
            for item, p in zip(pending, scores):
                item.unit.rows.append(self._prediction(item, p))
        while queue:
            yield queue.popleft()[0]

    def _prediction(self, item: _Pending, p: list[float]) -> Prediction:
        det, unit = item.detection, item.unit
        if self.regression:  # values, not probabilities: all outputs, in label order
            top_k, values, probabilities = list(zip(self.labels, p)), dict(zip(self.labels, p)), {}
        else:
            order = sorted(range(len(p)), key=lambda i: -p[i])[: self.top_k]
            top_k, values, probabilities = [(self.labels[i], p[i]) for i in order], None, dict(zip(self.labels, p))
        return Prediction(
            path=unit.path, face_index=item.face_index, box=None if det is None else det.box,
            top_k=top_k, values=values,
            positive=[lab for lab, v in zip(self.labels, p) if v >= self.threshold] if self.multi_label else None,
            probabilities=probabilities,
            score=None if det is None else det.score,
            landmarks=None if det is None else [tuple(pt) for pt in det.landmarks],
            frame=unit.frame, time_s=unit.time_s,
            crop_path=str(self._save_crop(item)) if self.save_crops is not None else None,
        )

    def _save_crop(self, item: _Pending) -> str:
        """Write the model's view of one face as PNG, atomically, named per input path
        (:func:`faer_hub.inference.output.output_name`: ``<stem>-<hash>[_f<frame>]_face<i>.png``)."""
        from .output import output_name, write_error

        assert self.save_crops is not None
        suffix = "_image" if item.face_index is None else f"_face{item.face_index}"
        target = os.path.join(self.save_crops, output_name(item.unit.path, item.unit.frame, suffix + ".png"))
        try:
            os.makedirs(self.save_crops, exist_ok=True)
            with atomic_path(target) as tmp:
                self.model_view(item.crop).save(tmp, format="PNG")
        except OSError as err:
            raise write_error(target, err) from None
        return target


Analyzer = Predictor
"""The name people coming from ``DeepFace.analyze`` look for: load once, call many times."""


def analyze(source: Any, *, model: torch.nn.Module | str | os.PathLike, progress: bool = False,
            **options: Any) -> PredictionReport:
    """Every face in ``source`` with the model's labels: one call from picture to answer.

    ``source`` is a path (str or Path), a folder, a video, a PIL image, an RGB NumPy array (a
    webcam or OpenCV frame after ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)``), or a list of
    these; ``model`` any model source (an export folder, ``hf-hub:org/repo``, a timm name) or a
    model. ``options`` are :class:`Predictor`'s. The same picture gives the same numbers in any of
    these forms. For repeated calls build an :class:`Analyzer` once and call it.
    """
    return Predictor(model, **options).predict(source, progress=progress)


def predict(inputs: Any, model: torch.nn.Module | str, **kwargs: Any) -> PredictionReport:
    """Classify images/videos/folders with a model or model source; see :class:`Predictor` for options."""
    progress = kwargs.pop("progress", False)
    return Predictor(model, **kwargs).predict(inputs, progress=progress)


class _Clock:
    """Adds the seconds a block takes to ``stats[stage]`` (nothing when ``stats`` is None)."""

    def __init__(self, stats: dict[str, float] | None, stage: str) -> None:
        self.stats, self.stage = stats, stage

    def __enter__(self) -> None:
        if self.stats is not None:
            self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        if self.stats is not None:
            self.stats[self.stage] = self.stats.get(self.stage, 0.0) + time.perf_counter() - self.start


def _progress_bar() -> Any:
    """Pictures and video frames done, with the faces found (a video counts its frames)."""
    from tqdm.auto import tqdm

    return tqdm(desc="predict", unit="frame", file=sys.stderr, dynamic_ncols=True)

