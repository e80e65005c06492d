"""Stop training on a non-finite loss before it reaches the weights, at one check per optimizer step."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import torch
from accelerate import Accelerator

__all__ = ["NonFiniteLossError", "StepGuard"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept untouched."""


class StepGuard:
    """Watches the losses of an optimizer step's micro-batches and checks the step once, between
    the last ``backward`` and ``optimizer.step()``.

    Without fp16 the check reads the norm of the gradients, which DDP has already all-reduced:
    a non-finite loss on any process makes them non-finite everywhere, so every process reaches
    the same verdict without a collective of its own, and the host waits for the device once per
    optimizer step (not per micro-batch). With fp16, overflowing gradients are routine (the
    grad scaler skips those steps), so the processes' loss flags are summed instead.
    """

    def __init__(self, accelerator: Accelerator, checkpoints: Path) -> None:
        self.accelerator = accelerator
        self.checkpoints = checkpoints
        self._bad_losses: Optional[torch.Tensor] = None

    def observe(self, loss: torch.Tensor) -> None:
        """Record a micro-batch's loss (no host sync)."""
        bad = (~torch.isfinite(loss.detach())).sum()
        self._bad_losses = bad if self._bad_losses is None else self._bad_losses + bad

    def check(self, parameters: Iterable[torch.nn.Parameter], *, grad_norm: Optional[torch.Tensor], step: int,
              epoch: int) -> None:
        """Raise :class:`NonFiniteLossError` (on every process) if the step about to be taken is not finite.

        ``grad_norm``: the total gradient norm when the caller already has it (from clipping).
        """
        bad_losses, self._bad_losses = self._bad_losses, None
        if self.accelerator.mixed_precision == "fp16":
            bad = bad_losses.float().reshape(1) if bad_losses is not None else torch.zeros(1, device=self.accelerator.device)
            if self.accelerator.num_processes > 1:
                bad = self.accelerator.reduce(bad, reduction="sum")
            failed = bool(bad.item() > 0)
        else:
            if grad_norm is None:
                grads = [p.grad for p in parameters if p.grad is not None]
                grad_norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
            failed = not bool(torch.isfinite(grad_norm).item())
        if failed:
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
            f"updating the weights; {where}. Try a lower optim.lr, optim.grad_clip_norm, or mixed_precision bf16 "
            "instead of fp16."
        )
