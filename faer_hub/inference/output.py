"""Rows out: JSON lines, CSV and the table; streamed as produced, resumed, merged from processes.

JSON lines and CSV are written row by row and flushed per picture, so a killed run keeps every
picture it finished; ``--resume`` reads the output back (:func:`read_finished`) and skips the
inputs it already holds. Several processes each write a shard of ``(input number, rows)`` lines
that :func:`merge_shards` joins in input order, streaming.
"""

from __future__ import annotations

import csv
import errno
import heapq
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..faces.detect import LANDMARK_NAMES
from ..io import output_name

__all__ = [
    "OUTPUT_FORMATS", "Finished", "RowWriter", "csv_header", "csv_values", "format_table", "merge_shards",
    "output_name", "read_finished", "write_error", "write_report",
]

OUTPUT_FORMATS = ("table", "jsonl", "csv")
_LANDMARK_COLUMNS = [f"{name}_{axis}" for name in LANDMARK_NAMES for axis in "xy"]
_PIXEL_COLUMNS = frozenset({"box_x", "box_y", "box_w", "box_h", *_LANDMARK_COLUMNS})


def csv_header(labels: Sequence[str], top_k: int, *, multi_label: bool = False) -> list[str]:
    """Columns of the CSV output: one row per face, ready to plot against ``time_s``; ``status`` is
    ``ok``, ``no face`` (an image or frame without one), ``too small: <why>`` or ``error: <why>``
    (a file that failed), so every input has a row, as in JSON lines."""
    ranks = [f"{kind}_{r}" for r in range(1, top_k + 1) for kind in ("label", "score")]
    return (["path", "frame", "time_s", "face_index", "status", "box_x", "box_y", "box_w", "box_h", "face_score",
             *_LANDMARK_COLUMNS, *ranks] + (["positive"] if multi_label else []) + [f"p_{label}" for label in labels])


def csv_values(row: Any, labels: Sequence[str], ranks: int, multi_label: bool) -> list[Any]:
    """One row's values under :func:`csv_header` (numbers unrounded, None where empty)."""
    width = len(csv_header(labels, ranks, multi_label=multi_label))
    frame, time_s = getattr(row, "frame", None), getattr(row, "time_s", None)
    if row.status != "ok":
        return [row.path, frame, time_s, None, row.status] + [None] * (width - 5)
    box = list(row.box) if row.box else [None] * 4
    points = [c for pt in row.landmarks for c in pt] if row.landmarks else [None] * 10
    top = [v for label, score in row.top_k for v in (label, score)]
    top += [None] * (2 * ranks - len(top))
    values = [row.path, frame, time_s, row.face_index, "ok", *box, row.score, *points, *top]
    if multi_label:
        values.append(";".join(row.positive or []))
    return values + [row.probabilities.get(label, float("nan")) for label in labels]


def _cells(header: Sequence[str], values: Sequence[Any]) -> list[str]:
    out = []
    for column, value in zip(header, values):
        if value is None:
            out.append("")
        elif isinstance(value, float) and column in _PIXEL_COLUMNS:
            out.append(f"{value:.2f}")
        elif isinstance(value, float) and column not in ("time_s",):
            out.append(f"{value:.6f}")
        else:
            out.append(str(value))
    return out


