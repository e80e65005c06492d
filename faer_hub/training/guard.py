"""Stop training on a non-finite loss before it reaches the weights."""

from __future__ import annotations

from pathlib import Path
import torch
from accelerate import Accelerator

__all__ = ["NonFiniteLossError", "check_finite"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is kept untouched."""


def check_finite(
    accelerator: Accelerator,
    loss: torch.Tensor,
    *,
    step: int,
    epoch: int,
    checkpoints: Path,
) -> None:
    """Raise :class:`NonFiniteLossError` on every process if any process has a non-finite loss.

    Called before ``backward``, so the weights never see the bad step.
    """
    bad = (~torch.isfinite(loss.detach())).to(torch.float32).reshape(1)
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, reduction="sum")
    if bad.item() > 0:
        from .checkpoint import latest_checkpoint

        last_checkpoint = latest_checkpoint(checkpoints)
        where = (
            f"the last good checkpoint is {last_checkpoint} (resume from it with --resume after fixing the config)"
            if last_checkpoint is not None
            else "no checkpoint was saved before it"
        )
        raise NonFiniteLossError(
            f"non-finite loss ({loss.detach().float().item()}) at optimizer step {step} (epoch {epoch + 1}); "
            f"training stopped before updating the weights; {where}. Try a lower optim.lr, "
            "optim.grad_clip_norm, or mixed_precision bf16 instead of fp16."
        )
