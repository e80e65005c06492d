"""Atomic training checkpoints: save, find the latest, prune, and keep the best epoch's weights.

Layout under ``<output-dir>/checkpoints/``::

    step-00000120/      Accelerate state (model, optimizer, scaler, RNG) + ema.safetensors
                        + train_state.json, written under a temporary name then renamed
    best-step-00000096/ model.safetensors (+ ema.safetensors): weights of the best epoch so far

A folder with a final name is always complete (the rename is the commit); temporary folders
left by a killed run are ignored and removed on resume. Every process must call these
functions (Accelerate saves per-process RNG state); only the main process renames and deletes.

Naming and pruning are ours, not Accelerate's ``ProjectConfiguration(automatic_checkpoint_naming=True,
total_limit=N)``: its ``save_state`` (accelerate 1.x) names folders ``checkpoint_<n>`` by a save
counter, not the optimizer step that ``--resume-from`` and the layout messages name; it counts
every entry of ``checkpoints/`` and deletes the lowest-numbered ones, so it would delete the
``best-step-*`` weights that kept checkpoints still refer to; it deletes *before* writing and
writes in place, so a kill during a save leaves a partial ``checkpoint_<n>`` (with ``total_limit=1``,
no complete checkpoint at all) that ``load_state()`` then takes as the newest, with no walking
back past a damaged one (:func:`load_newest_loadable`). The epoch-boundary/mid-epoch distinction
and the process layout live in ``train_state.json`` either way.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from accelerate import Accelerator
from safetensors.torch import load_file, save_file

from ..errors import InputError, one_line
from ..io import apply_umask, fsync_tree, is_temp_name, naming_write_failures, temp_name

__all__ = [
    "DamagedCheckpointError", "ResumeError", "TrainState", "read_train_state", "check_resume_layout", "checkpoint_dirs", "is_checkpoint_name", "load_newest_loadable", "latest_checkpoint", "load_checkpoint", "prune_checkpoints",
    "save_best_weights", "save_checkpoint",
]

STATE_FILE = "train_state.json"
EMA_FILE = "ema.safetensors"
MODEL_FILE = "model.safetensors"
_STEP_DIR = re.compile(r"^step-(\d{8})$")
_BEST_DIR = re.compile(r"^best-step-(\d{8})$")


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is a folder name this module gives (``step-*``, ``best-step-*``)."""
    return bool(_STEP_DIR.match(name) or _BEST_DIR.match(name))


@dataclass
class TrainState:
    """Where training is, plus what model selection has seen so far."""

    epoch: int = 0
    """Epoch in progress (0-based); after an epoch-end save, the next one."""
    batches_done: int = 0
    """Batches of ``epoch`` already trained on (per process)."""
    global_step: int = 0
    """Optimizer steps taken."""
    best_metric: Optional[float] = None
    best_epoch: Optional[int] = None
    best_dir: Optional[str] = None
    """Name of the ``best-step-*`` folder under ``checkpoints/``."""
    history: list[dict[str, Any]] = field(default_factory=list)
    """One record per finished epoch: train loss, validation metrics, lr."""
    layout: Optional[dict[str, int]] = None
    """How the global batch was split when saved: ``num_processes``, ``gradient_accumulation_steps``,
    ``per_device_batch_size`` (``batches_done`` counts per-process batches of that split)."""
    train_seconds: float = 0.0
    """Seconds spent training up to this state, over every process that ran it (a resumed run adds
    its own, so ``metrics.json``'s ``train_time_s`` is the whole run's)."""
    recipe: Optional[dict[str, Any]] = None
    """How the run was started, for its card: ``config_file`` and the ``--set`` ``overrides`` (a
    resume adds its own); None in checkpoints of earlier versions."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, allow_nan=True)

    @classmethod
    def from_file(cls, path: Path) -> "TrainState":
        """The state saved in ``path``; :class:`DamagedCheckpointError` naming it when it cannot be read."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as err:  # JSONDecodeError is a ValueError
            raise DamagedCheckpointError(f"{path} cannot be read ({type(err).__name__}: "
                                         f"{one_line(err, first_line=True, limit=200)})") from None


class ResumeError(RuntimeError, InputError):
    """A checkpoint that cannot be resumed as asked."""


class DamagedCheckpointError(ResumeError):
    """A file of a checkpoint cannot be read: the whole checkpoint is skipped wherever it is read."""