class RowWriter:
    """Writes rows in one format to ``out`` as they come, flushed after each picture.

    ``jsonl``: one record per row (:meth:`Prediction.to_dict` etc.); ``csv``: :func:`csv_header`
    columns; ``table`` is gathered and written by :meth:`close` (it aligns its columns).
    """

    def __init__(self, out: TextIO, fmt: str, *, labels: Sequence[str], ranks: int, multi_label: bool) -> None:
        if fmt not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
        self.out, self.fmt = out, fmt
        self.labels, self.ranks, self.multi_label = list(labels), ranks, multi_label
        self.header = csv_header(self.labels, ranks, multi_label=multi_label)
        self._table: list[Any] = []

    def header_text(self) -> str:
        """What a new output file starts with (the CSV header line; nothing for JSON lines)."""
        return self.text_of_header() if self.fmt == "csv" else ""

    def text_of_header(self) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(self.header)
        return buf.getvalue()

    def text(self, rows: Iterable[Any]) -> str:
        """The rows as they appear in the file."""
        if self.fmt == "jsonl":
            return "".join(json.dumps(row.to_dict()) + "\n" for row in rows)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in rows:
            writer.writerow(_cells(self.header, csv_values(row, self.labels, self.ranks, self.multi_label)))
        return buf.getvalue()

    def write(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        if self.fmt == "table":
            self._table += rows
            return
        self.out.write(self.text(rows))
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "table":
            self.out.write(_table(self._table, self.multi_label))
            self.out.flush()


def write_report(report: Any, fmt: str, out: TextIO, *, multi_label: bool = False) -> None:
    """Write a :class:`~faer_hub.inference.predict.PredictionReport` as a table, JSON lines or CSV;
    failed files and faceless images or frames are rows too, in input order."""
    labels, ranks = list(getattr(report, "labels", []) or []), getattr(report, "ranks", 0)
    if not labels and not ranks and report.predictions:  # a report built by hand: read them off the rows
        labels = list(report.predictions[0].probabilities)
        ranks = max(len(p.top_k) for p in report.predictions)
    multi_label = multi_label or getattr(report, "multi_label", False)
    writer = RowWriter(out, fmt, labels=labels, ranks=ranks, multi_label=multi_label)
    out.write(writer.header_text())
    writer.write(list(report.rows))
    writer.close()


def format_table(report: Any, *, multi_label: bool = False) -> str:
    """A human-readable, column-aligned table (one row per face or faceless picture)."""
    return _table(list(report.rows), multi_label or getattr(report, "multi_label", False))


def _table(rows: Sequence[Any], multi_label: bool) -> str:
    table = [("file", "frame", "face", "box", "top labels") + (("positive attributes",) if multi_label else ())]
    for p in rows:
        if p.status.startswith("error"):
            continue  # failed files are reported on stderr, one line each
        frame = "-" if p.frame is None else f"{p.frame} ({p.time_s:.2f}s)"
        if p.status != "ok":
            what = "no face detected" if p.status == "no face" else p.status.split(":")[0]
            table.append((p.path, frame, "-", "-", what) + (("-",) if multi_label else ()))
            continue
        box = "-" if p.box is None else "{:.0f},{:.0f} {:.0f}x{:.0f}".format(*p.box)
        top = ", ".join(f"{label} {score:.2f}" for label, score in p.top_k)
        row = (p.path, frame, "-" if p.face_index is None else str(p.face_index), box, top)
        table.append(row + ((", ".join(p.positive or []) or "-",) if multi_label else ()))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in table)


def write_error(target: str | os.PathLike, err: OSError) -> OSError:
    """An error naming the file that could not be written and what to do (a full disk above all)."""
    why = "the disk is full" if err.errno == errno.ENOSPC else (err.strerror or str(err))
    return OSError(f"cannot write {target}: {why}; what was written before is kept: free space (or choose "
                   "another place), then rerun the same command with --resume")


# --- resume -------------------------------------------------------------------------------------

@dataclass
class Finished:
    """What an earlier run left in an output: the inputs it holds and the bytes to keep."""

    paths: set[str] = field(default_factory=set)
    keep_bytes: int = 0
    """The output up to the last input it holds whole; rows after it (the last input's, perhaps
    cut by a kill) are dropped and that input runs again."""


def read_finished(path: str | os.PathLike, fmt: str, header_text: str = "") -> Finished:
    """The inputs an output file (JSON lines or CSV written by a run with the same options) holds.

    Raises ``ValueError`` naming the file when it is not such an output (another format, other
    labels or top-k): resuming into it would mix two kinds of rows.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return Finished()
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"--resume needs --format jsonl or csv (a table cannot be continued), got {fmt}")
    with open(path, "rb") as f:
        return _finished_jsonl(path, f) if fmt == "jsonl" else _finished_csv(path, f, header_text)


def _finished_groups(lines: Iterator[tuple[int, str | None]]) -> Finished:
    """From ``(start offset, path or None for a damaged line)`` pairs: every path but the last one,
    and the offset where the last path's rows (or the first damaged line) begin."""
    done: set[str] = set()
    current, start = None, 0
    for offset, row_path in lines:
        if row_path is None:
            return Finished(done, start if current is not None else offset)
        if row_path != current:
            if current is not None:
                done.add(current)
            current, start = row_path, offset
    return Finished(done, start)


def is_predict_record(record: Any) -> bool:
    """Whether a parsed JSON line is one of predict's records: a face (``face_index``), a picture
    without one (``status``) or an unreadable input (``error``), each with its ``path``."""
    return (isinstance(record, dict) and isinstance(record.get("path"), str)
            and not {"face_index", "status", "error"}.isdisjoint(record))


def _is_shard_record(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("path"), str) and "index" in record


