"""The output folder of a training run: refuse to clobber, atomic files, the JSON-lines log."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import yaml

from ..errors import InputError
from ..io import plain_data, write_json, write_text

__all__ = [
    "CONFIG_FILE", "LOG_FILE", "METRICS_FILE", "OutputDirError", "JsonlLog", "check_output_dir", "prepare_output_dir",
    "previous_run_kept_until_done", "run_facts", "write_json", "write_run_config", "write_text",
]

CONFIG_FILE = "config.yaml"
LOG_FILE = "log.jsonl"
METRICS_FILE = "metrics.json"
RUN_ENTRIES = (CONFIG_FILE, LOG_FILE, METRICS_FILE, "checkpoints", "export", "tensorboard")
"""What a run writes; ``--overwrite`` replaces exactly these (a generated ``data/`` is kept)."""
REPLACED_RUN = ".replaced-run"
"""Where ``--overwrite`` keeps the previous run until the new one has finished (then deleted)."""

_set_aside: set[Path] = set()
"""Output folders whose previous run this process moved to :data:`REPLACED_RUN`."""


class OutputDirError(RuntimeError, InputError):
    """The output folder holds a previous run and neither --resume nor --overwrite was given."""


def check_output_dir(output_dir: Path, *, resume: bool, overwrite: bool) -> list[str]:
    """Refuse a folder holding a previous run unless resuming or overwriting (reads only);
    return the run entries found."""
    if resume and overwrite:
        raise OutputDirError("--resume and --overwrite contradict each other; pass one")
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputDirError(f"--output-dir {output_dir} is a file, not a folder; choose a folder")
    previous = [name for name in (*RUN_ENTRIES, REPLACED_RUN) if (output_dir / name).exists()]
    if previous and not (resume or overwrite):
        raise OutputDirError(
            f"{output_dir} holds a previous run ({', '.join(previous)}). Pass --resume to continue it, "
            "--overwrite to replace it, or choose another --output-dir."
        )
    if resume and not (output_dir / CONFIG_FILE).is_file():
        raise OutputDirError(f"--resume: {output_dir / CONFIG_FILE} not found; nothing to resume there")
    if overwrite and previous:
        foreign = _not_written_by_a_run(output_dir)
        if foreign:
            raise OutputDirError(
                f"--overwrite: {output_dir} holds {', '.join(foreign)}, which training/train.py did not write; "
                "it replaces only its own runs. Move them away or choose another --output-dir."
            )
    return previous


def _not_written_by_a_run(output_dir: Path) -> list[str]:
    """The run entries in ``output_dir`` that are not a training run's: all of them unless its
    ``config.yaml`` or ``log.jsonl`` was written by a run (or a replacement is under way), and any
    file in ``checkpoints/`` that is not a checkpoint folder."""
    from ..io import is_temp_name
    from .checkpoint import is_checkpoint_name

    if not ((output_dir / REPLACED_RUN).is_dir() or _first_line(output_dir / CONFIG_FILE) == RUN_CONFIG_HEADER
            or _is_event(_first_line(output_dir / LOG_FILE))):
        return [name for name in RUN_ENTRIES if (output_dir / name).exists()]
    checkpoints = output_dir / "checkpoints"
    entries = sorted(p.name for p in checkpoints.iterdir()) if checkpoints.is_dir() else []
    return [f"checkpoints/{name}" for name in entries if not (is_checkpoint_name(name) or is_temp_name(name))]


def prepare_output_dir(output_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Check ``output_dir`` (see :func:`check_output_dir`) and create it. With ``overwrite`` the
    previous run is moved aside to :data:`REPLACED_RUN`, not deleted: :func:`previous_run_kept_until_done`
    deletes it once the new run has finished and puts it back if the new run fails. (A run killed
    while replacing one leaves it there; the next ``--overwrite`` keeps it until it finishes.)"""
    previous = check_output_dir(output_dir, resume=resume, overwrite=overwrite)
    output_dir.mkdir(parents=True, exist_ok=True)
    if overwrite and previous:
        aside = output_dir / REPLACED_RUN
        if aside.exists():  # a killed replacement: `previous` is its unfinished new run, ours to remove
            for name in previous:
                if name != REPLACED_RUN:
                    _remove(output_dir / name)
        else:
            aside.mkdir()
            for name in previous:
                (output_dir / name).rename(aside / name)
        _set_aside.add(output_dir)


def _first_line(path: Path) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.readline()
    except (OSError, ValueError):
        return ""


def _is_event(line: str) -> bool:
    """Whether ``line`` is a record :class:`JsonlLog` writes."""
    try:
        record = json.loads(line)
    except ValueError:
        return False
    return isinstance(record, dict) and "event" in record and "time" in record


def _remove(path: Path) -> None:
    shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)


@contextmanager
def previous_run_kept_until_done(output_dir: Path) -> Iterator[None]:
    """Around a whole training run: a previous run that ``--overwrite`` moved aside is deleted once
    the block ends without error, and put back in place (the new run's entries removed) when it
    fails, so a failing new run never costs the finished one."""
    try:
        yield
    except BaseException:
        if output_dir in _set_aside:
            _set_aside.discard(output_dir)
            aside = output_dir / REPLACED_RUN
            for name in RUN_ENTRIES:
                if (aside / name).exists() or (output_dir / name).exists():
                    _remove(output_dir / name)
                if (aside / name).exists():
                    (aside / name).rename(output_dir / name)
            shutil.rmtree(aside, ignore_errors=True)
        raise
    from .launch import is_main_process

    if output_dir in _set_aside or (is_main_process() and (output_dir / REPLACED_RUN).is_dir()):
        _set_aside.discard(output_dir)  # (also the one a killed replacement left, once its run has finished)
        shutil.rmtree(output_dir / REPLACED_RUN, ignore_errors=True)


RUN_CONFIG_HEADER = "# the resolved configuration of a training/train.py run (--resume reads it)\n"
"""First line of a run's ``config.yaml``: how ``--overwrite`` tells it from a user's recipe file."""


def write_run_config(output_dir: Path, config: Mapping[str, Any]) -> None:
    """The run's resolved ``config.yaml`` (atomically), marked as written by a run."""
    write_text(output_dir / CONFIG_FILE, RUN_CONFIG_HEADER + yaml.safe_dump(dict(config), sort_keys=False))


class JsonlLog:
    """Append one JSON object per line (``event``, wall ``time``, then the fields)."""

    def __init__(self, path: Path, enabled: bool = True) -> None:
        self.path = path
        self.enabled = enabled

    def write(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = {"event": event, "time": round(time.time(), 3), **fields}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(plain_data(record)) + "\n")


def run_facts(config: Mapping[str, Any], *, config_file: Optional[Path], overrides: Sequence[str], generated_data: bool,
              splits: Mapping[str, Any]) -> Any:
    """What this run tells its export's card (:class:`faer_hub.hub.cards.RunFacts`): the resolved
    ``config`` (plain values), the recipe file and ``--set`` overrides it was started with, whether
    the faces were generated, and the size of each split."""
    from ..hub.cards import RunFacts

    return RunFacts(
        config=config,
        config_file=None if config_file is None else str(config_file),
        overrides=tuple(o for o in overrides if not o.startswith("data.data_dir=")),  # --data-dir: a local path
        generated_data=generated_data,
        split_sizes={name: len(splits[name]) for name in ("train", "validation", "test") if name in splits},
    )
