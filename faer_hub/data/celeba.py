"""CelebA builder: official layout, torchvision's flat layout and Kaggle's CSV layout.

Features: ``image``, ``image_id`` (``000001.jpg``), ``attributes`` (40 ints 0/1 in the order of
:data:`faer_hub.tasks.CELEBA_ATTRIBUTES`, also listed in ``info.description``), and
``identity`` / ``landmarks`` (5 points, aligned images) when those files are present.
Splits follow ``list_eval_partition``: train, validation, test.
"""

from __future__ import annotations

import csv
from pathlib import Path

import datasets

from ..tasks import CELEBA_ATTRIBUTES
from ._builder import Candidate, FaerBuilder, FaerBuilderConfig, Layout, Row, layout_not_found, read_rows
from .errors import AnnotationError

SPLITS = {0: "train", 1: "validation", 2: "test"}
LANDMARK_NAMES = ("lefteye_x", "lefteye_y", "righteye_x", "righteye_y", "nose_x", "nose_y",
                  "leftmouth_x", "leftmouth_y", "rightmouth_x", "rightmouth_y")

_TXT = {"attributes": "list_attr_celeba.txt", "partition": "list_eval_partition.txt",
        "identity": "identity_CelebA.txt", "landmarks": "list_landmarks_align_celeba.txt"}
_CSV = {"attributes": "list_attr_celeba.csv", "partition": "list_eval_partition.csv",
        "landmarks": "list_landmarks_align_celeba.csv"}


def _is_int(text: str) -> bool:
    """Whether ``text`` is an integer written in ASCII digits with an optional leading '-'
    (``str.isdigit`` also accepts '²', which ``int`` rejects)."""
    digits = text.removeprefix("-")
    return digits.isascii() and digits.isdigit()


def _candidates(data_dir: Path) -> list[tuple[Path, Candidate, dict[str, str], str]]:
    """(root, candidate, annotation files by role, image folder) for each supported layout."""
    official = {k: ("Eval/" if k == "partition" else "Anno/") + v for k, v in _TXT.items()}
    flat = dict(_TXT)
    kaggle = dict(_CSV)
    out = [(data_dir, "official", official, "Img/img_align_celeba")]
    out += [(root, "torchvision", flat, "img_align_celeba") for root in (data_dir / "celeba", data_dir)]
    out += [(data_dir, "kaggle", kaggle, "img_align_celeba/img_align_celeba")]
    return [
        (root, Candidate(name, (images, files["attributes"], files["partition"])), files, images)
        for root, name, files, images in out
    ]


