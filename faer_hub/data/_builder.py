"""Shared machinery of the FAER dataset builders.

Each dataset module detects which on-disk layout ``data_dir`` holds, parses its annotation
files into :class:`Row` objects per split (reporting bad lines as it goes), and lets
:class:`FaerBuilder` check every image and write the Arrow cache. Bad rows either stop the
build with an :class:`~faer_hub.data.errors.AnnotationError` (default) or are skipped and
listed in a :class:`~faer_hub.data.errors.BuildReport` saved next to the cached dataset.

The cache holds every image's encoded BYTES, not a path: a node needs only the cache, and
loader workers read one Arrow file instead of opening thousands of small files per second. Plain
images are stored as their files' bytes, unchanged (decoded later by
:func:`faer_hub.io.read_image`, exactly as prediction decodes the file). AffectNet faces are cut
from the photo and stored as JPEG with their short side at most ``crop_short_side`` (default
256; the photos are 360-720+ px, whose decoding would need 40-100 cores to feed 8 GPUs).

Images are checked (and bad rows settled, in this process, so the report is complete) before
any is written; with ``num_proc`` both the check and the writing run in that many processes.
JPEGs are not decoded at reduced scale (PIL ``draft``) for the model: that would make training
pixels differ from prediction's full decode, and with crops bounded at 256 px no stored image is
shrunk by the factor of 2 that ``draft`` needs at the paper's 224 px anyway.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import datasets
from PIL import Image

from ..tasks import DATASETS
from .errors import AnnotationError, BuildReport, DatasetNotFoundError, SkippedRow

logger = logging.getLogger(__name__)

REPORT_FILE = "faer_build_report.json"
_CODE_VERSION = "5"  # bump when parsing, cropping or storage changes so cached datasets are rebuilt (3: image bytes; 4: squared AffectNet boxes; 5: stricter values, CelebA duplicates)
CROP_JPEG_QUALITY = 95
CROP_SHORT_SIDE = 256
"""Default bound of a stored face crop's short side (pixels)."""


def download_page(dataset: str) -> str:
    """The dataset's download page, from :data:`faer_hub.tasks.DATASETS`."""
    return DATASETS[dataset].url


@dataclass
class Layout:
    """One recognised on-disk layout of a dataset inside ``root``."""

    name: str
    root: Path
    files: dict[str, Path] = field(default_factory=dict)
    """Annotation files by role (``'attributes'``, ``'partition'``...)."""
    dirs: dict[str, Path] = field(default_factory=dict)
    """Image folders by role."""

    def fingerprint(self) -> str:
        """Changes whenever an annotation file or image folder changes: keys the HF cache."""
        digest = hashlib.sha256(f"{_CODE_VERSION}|{self.name}|{self.root.resolve()}".encode())
        for role, path in sorted({**self.files, **self.dirs}.items()):
            st = path.stat()
            size = st.st_size if path.is_file() else 0
            digest.update(f"|{role}={path}:{size}:{st.st_mtime_ns}".encode())
        return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """A layout to look for: its name and the paths it needs, relative to the root."""

    name: str
    required: tuple[str, ...]


def layout_not_found(
    dataset: str, title: str, data_dir: Path, candidates: list[tuple[Path, Candidate]]
) -> DatasetNotFoundError:
    """An error naming what was looked for, what is missing, and where to download."""
    lines = []
    partial = [
        (root, c, [p for p in c.required if not (root / p).exists()])
        for root, c in candidates
        if any((root / p).exists() for p in c.required)
    ]
    if partial:
        root, cand, missing = partial[0]
        lines.append(
            f"{title}: found part of the {cand.name!r} layout in {root} but these are missing: "
            + ", ".join(str(root / p) for p in missing)
        )
    else:
        lines.append(f"{title}: no supported layout found in {data_dir}. Expected one of:")
        seen = set()
        for root, cand in candidates:
            if (root, cand.name) in seen:
                continue
            seen.add((root, cand.name))
            lines.append(f"  {cand.name}: " + ", ".join(str(root / p) for p in cand.required))
    lines.append(
        f"Download {title} by hand (it needs a licence agreement) from {download_page(dataset)} "
        "and point data_dir at the folder holding it."
    )
    return DatasetNotFoundError("\n".join(lines))


