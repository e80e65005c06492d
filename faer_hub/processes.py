"""How the launcher started this program: how many processes, and whether they run on CPU.

``accelerate launch`` and ``torchrun`` say it in environment variables (``WORLD_SIZE``); training,
evaluation and ``faer-hub predict`` read them here, before Accelerate starts.
"""

from __future__ import annotations

import os

__all__ = ["cpu_processes", "distributed_world"]


def distributed_world() -> int:
    """How many processes ``accelerate launch`` (or torchrun) started this one among."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def cpu_processes() -> bool:
    """Whether several processes were launched on a machine without a GPU (gloo on CPU):
    Accelerate must then be told ``cpu=True``, or it treats each process as a separate run."""
    import torch

    return distributed_world() > 1 and not torch.cuda.is_available()