class CelebA(FaerBuilder):
    """CelebA (aligned & cropped) with 40 binary attributes."""

    DATASET = "celeba"
    VERSION = datasets.Version("1.0.0")
    BUILDER_CONFIGS = [FaerBuilderConfig(name="default", version=VERSION)]
    DEFAULT_CONFIG_NAME = "default"

    @classmethod
    def detect_layout(cls, data_dir: Path, config_name: str) -> Layout:
        candidates = _candidates(data_dir)
        for root, cand, files, images in candidates:
            if all((root / p).exists() for p in cand.required):
                present = {role: root / rel for role, rel in files.items() if (root / rel).is_file()}
                return Layout(cand.name, root, present, {"images": root / images})
        raise layout_not_found(cls.DATASET, cls.TITLE, data_dir, [(r, c) for r, c, _, _ in candidates])

    def _info(self) -> datasets.DatasetInfo:
        features = {
            "image": datasets.Image(),
            "image_id": datasets.Value("string"),
            "attributes": datasets.List(datasets.Value("int8"), length=len(CELEBA_ATTRIBUTES)),
        }
        if "identity" in self.layout.files:
            features["identity"] = datasets.Value("int32")
        if "landmarks" in self.layout.files:
            features["landmarks"] = datasets.List(datasets.Value("int16"), length=len(LANDMARK_NAMES))
        return self.dataset_info(
            description="CelebA aligned faces. `attributes` holds 40 values (1 = present) in this "
            "order: " + " ".join(CELEBA_ATTRIBUTES),
            features=datasets.Features(features),
        )

    # --- parsing ------------------------------------------------------------------------
    def _records(self, role: str) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
        """(header or None, [(line, fields)]) of an annotation file in txt or csv form."""
        path = self.layout.files[role]
        lines = read_rows(path)
        with_count = role in ("attributes", "landmarks")
        if path.suffix == ".csv":
            rows = [(n, [f.strip() for f in next(csv.reader([text]))]) for n, text in lines]
            if not rows:
                raise AnnotationError(f"{path}: empty file")
            return rows[0][1][1:], rows[1:]
        rows = [(n, text.split()) for n, text in lines]
        if not with_count:
            return None, rows
        if len(rows) < 2:
            raise AnnotationError(f"{path}: expected an image count line and a header line")
        (n_count, count), (_, header) = rows[0], rows[1]
        body = rows[2:]
        if len(count) != 1 or not (count[0].isascii() and count[0].isdigit()):
            raise AnnotationError(f"{path}:{n_count}: expected the image count, got {' '.join(count)!r}")
        if int(count[0]) != len(body):
            message = f"{path}:{n_count}: declares {count[0]} images but lists {len(body)}"
            if not self.config.skip_bad_rows:
                raise AnnotationError(message + " (truncated download?)")
            self.bad_row("unassigned", path, n_count, None, message)
            self.report.count_read("unassigned")
        if role == "landmarks" and header and header[0] == "image_id":
            header = header[1:]
        return header, body

    def _table(self, role: str, names: tuple[str, ...], values: set[int] | None) -> dict[str, tuple[int, list[int] | str]]:
        """image_id -> (line, values) or (line, reason) for a bad line. A value must be an integer
        written exactly as one of ``values`` (when given); a repeated image id keeps its first
        line and reports the later one (split 'unassigned': it is no row of the dataset)."""
        path = self.layout.files[role]
        header, rows = self._records(role)
        if header is not None and tuple(header) != names:
            raise AnnotationError(
                f"{path}: header does not match the expected {len(names)} names "
                f"(first difference: {next((f'{h!r} != {n!r}' for h, n in zip(header, names) if h != n), f'{len(header)} names')})"
            )
        table: dict[str, tuple[int, list[int] | str]] = {}
        allowed = {str(v) for v in values or ()}  # compared as written: '01' is no attribute value
        for line, fields in rows:
            image_id = fields[0] if fields else ""
            if image_id in table:
                self.report.count_read("unassigned")
                self.bad_row("unassigned", path, line, image_id, f"duplicate of line {table[image_id][0]}")
                continue
            if len(fields) != len(names) + 1:
                table[image_id] = (line, f"expected {len(names) + 1} fields, got {len(fields)}")
                continue
            if bad := next(((n, v) for n, v in zip(names, fields[1:]) if not _is_int(v)), None):
                table[image_id] = (line, f"value {bad[1]!r} of {bad[0]} is not an integer")
                continue
            if values is not None and (wrong := [(n, v) for n, v in zip(names, fields[1:]) if v not in allowed]):
                table[image_id] = (line, f"value {wrong[0][1]} of {wrong[0][0]} is not one of {sorted(values)}")
                continue
            table[image_id] = (line, [int(v) for v in fields[1:]])
        return table

    def parse_rows(self) -> dict[str, list[Row]]:
        files = self.layout.files
        attributes = self._table("attributes", CELEBA_ATTRIBUTES, {-1, 1})
        identity = self._table("identity", ("identity",), None) if "identity" in files else None
        landmarks = self._table("landmarks", LANDMARK_NAMES, None) if "landmarks" in files else None
        _, partition = self._records("partition")
        rows: dict[str, list[Row]] = {name: [] for name in SPLITS.values()}
        seen: dict[str, int] = {}
        part_file = files["partition"]
        for line, fields in partition:
            image_id = fields[0] if fields else ""
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                self.report.count_read("unassigned")
                self.bad_row("unassigned", part_file, line, image_id or None,
                             f"expected '<image> <0|1|2>', got {' '.join(fields)!r}")
                continue
            split = SPLITS[int(fields[1])]
            self.report.count_read(split)
            if image_id in seen:
                self.bad_row(split, part_file, line, image_id, f"duplicate of line {seen[image_id]}")
                continue
            seen[image_id] = line
            values: dict = {}
            problem = None
            for role, table, key, convert in (
                ("attributes", attributes, "attributes", lambda v: [(x + 1) // 2 for x in v]),
                ("identity", identity, "identity", lambda v: v[0]),
                ("landmarks", landmarks, "landmarks", lambda v: v),
            ):
                if table is None:
                    continue
                entry = table.get(image_id)
                if entry is None:
                    problem = (files[role], None, f"{image_id} is not listed in {files[role].name}")
                    break
                if isinstance(entry[1], str):
                    problem = (files[role], entry[0], entry[1])
                    break
                values[key] = convert(entry[1])
            if problem:
                self.bad_row(split, problem[0], problem[1], image_id, problem[2])
                continue
            rows[split].append(Row(image_id, self.layout.dirs["images"] / image_id, str(part_file), line, values))
        for image_id, (line, _) in attributes.items():
            if image_id not in seen:
                self.report.count_read("unassigned")
                self.bad_row("unassigned", files["attributes"], line, image_id,
                             f"{image_id} is not listed in {part_file.name}, so it has no split")
        return rows