def _record_paths(f: Any, on_bad_line: Callable[[int], None] | None = None, *,
                  is_record: Callable[[Any], bool] = is_predict_record) -> Iterator[tuple[int, str | None]]:
    """``(offset, path)`` of each complete JSON record line of the binary file ``f`` (``is_record``:
    predict's rows, or a shard's), then ``(offset, None)`` where the records end: at the end, at a
    line cut by a kill, or at the first complete line that is not a record (after
    ``on_bad_line(line_number)``, which may raise)."""
    offset = 0
    for number, raw in enumerate(f, 1):
        record = None
        if raw.endswith(b"\n"):
            try:
                record = json.loads(raw)
            except ValueError:
                pass
        if not is_record(record):
            if on_bad_line is not None and raw.endswith(b"\n") and raw.strip():
                on_bad_line(number)
            yield offset, None
            return
        yield offset, record["path"]
        offset += len(raw)
    yield offset, None


def _finished_jsonl(path: Path, f: Any) -> Finished:
    def not_ours(number: int) -> None:
        raise ValueError(f"{path}: line {number} is not a record of faer-hub predict; "
                         "choose another --output, or leave out --resume to replace the file")

    return _finished_groups(_record_paths(f, not_ours))


def _finished_csv(path: Path, f: Any, header_text: str) -> Finished:
    header = header_text.encode("utf-8")
    first = f.readline()
    if header and first != header:
        raise ValueError(f"{path} was written with other columns (another model, --top-k or format: "
                         f"{first[:120].decode('utf-8', 'replace')!r}); choose another --output, "
                         "or leave out --resume to replace the file")
    width = len(next(csv.reader([header_text]))) if header_text else None

    def lines() -> Iterator[tuple[int, str | None]]:
        offset = len(first)
        for number, raw in enumerate(f, 2):
            text = raw.decode("utf-8", "surrogateescape")
            fields = next(csv.reader([text]), []) if raw.endswith(b"\n") else []
            if not fields or (width is not None and len(fields) != width):
                if f.read(1):  # only the last line can be cut by a kill; rows after a bad one would be lost
                    raise ValueError(f"{path}: line {number} is not a row of these columns and rows follow it; "
                                     "fix or remove that line, or leave out --resume to replace the file")
                yield offset, None
                return
            yield offset, fields[0]
            offset += len(raw)
        yield offset, None

    return _finished_groups(lines())


# --- several processes ---------------------------------------------------------------------------

def shard_path(output: str | os.PathLike, rank: int, world: int) -> Path:
    """Where process ``rank`` of ``world`` writes its rows before they are merged into ``output``."""
    output = Path(output)
    return output.with_name(f".{output.name}.shard-{rank}-of-{world}.jsonl")


def shard_line(index: int, path: str, text: str, *, failed: int = 0) -> str:
    """One shard record: an input's number and path, its rows as the output will hold them, and
    how many of them are failures."""
    return json.dumps({"index": index, "path": path, "text": text, "failed": failed}) + "\n"


def _read_shard(path: Path) -> Iterator[tuple[int, str, str, int]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # cut by a kill: that input runs again
            try:
                record = json.loads(line)
                yield record["index"], record["path"], record["text"], int(record.get("failed", 0))
            except (ValueError, KeyError, TypeError):
                return


def shard_finished(path: Path) -> Finished:
    """The inputs a shard holds (all but its last one, which runs again) and the bytes to keep."""
    if not path.exists():
        return Finished()

    with open(path, "rb") as f:
        return _finished_groups(_record_paths(f, is_record=_is_shard_record))


def merge_shards(output: str | os.PathLike, shards: Sequence[Path], header_text: str, *, keep_old: bool = False,
                 skip: frozenset[str] | set[str] = frozenset()) -> tuple[int, int]:
    """Write ``output`` (atomically) as ``header_text`` (or, with ``keep_old``, what it holds
    already) followed by the shards' rows in input order, but those of inputs in ``skip`` (already
    in the output: shards left by a run killed between its merge and their removal). Returns the
    number of shard records merged and of failed rows among them."""
    from ..io import atomic_path

    output = Path(output)
    merged = failed = 0
    with atomic_path(output) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        if keep_old and output.exists() and output.stat().st_size:
            with open(output, encoding="utf-8", newline="") as old:
                for line in old:
                    out.write(line)
        else:
            out.write(header_text)
        for _, path, text, errors in heapq.merge(*(_read_shard(s) for s in shards), key=lambda r: r[0]):
            if path not in skip:
                out.write(text)
                merged += 1
                failed += errors
    return merged, failed