def read_train_state(checkpoint: Path) -> Optional[TrainState]:
    """The train state of ``checkpoint``, or None when its ``train_state.json`` is missing or damaged:
    the one reader for everything that only looks (layout advice, pruning)."""
    try:
        return TrainState.from_file(checkpoint / STATE_FILE)
    except DamagedCheckpointError:
        return None


def check_resume_layout(state: TrainState, checkpoint: Path, layout: dict[str, int]) -> None:
    """Refuse a mid-epoch checkpoint taken with another split of the global batch.

    ``batches_done`` counts per-process batches of the saved split; on another number of
    processes (or per-device batch) it would skip the wrong samples. Epoch-boundary checkpoints
    resume on any layout.
    """
    if state.batches_done == 0 or state.layout is None or state.layout == layout:
        return
    def describe(d: dict[str, int]) -> str:
        return (f"{d['num_processes']} process(es) x {d['per_device_batch_size']} per device x "
                f"{d['gradient_accumulation_steps']} accumulation")
    states = {p.name: read_train_state(p) for p in checkpoint_dirs(checkpoint.parent)}
    boundary = [name for name, saved in states.items() if saved is not None and saved.batches_done == 0]
    raise ResumeError(
        f"{checkpoint} was saved mid-epoch (epoch {state.epoch + 1}, batch {state.batches_done}) with "
        f"{describe(state.layout)}, but this run has {describe(layout)}. A mid-epoch checkpoint resumes only on the "
        f"layout it was saved with: relaunch with {state.layout['num_processes']} process(es) and "
        f"--set train.per_device_batch_size={state.layout['per_device_batch_size']}"
        + (f", or resume from the epoch-boundary checkpoint with --resume-from {boundary[-1]}" if boundary else "")
        + "."
    )


def _state_dict_to_save(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}


