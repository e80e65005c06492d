"""RAF-DB (basic emotion subset) builder.

Layouts: the official ``basic/EmoLabel/list_patition_label.txt`` + ``basic/Image/{aligned,original}``
(builder configs ``aligned``, the default, and ``original``), and the folder-per-class
redistribution ``DATASET/{train,test}/{1..7}/`` with optional ``train_labels.csv`` /
``test_labels.csv``. Label ids 1-7 become ClassLabel indices 0-6
(:data:`faer_hub.tasks.RAFDB_LABELS`). Splits: train and test (the name prefix decides).

The ``original`` config adds ``landmarks`` when ``basic/Annotation/manual/`` is there: the five
manually annotated points of each ``*_manu_attri.txt`` (eye centres, nose tip, mouth corners, in
the file's order) as ten floats ``x1, y1, ..., x5, y5`` in the original image's pixels, the points
:func:`faer_hub.faces.align.align_face` takes to cut the aligned crop.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import datasets

from ..io import IMAGE_EXTENSIONS
from ..tasks import RAFDB_LABELS
from ._builder import Candidate, FaerBuilder, FaerBuilderConfig, Layout, Row, layout_not_found, read_rows
from .errors import AnnotationError, DatasetNotFoundError

LABEL_FILE = "EmoLabel/list_patition_label.txt"
MANUAL_DIR = "Annotation/manual"
MANUAL_POINTS = 5
_NAME = re.compile(r"^(train|test)_[0-9]+\.jpg$")


def _label_id(text: str) -> int | None:
    """A label id 1-7 written in ASCII digits ('²' passes ``str.isdigit`` but not ``int``), or None."""
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 7 else None


def _official_roots(data_dir: Path) -> list[Path]:
    return [data_dir / "basic", data_dir]


def _folder_roots(data_dir: Path) -> list[Path]:
    return [data_dir / "DATASET", data_dir]


class RafDB(FaerBuilder):
    """RAF-DB basic: 7 expressions, 12,271 train / 3,068 test images."""

    DATASET = "rafdb"
    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIGS = [
        FaerBuilderConfig(name="aligned", version=VERSION, description="100x100 aligned faces"),
        FaerBuilderConfig(name="original", version=VERSION, description="original in-the-wild images"),
    ]
    DEFAULT_CONFIG_NAME = "aligned"

    @classmethod
    def detect_layout(cls, data_dir: Path, config_name: str) -> Layout:
        if config_name not in ("aligned", "original"):
            raise ValueError(f"RAF-DB config must be 'aligned' or 'original', got {config_name!r}")
        image_dir = f"Image/{config_name}"
        candidates: list[tuple[Path, Candidate]] = []
        for root in _official_roots(data_dir):
            cand = Candidate("official", (LABEL_FILE, image_dir))
            candidates.append((root, cand))
            if all((root / p).exists() for p in cand.required):
                dirs = {"images": root / image_dir}
                if config_name == "original" and (root / MANUAL_DIR).is_dir():
                    dirs["landmarks"] = root / MANUAL_DIR
                return Layout("official", root, {"labels": root / LABEL_FILE}, dirs)
        for root in _folder_roots(data_dir):
            cand = Candidate("folders", ("train", "test"))
            candidates.append((root, cand))
            if all((root / p).is_dir() for p in cand.required) and any(
                    d.name.isascii() and d.name.isdigit() for d in (root / "train").iterdir() if d.is_dir()):
                if config_name != "aligned":
                    raise DatasetNotFoundError(
                        f"RAF-DB: {root} is the folder-per-class redistribution, which only holds "
                        "aligned images; use config 'aligned' (or download the official release for "
                        "'original')."
                    )
                files = {}
                for split in ("train", "test"):
                    for where in (data_dir, root, root.parent):
                        if (where / f"{split}_labels.csv").is_file():
                            files[split] = where / f"{split}_labels.csv"
                            break
                dirs = {f"{split}/{d.name}": d for split in ("train", "test")
                        for d in sorted((root / split).iterdir()) if d.is_dir()}
                return Layout("folders", root, files, dirs)
        raise layout_not_found(cls.DATASET, cls.TITLE, data_dir, candidates)

    def _info(self) -> datasets.DatasetInfo:
        features = {
            "image": datasets.Image(),
            "image_id": datasets.Value("string"),
            "label": datasets.ClassLabel(names=list(RAFDB_LABELS)),
        }
        description = "RAF-DB basic expressions; file ids 1-7 map to labels 0-6."
        if "landmarks" in self.layout.dirs:
            features["landmarks"] = datasets.List(datasets.Value("float32"), length=2 * MANUAL_POINTS)
            description += (" `landmarks`: the five manual points of Annotation/manual (eye centres, nose tip, "
                            "mouth corners) as x1, y1, ..., x5, y5 in the original image's pixels.")
        return self.dataset_info(description=description, features=datasets.Features(features))

    def _label(self, split: str, file: Path, line: int | None, image_id: str, raw: str) -> int | None:
        """Index 0-6 of a file label '1'..'7', or None after reporting it."""
        value = raw.strip()
        label = _label_id(value)
        if label is None:
            self.bad_row(split, file, line, image_id, f"label {value!r} is not an id 1-7")
            return None
        return label - 1

    def parse_rows(self) -> dict[str, list[Row]]:
        if self.layout.name == "official":
            return self._parse_official()
        return self._parse_folders()

    def _parse_official(self) -> dict[str, list[Row]]:
        path = self.layout.files["labels"]
        images = self.layout.dirs["images"]
        aligned = self.config.name == "aligned"
        rows: dict[str, list[Row]] = {"train": [], "test": []}
        seen: dict[str, int] = {}
        for line, text in read_rows(path):
            fields = text.split()
            name = fields[0] if fields else ""
            match = _NAME.match(name)
            if len(fields) != 2 or not match:
                self.report.count_read("unassigned")
                self.bad_row("unassigned", path, line, name or None,
                             f"expected '<train_NNNNN.jpg|test_NNNN.jpg> <label>', got {text.strip()!r}")
                continue
            split = match.group(1)
            self.report.count_read(split)
            if name in seen:
                self.bad_row(split, path, line, name, f"duplicate of line {seen[name]}")
                continue
            seen[name] = line
            label = self._label(split, path, line, name, fields[1])
            if label is None:
                continue
            values = {"label": label}
            if "landmarks" in self.layout.dirs:
                landmarks = self._landmarks(split, name)
                if landmarks is None:
                    continue
                values["landmarks"] = landmarks
            file_name = name[:-4] + "_aligned.jpg" if aligned else name
            rows[split].append(Row(name, images / file_name, str(path), line, values))
        return rows

    def _landmarks(self, split: str, name: str) -> list[float] | None:
        """The five manual points of ``name`` as ``[x1, y1, ..., x5, y5]``, or None after reporting
        a missing or malformed ``*_manu_attri.txt``."""
        path = self.layout.dirs["landmarks"] / name.replace(".jpg", "_manu_attri.txt")
        if not path.is_file():
            self.bad_row(split, path, None, name, f"{path.name} is missing: every image needs its manual landmarks")
            return None
        rows = read_rows(path)
        points: list[float] = []
        for line, text in rows[:MANUAL_POINTS]:
            fields = text.split()
            try:
                x, y = (float(v) for v in fields)
            except ValueError:
                x = y = math.nan
            if not (math.isfinite(x) and math.isfinite(y)):
                self.bad_row(split, path, line, name, f"expected a landmark 'x<TAB>y' (two numbers), got {text.strip()!r}")
                return None
            points += [x, y]
        if len(points) != 2 * MANUAL_POINTS:
            self.bad_row(split, path, None, name, f"expected {MANUAL_POINTS} landmark lines, got {len(points) // 2}")
            return None
        return points

    def _parse_folders(self) -> dict[str, list[Row]]:
        root = self.layout.root
        rows: dict[str, list[Row]] = {"train": [], "test": []}
        for split in rows:
            csv_path = self.layout.files.get(split)
            if csv_path is not None:
                rows[split] = self._parse_csv(split, csv_path, root / split)
                continue
            for key, folder in self.layout.dirs.items():
                if not key.startswith(split + "/"):
                    continue
                files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
                label = _label_id(folder.name)
                if label is None:
                    raise AnnotationError(f"RAF-DB: class folder {folder} is not named 1-7")
                for image in files:
                    self.report.count_read(split)
                    rows[split].append(Row(image.name, image, str(folder), None, {"label": label - 1}))
        return rows

    def _parse_csv(self, split: str, path: Path, image_root: Path) -> list[Row]:
        lines = read_rows(path)
        if not lines:
            raise AnnotationError(f"{path}: empty file, expected a header 'image,label'")
        header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
        if "image" not in header or "label" not in header:
            raise AnnotationError(f"{path}:{lines[0][0]}: expected a header with columns 'image,label', got {header}")
        i_image, i_label = header.index("image"), header.index("label")
        out: list[Row] = []
        seen: dict[str, int] = {}
        for line, text in lines[1:]:
            self.report.count_read(split)
            fields = [f.strip() for f in next(csv.reader([text]))]
            if len(fields) != len(header):
                self.bad_row(split, path, line, fields[0] if fields else None,
                             f"expected {len(header)} fields, got {len(fields)}")
                continue
            name = fields[i_image]
            if name in seen:
                self.bad_row(split, path, line, name, f"duplicate of line {seen[name]}")
                continue
            seen[name] = line
            label = self._label(split, path, line, name, fields[i_label])
            if label is None:
                continue
            out.append(Row(name, image_root / str(label + 1) / name, str(path), line, {"label": label}))
        return out
