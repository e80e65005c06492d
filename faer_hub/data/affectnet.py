"""AffectNet builder: the original release, the newer ``train_set``/``val_set`` release and
folder-per-class redistributions.

Configs ``'7'`` (default; codes 0-6, :data:`faer_hub.tasks.AFFECTNET7_LABELS`) and ``'8'``
(codes 0-7). Codes 8-10 (None, Uncertain, No-Face) are always dropped and contempt (7) is
dropped for 7 classes; both are counted as *filtered by design* in the build report. The
original release's images are cropped to their face box by the ``affectnet`` face-crop protocol
(:mod:`faer_hub.faces.align`: squared about its centre, clamped to the image), the crop
prediction cuts from a detected face. Splits: train,
and test = the official validation set (papers report on it).

Valence and arousal (AffectNet's dimensional annotation, both in [-1, 1]; Mollahosseini et al.,
*AffectNet*, IEEE Trans. Affective Computing 2017) are ``valence``/``arousal`` float32 columns
wherever the layout has them: the original CSVs' last two columns, the newer release's
``<n>_val.npy``/``<n>_aro.npy``. Folder-per-class copies (and newer-release copies without any
``*_val.npy``) carry none, so their datasets have no such columns and config ``'va'`` refuses them. A kept row whose value is not a number in
[-1, 1] (including -2, the files' "no value" code) is a bad row like any other.

Config ``'va'`` (the valence/arousal task) keeps every row with codes 0-8, i.e. the seven basic
expressions, contempt and None, whose valence and arousal were annotated; codes 9-10
(Uncertain, No-Face) hold -2 there and are filtered by design. Its ``expression`` column
(:data:`faer_hub.tasks.AFFECTNET_VA_EXPRESSIONS`) keeps the code for analysis and stratified
validation carving; there is no ``label`` column, so loaders train on valence and arousal.
"""

from __future__ import annotations

import csv
import functools
import math
from pathlib import Path

import datasets
import numpy as np

from ..faces.align import PROTOCOLS, square_box
from ..io import IMAGE_EXTENSIONS
from ..tasks import AFFECTNET7_LABELS, AFFECTNET8_LABELS, AFFECTNET_VA_EXPRESSIONS, AFFECTNET_VA_LABELS
from ._builder import Candidate, FaerBuilder, FaerBuilderConfig, Layout, Row, layout_not_found, read_rows
from .errors import AnnotationError, DatasetNotFoundError

LISTS = "Manually_Annotated_file_lists"
COLUMNS = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height",
           "facial_landmarks", "expression", "valence", "arousal")
CODE_NAMES = (*AFFECTNET8_LABELS, "none", "uncertain", "no-face")
FOLDER_ALIASES = {
    "neutral": 0, "happy": 1, "happiness": 1, "sad": 2, "sadness": 2, "surprise": 3, "surprised": 3,
    "fear": 4, "fearful": 4, "disgust": 5, "disgusted": 5, "anger": 6, "angry": 6, "contempt": 7,
    **{str(code): code for code in range(11)},
}
NO_VALUE = -2.0
"""What AffectNet's files hold for valence/arousal that was not annotated (Uncertain, No-Face)."""
VA_CONFIG = "va"
TRAIN_DIRS = ("train", "training", "train_set")
TEST_DIRS = ("val", "validation", "valid", "val_set", "test")