def checkpoint_dirs(checkpoints: Path) -> list[Path]:
    """Complete ``step-*`` checkpoint folders, oldest first."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if _STEP_DIR.match(p.name) and (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(checkpoints: Path) -> Optional[Path]:
    """The newest checkpoint whose train state can be read (None when there is none)."""
    return next((p for p in reversed(checkpoint_dirs(checkpoints)) if read_train_state(p) is not None), None)


def _write_dir_atomically(accelerator: Accelerator, final: Path, write) -> None:
    """Run ``write(tmp)`` on every process, then rename ``tmp`` to ``final`` on the main one."""
    tmp = temp_name(final, "tmp", shared=True)  # every process writes its part into it
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        if final.exists():  # left by a killed run after the last checkpoint: not referenced
            shutil.rmtree(final)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    try:
        with naming_write_failures(final, folder=tmp):  # a full disk: one line naming the file
            write(tmp)
    except BaseException:
        if accelerator.is_main_process:  # the complete checkpoints stay; the partial one goes
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        apply_umask(tmp)  # Accelerate and safetensors write private (0600) files
        fsync_tree(tmp)
        os.replace(tmp, final)
        fsync_tree(final.parent)
    accelerator.wait_for_everyone()


def save_checkpoint(
    accelerator: Accelerator,
    checkpoints: Path,
    state: TrainState,
    *,
    ema: Optional[torch.nn.Module] = None,
) -> Path:
    """Save the full training state as ``step-<global_step>`` (atomically) and return it."""
    final = checkpoints / f"step-{state.global_step:08d}"

    def write(tmp: Path) -> None:
        # every process saves its RNG state, but only the main one may write the shared files:
        # Accelerate writes fp16's scaler.pt from every process, so hide the scaler elsewhere
        scaler = accelerator.scaler
        if not accelerator.is_main_process:
            accelerator.scaler = None
        try:
            accelerator.save_state(str(tmp), safe_serialization=True)
        finally:
            accelerator.scaler = scaler
        if accelerator.is_main_process:
            if ema is not None:
                save_file(_state_dict_to_save(ema), tmp / EMA_FILE)
            (tmp / STATE_FILE).write_text(state.to_json())  # last: marks the folder complete

    _write_dir_atomically(accelerator, final, write)
    return final


def load_checkpoint(
    accelerator: Accelerator,
    path: Path,
    *,
    layout: dict[str, int],
    ema: Optional[torch.nn.Module] = None,
) -> TrainState:
    """Restore model/optimizer/scaler/RNG (and EMA) from ``path``; return its train state.

    ``layout`` is this run's split of the global batch (see :func:`check_resume_layout`); the
    returned state records it for the checkpoints to come.
    """
    if not (path / STATE_FILE).is_file():
        raise ResumeError(f"{path} is not a complete checkpoint of this run (no {STATE_FILE}); "
                          f"complete ones: {', '.join(p.name for p in checkpoint_dirs(path.parent)) or 'none'}")
    state = TrainState.from_file(path / STATE_FILE)  # damaged: DamagedCheckpointError naming the file
    check_resume_layout(state, path, layout)
    state.layout = dict(layout)
    accelerator.load_state(str(path))
    if ema is not None:
        ema_file = path / EMA_FILE
        if not ema_file.is_file():
            raise FileNotFoundError(f"{path} has no {EMA_FILE}, but train.ema is on; resume with the same config")
        ema.load_state_dict(load_file(ema_file))
    return state


def load_newest_loadable(
    accelerator: Accelerator,
    checkpoints: Path,
    *,
    layout: dict[str, int],
    ema: Optional[torch.nn.Module] = None,
) -> tuple[Optional[Path], TrainState, list[tuple[str, str]]]:
    """Resume from the newest complete checkpoint that loads, walking back past damaged ones.

    Returns ``(checkpoint, state, skipped)``: ``checkpoint`` is None when there is none yet
    (``state`` is then a fresh one); ``skipped`` lists ``(name, reason)`` of newer checkpoints
    that could not be loaded (truncated or corrupt files). Falling back is safe: an older
    checkpoint replays the same steps to the same weights. A layout refusal
    (:func:`check_resume_layout`) is not a damaged file and is raised as it is.
    """
    skipped: list[tuple[str, str]] = []
    for path in reversed(checkpoint_dirs(checkpoints)):
        try:
            return path, load_checkpoint(accelerator, path, layout=layout, ema=ema), skipped
        except DamagedCheckpointError as err:
            skipped.append((path.name, one_line(err, limit=300)))
            continue
        except ResumeError:
            raise
        except Exception as err:  # noqa: BLE001  (any unreadable file: safetensors, pickle, JSON, I/O)
            skipped.append((path.name, f"{type(err).__name__}: {one_line(err, first_line=True, limit=300)}"))
    if skipped:
        raise ResumeError(
            f"no checkpoint in {checkpoints} could be loaded: "
            + "; ".join(f"{name} ({reason})" for name, reason in skipped)
            + ". Start again with --overwrite, or restore a checkpoint folder from a backup."
        )
    return None, TrainState(layout=dict(layout)), skipped


def save_best_weights(
    accelerator: Accelerator,
    checkpoints: Path,
    global_step: int,
    model: torch.nn.Module,
    *,
    ema: Optional[torch.nn.Module] = None,
) -> str:
    """Write the current model (and EMA) weights as ``best-step-<global_step>``; return its name."""
    final = checkpoints / f"best-step-{global_step:08d}"

    def write(tmp: Path) -> None:
        if accelerator.is_main_process:
            save_file(_state_dict_to_save(model), tmp / MODEL_FILE)
            if ema is not None:
                save_file(_state_dict_to_save(ema), tmp / EMA_FILE)

    _write_dir_atomically(accelerator, final, write)
    return final.name


def load_best_weights(path: Path, model: torch.nn.Module, *, ema: bool = False) -> None:
    """Load the best epoch's weights (the EMA copy with ``ema=True``) into ``model``."""
    model.load_state_dict(load_file(path / (EMA_FILE if ema else MODEL_FILE)))


def prune_checkpoints(accelerator: Accelerator, checkpoints: Path, keep_last: int, best_dir: Optional[str]) -> None:
    """Keep the newest ``keep_last`` readable step checkpoints, the best weights they refer to, and
    ``best_dir``; remove everything else (including temporary folders of killed runs). A damaged
    checkpoint (unreadable ``train_state.json``) is skipped: never counted as kept; one newer than
    the kept ones is left for the run to write again, an older one is removed."""
    if accelerator.is_main_process and checkpoints.is_dir():
        states = {p: read_train_state(p) for p in checkpoint_dirs(checkpoints)}
        kept = [p for p, saved in states.items() if saved is not None][-keep_last:]
        referenced = {best_dir} | {states[p].best_dir for p in kept}
        newer_damaged = {p for p, saved in states.items() if saved is None and kept and p.name > kept[-1].name}
        for path in checkpoints.iterdir():
            stale_step = _STEP_DIR.match(path.name) and path not in kept and path not in newer_damaged
            stale_best = _BEST_DIR.match(path.name) and path.name not in referenced
            stale_tmp = is_temp_name(path.name)
            if stale_step or stale_best or stale_tmp:
                shutil.rmtree(path, ignore_errors=True)
    accelerator.wait_for_everyone()
