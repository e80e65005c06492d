"""What the launcher decides and what the config decides: processes, precision, compilation.

``accelerate launch --mixed_precision bf16 --dynamo_backend inductor train.py ...`` passes its
choices in environment variables. A config key left at ``null`` takes the launcher's value; a
value written in the config wins, and a disagreement with the launcher is reported (once, on
the main process) instead of being silently overridden.

Several processes also agree here on two things before training: that every one of them sees
the output folder (:func:`check_shared_dir`), and who builds the dataset cache while the others
poll for it (:func:`load_in_turn`): a collective is never held open longer than a collective
needs (``train.dist_timeout_minutes``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable, Mapping, Optional, TypeVar

from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object

from ..errors import InputError
from ..processes import cpu_processes, distributed_world
from .config import Config, ConfigError
from .outputs import OutputDirError, write_text

__all__ = ["LaunchSettings", "PeerFailedError", "check_shared_dir", "is_main_process", "load_in_turn",
           "report_refusal", "resolve_launch", "start_processes"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PeerFailedError(RuntimeError, InputError):
    """The process building the dataset cache failed, or did not finish in time."""

PRECISION_ENV = "ACCELERATE_MIXED_PRECISION"
DYNAMO_ENV = "ACCELERATE_DYNAMO_BACKEND"


@dataclass(frozen=True)
class LaunchSettings:
    mixed_precision: str
    """``no``, ``bf16`` or ``fp16``."""
    dynamo_backend: str
    """Accelerate's dynamo backend name (``no``, ``inductor``, ...)."""
    disagreements: tuple[str, ...] = ()
    """One sentence per config value that overrode a different launcher value."""


def resolve_launch(config: Config, env: Optional[Mapping[str, str]] = None) -> LaunchSettings:
    """The precision and compile backend to use: the config's where it sets them, else the launcher's."""
    env = os.environ if env is None else env
    notes = []
    launcher_precision = env.get(PRECISION_ENV, "").strip().lower() or None
    precision = config.train.mixed_precision
    if precision is None:
        precision = launcher_precision or "no"
    elif launcher_precision is not None and launcher_precision != precision:
        notes.append(
            f"train.mixed_precision is {precision!r} in the config but the launcher asked for {launcher_precision!r}; "
            f"using {precision!r} (remove the key or pass --set train.mixed_precision=null to let the launcher decide)"
        )
    launcher_dynamo = env.get(DYNAMO_ENV, "").strip().lower() or None
    compile_flag = config.model.compile
    if compile_flag is None:
        dynamo = launcher_dynamo or "no"
    else:
        dynamo = "inductor" if compile_flag else "no"
        if launcher_dynamo is not None and (launcher_dynamo != "no") != compile_flag:
            notes.append(
                f"model.compile is {str(compile_flag).lower()} in the config but the launcher asked for dynamo backend "
                f"{launcher_dynamo!r}; using {dynamo!r} (remove the key or pass --set model.compile=null to let the "
                "launcher decide)"
            )
    return LaunchSettings(mixed_precision=precision, dynamo_backend=dynamo, disagreements=tuple(notes))


def start_processes(timeout_minutes: float) -> PartialState:
    """Join the process group that the launcher started (one process without a launcher).

    Several processes without a GPU (``torchrun``, or ``accelerate launch --multi_gpu`` with no GPU
    visible) run on CPU with gloo. The collectives' timeout is ``timeout_minutes``: nothing waits
    in a collective for a cache build (:func:`load_in_turn` polls instead).
    """
    launched = distributed_world()
    state = PartialState(cpu=cpu_processes(), timeout=timedelta(minutes=timeout_minutes))
    if state.num_processes != launched:
        raise ConfigError(f"{launched} processes were launched but Accelerate sees {state.num_processes}; "
                          "on CPU set ACCELERATE_USE_CPU=1")
    return state


def is_main_process() -> bool:
    """Whether this is the launcher's process 0 (or the only process), known before Accelerate starts."""
    return int(os.environ.get("RANK", "0")) == 0


