"""Shared driver of the ratio benchmarks: FAER and ConvNeXt of each size, alternating, in subprocesses.

Each measurement runs ``python <script> --worker <model> <worker_args>`` in a fresh process (so
peak memory is per model) and reads the JSON object it prints last: ``{mode: {metric: value}}``,
one entry per mode the worker measured (``eager``, ``compile``); medians over ``rounds``.

Importing this module puts the checkout first on ``sys.path``: the benchmarks and their workers
(whose ``sys.path[0]`` is ``benchmarks/``) import this checkout's ``faer_hub``, installed or not.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


class WorkerError(RuntimeError):
    """A measurement subprocess failed; the message ends with its stderr."""


def measure_in_subprocess(script: str, model_name: str, worker_args: list[str]) -> dict:
    """The last JSON line printed by ``script --worker model_name worker_args``; on failure a
    :class:`WorkerError` that carries the worker's stderr (its traceback)."""
    cmd = [sys.executable, script, "--worker", model_name, *worker_args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise WorkerError(f"benchmark worker for {model_name} failed (exit {done.returncode}): {' '.join(cmd)}\n"
                          f"--- its stderr ---\n{done.stderr.strip()[-4000:]}")
    return json.loads(lines[-1])


def compare_sizes(
    script: str, sizes: list[str], rounds: int, worker_args: list[str], metrics: tuple[str, ...]
) -> list[tuple[str, dict, dict]]:
    """``[(size, faer, convnext)]`` where ``faer`` and ``convnext`` are ``{mode: {metric: median}}``:
    FAER and ConvNeXt alternate within each round."""
    rows = []
    for size in sizes:
        runs: dict[str, list[dict]] = {"faer": [], "convnext": []}
        for r in range(rounds):
            for kind in ("faer", "convnext"):
                runs[kind].append(measure_in_subprocess(script, f"{kind}_{size}", worker_args))
            print(f"  {size} round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        med = {kind: {mode: {m: statistics.median(run[mode][m] for run in results) for m in metrics}
                      for mode in results[0]}
               for kind, results in runs.items()}
        rows.append((size, med["faer"], med["convnext"]))
    return rows


def ratio(a: float, b: float) -> float | None:
    """``a / b``, or ``None`` when ``b`` is zero (nothing measured)."""
    return a / b if b else None
