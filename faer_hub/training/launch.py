"""What the launcher decides and what the config decides: processes, precision, compilation.

``accelerate launch --mixed_precision bf16 --dynamo_backend inductor train.py ...`` passes its
choices in environment variables. A config key left at ``null`` takes the launcher's value; a
value written in the config wins, and a disagreement with the launcher is reported (once, on
the main process) instead of being silently overridden.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Mapping, Optional

import torch
from accelerate import PartialState

from .config import Config, ConfigError

__all__ = ["LaunchSettings", "cpu_processes", "is_main_process", "report_refusal", "resolve_launch", "start_processes"]

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


def cpu_processes() -> bool:
    """Whether several processes were launched on a machine without a GPU (gloo on CPU):
    Accelerate must then be told ``cpu=True``, or it treats each process as a separate run."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def start_processes(timeout_minutes: float) -> PartialState:
    """Join the process group that the launcher started (one process without a launcher).

    Several processes without a GPU (``torchrun``, or ``accelerate launch --multi_gpu`` with no GPU
    visible) run on CPU with gloo. The collectives' timeout is ``timeout_minutes``: the main
    process may build a dataset cache while the others wait.
    """
    launched = int(os.environ.get("WORLD_SIZE", "1"))
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

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if every_process and world > 1:
        print(f"error (process {os.environ.get('RANK', '0')}/{world}): {message}", file=sys.stderr)
    elif is_main_process():
        print(f"error: {message}", file=sys.stderr)