def report_refusal(message: str, *, every_process: bool = False) -> None:
    """Print a refusal once: on process 0 only, since every process of a launch checks the same
    config and files and refuses alike (N identical lines otherwise). ``every_process`` for a failure
    that may be one process's own (a full disk): each says it, prefixed with its rank."""
    import sys

    world = distributed_world()
    if every_process and world > 1:
        print(f"error (process {os.environ.get('RANK', '0')}/{world}): {message}", file=sys.stderr)
    elif is_main_process():
        print(f"error: {message}", file=sys.stderr)


def _shared_token(state: PartialState) -> str:
    """A random token, the same on every process (one small broadcast)."""
    token = [uuid.uuid4().hex if state.is_main_process else ""]
    return broadcast_object_list(token)[0]


def check_shared_dir(state: PartialState, folder: Path) -> None:
    """Raise :class:`~faer_hub.training.outputs.OutputDirError` on every process unless every
    process sees ``folder`` (which the main process has created): each reads back a token the
    main process wrote there. Other processes write RNG states into it at every checkpoint."""
    if state.num_processes == 1:
        return
    token = _shared_token(state)
    probe = folder / ".faer-shared-check"
    if state.is_main_process:
        write_text(probe, token)
    state.wait_for_everyone()
    try:
        seen = probe.read_text() == token
    except OSError:
        seen = False
    views = gather_object([(seen, state.process_index, socket.gethostname())])
    state.wait_for_everyone()
    if state.is_main_process:
        probe.unlink(missing_ok=True)
    blind = [f"process {index} on {host}" for ok, index, host in views if not ok]
    if blind:
        raise OutputDirError(
            f"--output-dir {folder} is not visible to {', '.join(blind)}: every process writes checkpoint state "
            "there; use a folder on storage that every machine mounts at the same path"
        )


def load_in_turn(state: PartialState, load: Callable[[], T], marker_dir: Path, *, per_node: bool,
                 wait_minutes: float, poll_seconds: float = 2.0) -> T:
    """``load()`` on every process, the first one building what it caches while the others poll.

    The builder is the main process, or with ``per_node`` the first process of each machine (a
    cache on each machine's own disk). When it is done it leaves a marker file in
    ``marker_dir`` (where the cache lives), and the others then load what it built. A failure of
    the builder is written in the marker, so the others stop at once with
    :class:`PeerFailedError`; so do they after ``wait_minutes``.
    """
    if state.num_processes == 1:
        return load()
    marker = Path(marker_dir) / f".faer-ready-{_shared_token(state)}"
    builds = state.is_local_main_process if per_node else state.is_main_process
    if builds:
        try:
            result = load()
        except BaseException as err:
            marker.parent.mkdir(parents=True, exist_ok=True)
            write_text(marker, f"failed: {type(err).__name__}")
            raise
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_text(marker, "ready")
    else:
        _wait_for(marker, wait_minutes, poll_seconds, builder="the first process of this machine" if per_node
                  else "the main process")
        result = load()
    state.wait_for_everyone()
    if builds:
        marker.unlink(missing_ok=True)
    return result


def _wait_for(marker: Path, wait_minutes: float, poll_seconds: float, *, builder: str) -> None:
    started = time.monotonic()
    next_note = started + 60
    while not marker.is_file():
        now = time.monotonic()
        if now - started > wait_minutes * 60:
            raise PeerFailedError(
                f"waited {wait_minutes:g} minutes for {builder} to build the dataset cache ({marker} never appeared); "
                "raise data.cache_wait_minutes, or build it ahead with faer-hub prepare"
            )
        if now >= next_note:
            logger.info("waiting for %s to build the dataset cache (%.0f min)", builder, (now - started) / 60)
            next_note = now + 60
        time.sleep(poll_seconds)
    if marker.read_text().startswith("failed"):
        raise PeerFailedError(f"{builder} failed to build the dataset cache ({marker.read_text()}); see its error")
