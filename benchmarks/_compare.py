"""Shared driver of the ratio benchmarks: FAER and ConvNeXt of each size, alternating, in subprocesses.

Each measurement runs ``python <script> --worker <model> <worker_args>`` in a fresh process (so
peak memory is per model) and reads the JSON object it prints last: ``{mode: {metric: value}}``,
one entry per mode the worker measured (``eager``, ``compile``); medians over ``rounds``.

Importing this module puts the checkout first on ``sys.path``: the benchmarks and their workers
(whose ``sys.path[0]`` is ``benchmarks/``) import this checkout's ``faer_hub``, installed or not.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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


def timed(step: Callable[[int], object], *, warmup: int, iters: int, cuda: bool,
          drain: Callable[[], object] = lambda: None) -> tuple[float, float]:
    """``(seconds, peak MiB)`` of ``iters`` calls ``step(i)`` after ``warmup`` untimed ones, in a
    worker. ``drain`` runs after the warm-up and after the timed calls (e.g. a step guard's
    pending check), before the GPU queue is waited for; peak memory is the GPU's since the
    warm-up, or the process's resident peak on CPU."""
    import torch

    for i in range(warmup):
        step(i)
    drain()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(iters):
        step(i)
    drain()
    if cuda:
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    peak_mib = (torch.cuda.max_memory_allocated() / 2**20 if cuda
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return elapsed, peak_mib


def ratio(a: float, b: float) -> float | None:
    """``a / b``, or ``None`` when ``b`` is zero (nothing measured)."""
    return a / b if b else None


def ratio_rows(compared: list[tuple[str, dict, dict]]) -> list[dict]:
    """One row per size and mode of :func:`compare_sizes`' result: both models' medians and the
    FAER/ConvNeXt ratios of speed and peak memory."""
    return [{"size": size, "mode": mode, "faer": faer[mode], "convnext": conv[mode],
             "speed_ratio": ratio(faer[mode]["images_per_s"], conv[mode]["images_per_s"]),
             "memory_ratio": ratio(faer[mode]["peak_mib"], conv[mode]["peak_mib"])}
            for size, faer, conv in compared for mode in faer]


def print_table(rows: list[dict]) -> None:
    """The rows as a text table (with the parameter counts when the workers measured them)."""
    mode_width = max([8, *(len(row["mode"]) for row in rows)])
    params = bool(rows) and "params_m" in rows[0]["faer"]
    print(f"{'size':<6} {'mode':<{mode_width}} {'FAER img/s':>11} {'ConvNeXt img/s':>15} {'ratio':>6} {'FAER MiB':>9} "
          f"{'ConvNeXt MiB':>13} {'mem ratio':>9}" + (f" {'params M (FAER/ConvNeXt)':>25}" if params else ""))
    for row in rows:
        faer, conv = row["faer"], row["convnext"]
        print(f"{row['size']:<6} {row['mode']:<{mode_width}} {faer['images_per_s']:>11.1f} "
              f"{conv['images_per_s']:>15.1f} {_fmt(row['speed_ratio']):>6} {faer['peak_mib']:>9.0f} "
              f"{conv['peak_mib']:>13.0f} {_fmt(row['memory_ratio']):>9}"
              + (f" {faer['params_m']:>12.1f} / {conv['params_m']:<10.1f}" if params else ""))


def write_results(path: str | None, settings: dict, rows: list[dict]) -> None:
    """``{"settings", "rows"}`` as JSON at ``path`` (nothing without one); ``settings`` are the
    command line's values, less ``--worker`` and ``--json``."""
    if path:
        with open(path, "w") as f:
            json.dump({"settings": {k: v for k, v in settings.items() if k not in ("worker", "json")}, "rows": rows},
                      f, indent=2)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
