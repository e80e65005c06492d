"""A whole prediction job: rows streamed to a file (or stdout) as they are produced, resumable,
split across processes with Accelerate, with annotated copies. ``faer-hub predict`` is a thin
layer over :func:`run_to_output`.

Memory stays bounded whatever the number of inputs: the file list is streamed, rows are written
as their batch finishes, and only the set of finished paths is held when resuming.

Several processes (``accelerate launch -m faer_hub.cli predict ...``): process ``r`` of ``n``
takes inputs number ``r``, ``r + n``, ... (the numbering is the same everywhere, see
:mod:`.sources`), batches its own faces and streams its rows to a shard beside the output; when
all are done the main process merges the shards into the one output, in input order.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ..io import fsync_tree, temp_name
from ..processes import cpu_processes, distributed_world
from .output import RowWriter, merge_shards, read_finished, shard_finished, shard_line, shard_path, write_error

__all__ = ["RunSummary", "distributed_world", "run_to_output"]


@dataclass
class RunSummary:
    inputs: int = 0
    """Inputs processed in this run (this process)."""
    faces: int = 0
    failed: int = 0
    """Inputs that could not be read."""
    skipped: int = 0
    """Inputs already in the output (``resume``)."""
    failed_in_all: int | None = None
    """Several processes, main process: failed inputs of every process (None elsewhere)."""


def run_to_output(predictor: Any, inputs: Any, *, fmt: str, output: str | os.PathLike | None = None,
                  resume: bool = False, annotate: str | os.PathLike | None = None, progress: bool = False,
                  on_row: Callable[[Any], None] | None = None, on_warning: Callable[[str], None] | None = None,
                  stream: TextIO | None = None) -> RunSummary:
    """Run ``predictor`` over ``inputs``, writing rows in ``fmt`` to ``output`` (``stream``,
    default stdout, when None) as they come. ``resume`` keeps an earlier run's rows and skips its
    inputs. ``on_row`` sees every row (the CLI reports errors and faceless pictures with it)."""
    if distributed_world() > 1:
        return _run_sharded(predictor, inputs, fmt=fmt, output=output, resume=resume, annotate=annotate,
                            progress=progress, on_row=on_row, on_warning=on_warning)
    summary = RunSummary()
    done: set[str] = set()
    if output is None:
        out, target = stream or sys.stdout, None
        writer = _writer(predictor, fmt, out)
        out.write(writer.header_text())
    else:
        target = Path(output)
        keep = 0
        if resume:
            finished = read_finished(target, fmt, _writer(predictor, fmt, sys.stdout).header_text())
            done, keep = finished.paths, finished.keep_bytes
        # an earlier output is replaced only when this run has ended: the rows go beside it until then
        # (a regular file; a device such as /dev/stdout is written as it is)
        written = temp_name(target) if not resume and target.is_file() else target
        out = _open_output(written, keep)
        writer = _writer(predictor, fmt, out)
        if keep == 0:
            _guard(target, lambda: out.write(writer.header_text()))
    try:
        _consume(predictor, inputs, writer, target, summary, done, annotate=annotate, progress=progress,
                 on_row=on_row, on_warning=on_warning)
        _guard(target, writer.close)
        if target is not None:
            _guard(target, out.close)
            if written != target:  # flushed to disk before it takes the earlier output's place, as atomic_path does
                fsync_tree(written)
                os.replace(written, target)
    finally:
        if target is not None and not out.closed:
            try:
                out.close()
            except OSError:
                pass  # the error being raised already names the file
        if target is not None and written != target:
            written.unlink(missing_ok=True)  # a failed replacement: the earlier output stays as it was
    return summary


def _writer(predictor: Any, fmt: str, out: TextIO) -> RowWriter:
    return RowWriter(out, fmt, labels=predictor.csv_labels, ranks=predictor.ranks, multi_label=predictor.multi_label)


def _open_output(target: Path, keep: int) -> TextIO:
    """The output file opened to append after its first ``keep`` bytes (a new file when 0)."""
    if keep:
        with open(target, "r+b") as f:
            f.truncate(keep)
        return open(target, "a", encoding="utf-8", newline="\n")
    return open(target, "w", encoding="utf-8", newline="\n")


def _guard(target: Path | None, write: Callable[[], Any]) -> Any:
    """Run ``write``; an OSError (a full disk) becomes one naming the file and saying what to do."""
    try:
        return write()
    except OSError as err:
        if target is None:
            raise
        raise write_error(target, err) from None


def _consume(predictor: Any, inputs: Any, writer: RowWriter, target: Path | None, summary: RunSummary,
             done: set[str], *, annotate: Any, progress: bool, on_row: Any, on_warning: Any,
             shard: tuple[int, int] | None = None, shard_out: TextIO | None = None) -> None:
    from .annotate import Annotator

    annotator = Annotator(annotate, every=predictor.every) if annotate is not None else None

    def skip(path: str) -> bool:
        if path in done:
            summary.skipped += 1
            return True
        return False

    units = predictor.iter_units(inputs, progress=progress, skip=skip if done else None, shard=shard,
                                 keep_images=annotator is not None)
    try:
        for unit in units:
            if unit.end:
                summary.inputs += 1
                for message in unit.warnings:
                    (on_warning or _stderr)(message)
            for row in unit.rows:
                summary.faces += row.status == "ok"
                summary.failed += row.status.startswith("error")
                if on_row is not None:
                    on_row(row)
            if shard_out is not None:
                if unit.rows:
                    line = shard_line(unit.index, unit.path, writer.text(unit.rows),
                                      failed=sum(row.status.startswith("error") for row in unit.rows))
                    _guard(target, lambda: (shard_out.write(line), shard_out.flush()))
            else:
                _guard(target, lambda: writer.write(unit.rows))
            if annotator is not None:
                annotator.add(unit)
    finally:
        if annotator is not None:
            annotator.close()


def _stderr(message: str) -> None:
    print(f"faer-hub predict: warning: {message}", file=sys.stderr)


def _run_sharded(predictor: Any, inputs: Any, *, fmt: str, output: Any, resume: bool, annotate: Any,
                 progress: bool, on_row: Any, on_warning: Any) -> RunSummary:
    from datetime import timedelta

    from accelerate import PartialState

    if output is None or fmt not in ("jsonl", "csv"):
        raise ValueError("several processes write one file: pass --output FILE with --format jsonl or csv")
    # gloo on CPU when no GPU is visible; a long timeout: a process that finishes early waits for the others
    state = PartialState(cpu=cpu_processes(), timeout=timedelta(hours=24))
    rank, world = state.process_index, state.num_processes
    if world != distributed_world():
        raise RuntimeError(f"{distributed_world()} processes were launched but Accelerate sees {world}")
    target = Path(output)
    header = _writer(predictor, fmt, sys.stdout).header_text()
    others = sorted(p for p in target.parent.glob(f".{target.name}.shard-*-of-*.jsonl")
                    if not p.name.endswith(f"-of-{world}.jsonl"))
    if resume and others:
        raise ValueError(f"{others[0]} is left by a run with another number of processes; resume with that "
                         "number, or leave out --resume to start over")
    merged: set[str] = set()
    if resume:  # every process reads the output before the main one cuts its last input off
        finished_out = read_finished(target, fmt, header)
        merged = finished_out.paths
    state.wait_for_everyone()
    if state.is_main_process:
        if resume and target.exists():
            with open(target, "r+b") as f:
                f.truncate(finished_out.keep_bytes)
        elif not resume:
            for stale in target.parent.glob(f".{target.name}.shard-*-of-*.jsonl"):
                stale.unlink()  # ours (named after the output), from an earlier run
    state.wait_for_everyone()
    mine = shard_path(target, rank, world)
    done: set[str] = set()
    keep = 0
    if resume:
        finished = shard_finished(mine)
        done = merged | finished.paths
        keep = finished.keep_bytes
    summary = RunSummary()
    shard_out = _open_output(mine, keep)
    try:
        writer = _writer(predictor, fmt, shard_out)
        _consume(predictor, inputs, writer, target, summary, done, annotate=annotate,
                 progress=progress and state.is_main_process, on_row=on_row, on_warning=on_warning,
                 shard=(rank, world), shard_out=shard_out)
    finally:
        shard_out.close()
    state.wait_for_everyone()
    if state.is_main_process:
        shards = [shard_path(target, r, world) for r in range(world)]
        _, summary.failed_in_all = _guard(target, lambda: merge_shards(target, shards, header, keep_old=resume,
                                                                       skip=merged))
        for shard in shards:
            shard.unlink(missing_ok=True)
    state.wait_for_everyone()
    return summary