def dataset_box(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The region the builder cuts for a CSV face box: the ``affectnet`` protocol's (squared if it squares)."""
    return square_box(box) if PROTOCOLS["affectnet"].square else box


def _face_box(raw: list[str]) -> tuple[float, float, float, float] | str:
    """A CSV face box (x, y, width, height) as floats, or why it is no box: a value that is not a
    finite number, a width or height that is not positive, or a cut region whose edges overflow."""
    try:
        x, y, w, h = (float(v) for v in raw)
    except ValueError:
        return f"face box {raw} is not numeric"
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return f"face box {raw} is not finite"
    if w <= 0 or h <= 0:
        return f"face box {raw} has no area"
    left, top, width, height = dataset_box((x, y, w, h))
    if not (math.isfinite(left + width) and math.isfinite(top + height)):  # box_region would round inf
        return f"face box {raw} reaches past any image"
    return x, y, w, h


def _new_release_has_va(annotations: Path) -> bool:
    """Whether a newer-release annotation folder holds valence files at all (some copies keep only
    ``*_exp.npy``): then every row must have both, else none is read."""
    return next(annotations.glob("*_val.npy"), None) is not None


def _find_dir(root: Path, names: tuple[str, ...]) -> Path | None:
    by_lower = {p.name.lower(): p for p in root.iterdir() if p.is_dir()} if root.is_dir() else {}
    return next((by_lower[n] for n in names if n in by_lower), None)


class AffectNet(FaerBuilder):
    """AffectNet manually annotated images: 7 or 8 expression classes, or valence and arousal."""

    DATASET = "affectnet"
    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIGS = [
        FaerBuilderConfig(name="7", version=VERSION, description="7 basic expressions (codes 0-6)"),
        FaerBuilderConfig(name="8", version=VERSION, description="7 basic expressions + contempt (codes 0-7)"),
        FaerBuilderConfig(name=VA_CONFIG, version=VERSION,
                          description="valence and arousal in [-1, 1] of the rows with codes 0-8"),
    ]
    DEFAULT_CONFIG_NAME = "7"

    @classmethod
    def detect_layout(cls, data_dir: Path, config_name: str) -> Layout:
        if config_name not in ("7", "8", VA_CONFIG):
            raise ValueError(f"AffectNet config must be '7', '8' or '{VA_CONFIG}', got {config_name!r}")
        official = Candidate("official", (f"{LISTS}/training.csv", f"{LISTS}/validation.csv",
                                          "Manually_Annotated_Images"))
        newer = Candidate("train_set/val_set", ("train_set/images", "train_set/annotations",
                                                "val_set/images", "val_set/annotations"))
        folders = Candidate("folder per class", ("train/<class>/", "val/<class>/"))
        lists_ok = all((data_dir / p).is_file() for p in official.required[:2])
        for images in (data_dir / "Manually_Annotated_Images",
                       data_dir / "Manually_Annotated" / "Manually_Annotated_Images"):
            if lists_ok and images.is_dir():
                return Layout("official", data_dir,
                              {"train": data_dir / LISTS / "training.csv",
                               "test": data_dir / LISTS / "validation.csv"}, {"images": images})
        if all((data_dir / p).is_dir() for p in newer.required):
            dirs = {p.replace("/", "_"): data_dir / p for p in newer.required}
            if config_name == VA_CONFIG and not _new_release_has_va(dirs["train_set_annotations"]):
                raise DatasetNotFoundError(
                    f"AffectNet: {dirs['train_set_annotations']} holds no <n>_val.npy / <n>_aro.npy files, so this "
                    "copy has no valence/arousal annotations for the valence/arousal task; use a complete copy of "
                    "the release (or the original release)."
                )
            return Layout("new", data_dir, {}, dirs)
        train, test = _find_dir(data_dir, TRAIN_DIRS), _find_dir(data_dir, TEST_DIRS)
        if train and test and config_name == VA_CONFIG:
            raise DatasetNotFoundError(
                f"AffectNet: {data_dir} holds a folder-per-class copy ({train.name}/<class>/, {test.name}/<class>/), "
                "which has no valence/arousal annotations. The valence/arousal task needs the original release "
                f"({LISTS}/ + Manually_Annotated_Images/) or the newer train_set/ + val_set/ with *_val.npy, *_aro.npy."
            )
        if train and test:
            dirs = {f"{split}/{d.name}": d for split, top in (("train", train), ("test", test))
                    for d in sorted(top.iterdir()) if d.is_dir()}
            return Layout("folders", data_dir, {}, dirs)
        raise layout_not_found(cls.DATASET, cls.TITLE, data_dir,
                               [(data_dir, official), (data_dir, newer), (data_dir, folders)])

    @property
    def va_task(self) -> bool:
        return self.config.name == VA_CONFIG

    @functools.cached_property
    def has_va(self) -> bool:
        """The layout holds valence/arousal: the original release always, the newer one when its
        annotation folder has ``*_val.npy`` files, folder-per-class copies never."""
        if self.layout.name == "new":
            return _new_release_has_va(self.layout.dirs["train_set_annotations"])
        return self.layout.name == "official"

    @property
    def num_classes(self) -> int:
        """Expression codes kept: 7, 8, or 9 (codes 0-8) for the valence/arousal config."""
        return len(AFFECTNET_VA_EXPRESSIONS) if self.va_task else int(self.config.name)

    def _info(self) -> datasets.DatasetInfo:
        va = {name: datasets.Value("float32") for name in AFFECTNET_VA_LABELS} if self.has_va else {}
        if self.va_task:
            description = ("AffectNet valence and arousal in [-1, 1] of the rows with expression codes 0-8; "
                           "test = the official validation set.")
            columns = {"expression": datasets.ClassLabel(names=list(AFFECTNET_VA_EXPRESSIONS)), **va}
        else:
            names = AFFECTNET7_LABELS if self.config.name == "7" else AFFECTNET8_LABELS
            description = f"AffectNet, {len(names)} classes; test = the official validation set."
            columns = {"label": datasets.ClassLabel(names=list(names)), **va}
        return self.dataset_info(
            description=description,
            features=datasets.Features({"image": datasets.Image(), "image_id": datasets.Value("string"), **columns}),
        )

    def _code(self, split: str, file: Path | str, line: int | None, image_id: str, raw: object) -> int | None:
        """The label for an expression code, or None when reported (bad) or filtered (by design)."""
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 10:  # not isdigit alone: '²'
            self.bad_row(split, file, line, image_id, f"expression code {text!r} is not 0-10")
            return None
        code = int(text)
        if code >= self.num_classes:
            self.report.count_filtered(split, f"code {code} ({CODE_NAMES[code]})")
            return None
        return code

    def _value(self, split: str, file: Path | str, line: int | None, image_id: str, name: str,
               raw: object) -> float | None:
        """A valence or arousal value in [-1, 1], or None when the row was reported as bad."""
        text = str(raw).strip()
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if value == NO_VALUE:
            reason = f"{name} is {text!r}, AffectNet's 'no value' code, on a row with a valid expression code"
        elif not -1.0 <= value <= 1.0:  # also NaN and non-numbers
            reason = f"{name} {text!r} is not a number in [-1, 1]"
        else:
            return value
        self.bad_row(split, file, line, image_id, reason)
        return None

    def _fields(self, code: int, va: tuple[float, float] | None) -> dict:
        column = "expression" if self.va_task else "label"
        return {column: code, **(dict(zip(AFFECTNET_VA_LABELS, va)) if va is not None else {})}

    def parse_rows(self) -> dict[str, list[Row]]:
        parse = {"official": self._parse_official, "new": self._parse_new, "folders": self._parse_folders}
        return {split: parse[self.layout.name](split) for split in ("train", "test")}

    def _parse_official(self, split: str) -> list[Row]:
        path = self.layout.files[split]
        images = self.layout.dirs["images"]
        lines = read_rows(path)
        columns = list(COLUMNS)
        if lines and lines[0][1].split(",")[0].strip() == COLUMNS[0]:  # header (training.csv)
            header = [h.strip() for h in next(csv.reader([lines[0][1]]))]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise AnnotationError(f"{path}:{lines[0][0]}: header lacks columns {missing}")
            columns, lines = header, lines[1:]
        index = {name: columns.index(name) for name in COLUMNS}
        rows: list[Row] = []
        seen: dict[str, int] = {}
        for line, text in lines:
            self.report.count_read(split)
            fields = [f.strip() for f in next(csv.reader([text]))]
            image_id = fields[0] if fields else ""
            if len(fields) != len(columns):
                self.bad_row(split, path, line, image_id or None,
                             f"expected {len(columns)} comma-separated fields, got {len(fields)}")
                continue
            if image_id in seen:
                self.bad_row(split, path, line, image_id, f"duplicate of line {seen[image_id]}")
                continue
            seen[image_id] = line
            box = _face_box([fields[index[c]] for c in COLUMNS[1:5]])
            if isinstance(box, str):
                self.bad_row(split, path, line, image_id, box)
                continue
            label = self._code(split, path, line, image_id, fields[index["expression"]])
            if label is None:
                continue
            va = []
            for name in AFFECTNET_VA_LABELS:
                value = self._value(split, path, line, image_id, name, fields[index[name]])
                if value is None:
                    break
                va.append(value)
            else:
                rows.append(Row(image_id, images / image_id, str(path), line, self._fields(label, tuple(va)),
                                face_box=dataset_box(box)))  # type: ignore[arg-type]
        return rows

    def _parse_new(self, split: str) -> list[Row]:
        folder = "train_set" if split == "train" else "val_set"
        annotations = self.layout.dirs[f"{folder}_annotations"]
        images = self.layout.dirs[f"{folder}_images"]
        files = sorted(annotations.glob("*_exp.npy"), key=lambda p: (len(p.name), p.name))
        rows: list[Row] = []
        for npy in files:
            self.report.count_read(split)
            stem = npy.name[: -len("_exp.npy")]
            image_id = f"{stem}.jpg"
            try:
                value = np.load(npy, allow_pickle=False).item()
            except (OSError, ValueError) as err:
                self.bad_row(split, npy, None, image_id, f"unreadable annotation: {err}")
                continue
            label = self._code(split, npy, None, image_id, value)
            if label is None:
                continue
            va = self._new_va(split, annotations, stem, image_id) if self.has_va else None
            if va is not None or not self.has_va:
                rows.append(Row(image_id, images / image_id, str(npy), None, self._fields(label, va)))
        return rows

    def _new_va(self, split: str, annotations: Path, stem: str, image_id: str) -> tuple[float, float] | None:
        """Valence and arousal of the newer release (``<n>_val.npy``, ``<n>_aro.npy``), or None (bad row)."""
        values = []
        for name, suffix in zip(AFFECTNET_VA_LABELS, ("val", "aro")):
            npy = annotations / f"{stem}_{suffix}.npy"
            try:
                raw = np.load(npy, allow_pickle=False).item()
            except FileNotFoundError:
                self.bad_row(split, npy, None, image_id, f"{name} annotation file is missing")
                return None
            except (OSError, ValueError) as err:
                self.bad_row(split, npy, None, image_id, f"unreadable {name} annotation: {err}")
                return None
            value = self._value(split, npy, None, image_id, name, raw)
            if value is None:
                return None
            values.append(value)
        return values[0], values[1]

    def _parse_folders(self, split: str) -> list[Row]:
        rows: list[Row] = []
        for key, folder in self.layout.dirs.items():
            if not key.startswith(split + "/"):
                continue
            code = FOLDER_ALIASES.get(folder.name.lower())
            if code is None:
                raise AnnotationError(
                    f"AffectNet: class folder {folder} has an unknown name; expected one of "
                    f"{', '.join(sorted(FOLDER_ALIASES))}"
                )
            for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS):
                self.report.count_read(split)
                image_id = f"{folder.name}/{image.name}"
                label = self._code(split, folder, None, image_id, code)
                if label is not None:
                    rows.append(Row(image_id, image, str(folder), None, {"label": label}))
        return rows
