"""StepGuard reads each step's finite flag one step late (no host sync per step), and at flush()."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from faer_hub.training.guard import NonFiniteLossError, StepGuard


def _guard(tmp_path: Path, precision: str = "no") -> StepGuard:
    accelerator = SimpleNamespace(mixed_precision=precision, num_processes=1, device=torch.device("cpu"))
    return StepGuard(accelerator, tmp_path / "checkpoints")


def _step(guard: StepGuard, step: int, *, loss: float = 1.0, grad_norm: float = 1.0) -> None:
    guard.observe(torch.tensor(loss))
    guard.check([], grad_norm=torch.tensor(grad_norm), step=step, epoch=0)


def test_a_non_finite_step_stops_the_run_at_the_next_check_naming_the_bad_step(tmp_path):
    guard = _guard(tmp_path)
    _step(guard, 1)
    _step(guard, 2, loss=float("nan"), grad_norm=float("nan"))  # flagged, not read yet
    with pytest.raises(NonFiniteLossError, match=r"optimizer step 2 \(epoch 1\).*no checkpoint was saved"):
        _step(guard, 3)


def test_flush_reads_the_last_flag_before_weights_are_saved(tmp_path):
    guard = _guard(tmp_path)
    _step(guard, 1, grad_norm=float("inf"))
    with pytest.raises(NonFiniteLossError, match="optimizer step 1"):
        guard.flush()
    guard.flush()  # read once: nothing pending any more


def test_finite_steps_never_stop_and_fp16_counts_the_losses(tmp_path):
    guard = _guard(tmp_path)
    for step in range(1, 5):
        _step(guard, step)
    guard.flush()
    fp16 = _guard(tmp_path, "fp16")
    _step(fp16, 1, grad_norm=float("inf"))  # overflowing gradients are routine with fp16: the scaler skips them
    fp16.flush()
    _step(fp16, 2, loss=float("nan"))
    with pytest.raises(NonFiniteLossError, match="optimizer step 2"):
        fp16.flush()