def read_rows(path: Path) -> list[tuple[int, str]]:
    """Non-blank lines of a text annotation file as ``(line_number, text)``, CR/LF stripped."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise AnnotationError(f"{path}: not a UTF-8 text file ({err})") from None
    return [
        (number, line.rstrip("\r"))
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    ]


def image_problem(path: Path, box: tuple[float, float, float, float] | None = None) -> str | None:
    """Why ``path`` is not a usable image (or ``box`` lies outside it), or ``None``. Decodes JPEGs
    at 1/8 scale to stay fast: this only checks; the stored pixels are decoded in full."""
    from ..faces.align import box_region

    try:
        with Image.open(path) as im:
            size = im.size
            if im.getexif().get(0x0112) in (5, 6, 7, 8):  # EXIF orientations that swap width and height
                size = size[::-1]
            im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except FileNotFoundError:
        return f"image file not found: {path}"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        return f"unreadable image {path}: {err}"
    if box is not None:
        left, top, right, bottom = box_region(box, size)
        if right - left < 1 or bottom - top < 1:
            return f"face box {box} lies outside the {size[0]}x{size[1]} image {path}"
    return None


def _row_problem(row: "Row") -> str | None:
    return image_problem(row.image_path, row.face_box)


def image_problems(rows: list["Row"], num_proc: int = 1) -> list[str | None]:
    """:func:`image_problem` of every row, in ``num_proc`` processes when more than one."""
    if num_proc <= 1 or len(rows) < 2:
        return [_row_problem(row) for row in rows]
    with ProcessPoolExecutor(max_workers=num_proc) as pool:
        return list(pool.map(_row_problem, rows, chunksize=max(1, min(512, len(rows) // (4 * num_proc)))))


def crop_face(path: Path, box: tuple[float, float, float, float],
              short_side: int = CROP_SHORT_SIDE) -> tuple[bytes | None, str | None]:
    """JPEG bytes of ``box`` = (x, y, width, height) cut from ``path``, clamped to the image, and
    shrunk (bicubic, aspect kept) so that its short side is at most ``short_side`` (0: never).

    The image is decoded by :func:`faer_hub.io.read_image` and the box cut by
    :func:`faer_hub.faces.align.box_region`, as prediction cuts AffectNet faces. Returns
    ``(bytes, None)`` or ``(None, reason)`` for a missing/unreadable image or a box entirely
    outside the image.
    """
    from ..faces.align import box_region
    from ..io import ImageReadError, read_image

    if not path.is_file():
        return None, f"image file not found: {path}"
    try:
        im = read_image(path)
    except ImageReadError as err:
        return None, f"unreadable image {path}: {err.reason}"
    left, top, right, bottom = box_region(box, im.size)
    if right - left < 1 or bottom - top < 1:
        return None, f"face box {box} lies outside the {im.width}x{im.height} image {path}"
    face = im.crop((left, top, right, bottom))
    if short_side and min(face.size) > short_side:
        scale = short_side / min(face.size)
        face = face.resize((max(short_side, round(face.width * scale)), max(short_side, round(face.height * scale))),
                           Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    face.save(buffer, format="JPEG", quality=CROP_JPEG_QUALITY)
    return buffer.getvalue(), None


@dataclass
class Row:
    """One annotation row, parsed, before its image is checked."""

    image_id: str
    image_path: Path
    file: str
    line: int | None
    fields: dict[str, Any]
    face_box: tuple[float, float, float, float] | None = None


@dataclass
class FaerBuilderConfig(datasets.BuilderConfig):
    skip_bad_rows: bool = False
    """Leave bad rows out (listed in the build report) instead of failing."""
    crop_short_side: int = CROP_SHORT_SIDE
    """Face crops (AffectNet) are stored with their short side at most this (0: native size)."""


class FaerBuilder(datasets.GeneratorBasedBuilder):
    """Base of the FAER builders: layout detection, bad-row policy, image checks, report.

    Use like any builder: ``b = CelebA(data_dir=..., cache_dir=...)``,
    ``b.download_and_prepare()``, ``b.as_dataset()``; :func:`faer_hub.data.load_dataset`
    does this and adds the validation split where needed.
    """

    BUILDER_CONFIG_CLASS = FaerBuilderConfig
    DATASET: str = ""
    """Key of :data:`faer_hub.tasks.DATASETS`, which gives ``TITLE`` and the homepage."""
    TITLE: str = ""
    num_proc: int = 1
    """Processes that check the images (set with ``download_and_prepare(num_proc=...)``'s value)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.DATASET:
            cls.TITLE = DATASETS[cls.DATASET].title

    def dataset_info(self, description: str, features: datasets.Features) -> datasets.DatasetInfo:
        """The builder's ``DatasetInfo``, with the homepage from :data:`faer_hub.tasks.DATASETS`."""
        return datasets.DatasetInfo(description=description, features=features, homepage=download_page(self.DATASET))

    def __init__(self, *args: Any, data_dir: str | os.PathLike | None = None,
                 config_name: str | None = None, hash: str | None = None, **kwargs: Any) -> None:
        if data_dir is None:
            raise DatasetNotFoundError(
                f"{self.TITLE}: data_dir is required. Download it by hand from "
                f"{download_page(self.DATASET)} and pass the folder holding it."
            )
        data_dir = Path(data_dir).expanduser()
        if not data_dir.is_dir():
            raise DatasetNotFoundError(
                f"{self.TITLE}: data folder {data_dir} does not exist or is not a folder. Download it from "
                f"{download_page(self.DATASET)} and point data_dir at the folder holding it."
            )
        config_name = config_name or self.DEFAULT_CONFIG_NAME
        self.layout = self.detect_layout(data_dir, config_name)
        self.report = BuildReport()
        super().__init__(
            *args,
            data_dir=str(data_dir),
            config_name=config_name,
            hash=hash or self.layout.fingerprint(),
            **kwargs,
        )

    # --- to implement per dataset -------------------------------------------------------
    @classmethod
    def detect_layout(cls, data_dir: Path, config_name: str) -> Layout:
        raise NotImplementedError

    def parse_rows(self) -> dict[str, list[Row]]:
        """Rows per split (``'train'``, optionally ``'validation'``, ``'test'``)."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    def bad_row(self, split: str, file: Path | str, line: int | None, image_id: str | None,
                reason: str) -> None:
        """Fail on a bad row, or with ``skip_bad_rows`` record it and carry on."""
        row = SkippedRow(split=split, file=str(file), line=line, image_id=image_id, reason=reason)
        if not self.config.skip_bad_rows:
            raise AnnotationError(
                f"{row}\nFix the file, or leave bad rows out: --skip-bad-rows (faer-hub), --set data.skip_bad_rows=true "
                "(training/train.py) or skip_bad_rows=True (Python); they are then listed in the build report."
            )
        logger.warning("%s: skipping bad row %s", self.TITLE, row)
        self.report.skipped.append(row)

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        self.report = BuildReport()
        generators = []
        for split, split_rows in self.parse_rows().items():
            good = []
            for key, (row, problem) in enumerate(zip(split_rows, image_problems(split_rows, self.num_proc))):
                if problem:
                    self.bad_row(split, row.file, row.line, row.image_id, problem)
                else:
                    good.append((key, row))
            # a list: datasets shards it over download_and_prepare's num_proc processes
            generators.append(datasets.SplitGenerator(name=split, gen_kwargs={"split": split, "rows": good}))
        return generators

    def _generate_examples(self, split: str, rows: list[tuple[int, Row]]) -> Iterator[tuple[int, dict]]:
        for key, row in rows:  # checked by _split_generators: a failure now means the file changed since
            if row.face_box is None:
                try:
                    data: bytes | None = row.image_path.read_bytes()
                except OSError as err:
                    raise AnnotationError(f"{row.image_path} became unreadable during the build: {err}") from None
            else:
                data, problem = crop_face(row.image_path, row.face_box, self.config.crop_short_side)
                if problem:
                    raise AnnotationError(f"{problem} (changed during the build)")
            yield key, {"image": {"bytes": data, "path": None}, "image_id": row.image_id, **row.fields}

    def _download_and_prepare(self, dl_manager: Any, verification_mode: Any, **kwargs: Any) -> None:
        super()._download_and_prepare(dl_manager, verification_mode, **kwargs)
        for split, info in self.info.splits.items():
            if info.num_examples != self.report.expected_rows(split):
                raise RuntimeError(
                    f"{self.TITLE} {split}: wrote {info.num_examples} rows but the report accounts "
                    f"for {self.report.expected_rows(split)} ({self.report.summary()})"
                )
        self.report.save(Path(self._output_dir) / REPORT_FILE)  # load_dataset reports the skips, cached or not

    def build_report(self) -> BuildReport:
        """The report of the prepared cache (call after :meth:`download_and_prepare`)."""
        path = Path(self.cache_dir) / REPORT_FILE
        return BuildReport.load(path) if path.exists() else BuildReport()
