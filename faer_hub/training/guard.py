"""Stop training on a non-finite loss, without making the host wait for the device every step."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import torch
from accelerate import Accelerator

from ..errors import InputError

__all__ = ["NonFiniteLossError", "StepGuard"]


class NonFiniteLossError(FloatingPointError, InputError):
    """The loss became NaN or infinite; the last good checkpoint is kept untouched."""


class StepGuard:
    """Watches the losses of each optimizer step's micro-batches and flags a non-finite step on
    the device; the flag is read one step late, or at :meth:`flush`.

    Without fp16 the flag is "the gradient norm is not finite": DDP has already all-reduced the
    gradients, so a non-finite loss on any process makes them non-finite everywhere, and every
    process reaches the same verdict without a collective of its own. With fp16, overflowing
    gradients are routine (the grad scaler skips those steps), so the processes' loss flags are
    summed instead.

    Reading a flag at once would make the host wait until the GPU has finished everything queued
    so far, draining the queue once per step. :meth:`check` therefore copies the flag of step N
    to the host asynchronously and reads the flag of step N-1, which waits (on a CUDA event) only
    for the work up to step N-1's gradient norm while step N is still queued.

    What that means for the weights: without fp16, a non-finite step N is still applied (its NaNs
    reach the weights, and the EMA, in memory) and the run stops at step N+1's check, before step
    N+1 is taken, naming step N. Checkpoints stay clean because the loop calls :meth:`flush`
    before every save, validation and log line: nothing written to disk ever holds the weights of
    a step whose flag was not read. With fp16 the grad scaler has already skipped step N.
    """

    def __init__(self, accelerator: Accelerator, checkpoints: Path) -> None:
        self.accelerator = accelerator
        self.checkpoints = checkpoints
        self._bad_losses: Optional[torch.Tensor] = None
        self._pending: Optional[tuple[torch.Tensor, Optional[torch.cuda.Event], int, int]] = None
        """(non-finite flag on its way to the host, its copy's CUDA event, step, epoch) of the
        last checked step, not read yet."""

    def observe(self, loss: torch.Tensor) -> None:
        """Record a micro-batch's loss (no host sync)."""
        bad = (~torch.isfinite(loss.detach())).sum()
        self._bad_losses = bad if self._bad_losses is None else self._bad_losses + bad

    def check(self, parameters: Iterable[torch.nn.Parameter], *, grad_norm: Optional[torch.Tensor], step: int,
              epoch: int) -> None:
        """Flag step ``step`` (between its last ``backward`` and ``optimizer.step()``) and raise
        :class:`NonFiniteLossError` (on every process) if the previous step was not finite.

        ``grad_norm``: the total gradient norm when the caller already has it (from clipping).
        """
        bad_losses, self._bad_losses = self._bad_losses, None
        if self.accelerator.mixed_precision == "fp16":
            bad = bad_losses.float().reshape(1) if bad_losses is not None else torch.zeros(1, device=self.accelerator.device)
            if self.accelerator.num_processes > 1:
                bad = self.accelerator.reduce(bad, reduction="sum")
            flag = bad > 0
        else:
            if grad_norm is None:
                grads = [p.grad for p in parameters if p.grad is not None]
                grad_norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
            flag = ~torch.isfinite(grad_norm)
        event = None
        if flag.is_cuda:
            flag = flag.to("cpu", non_blocking=True)  # into pinned memory; valid once the event has passed
            event = torch.cuda.Event()
            event.record()
        self.flush()
        self._pending = (flag, event, step, epoch)

    def flush(self) -> None:
        """Read the flag of the last checked step (a host sync); raise if it was not finite. Call
        before saving or evaluating the weights."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        flag, event, step, epoch = pending
        if event is not None:
            event.synchronize()
        if bool(flag.any()):
            self._fail(step, epoch)

    def _fail(self, step: int, epoch: int) -> None:
        from .checkpoint import latest_checkpoint

        last_checkpoint = latest_checkpoint(self.checkpoints)
        where = (
            f"the last good checkpoint is {last_checkpoint} (resume from it with --resume after fixing the config)"
            if last_checkpoint is not None
            else "no checkpoint was saved before it"
        )
        raise NonFiniteLossError(
            f"non-finite loss or gradients at optimizer step {step} (epoch {epoch + 1}); training stopped before "
            f"saving or evaluating the weights it produced; {where}. Try a lower optim.lr, optim.grad_clip_norm, "
            "or mixed_precision bf16 instead of fp16."
        )
