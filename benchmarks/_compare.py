"""Shared driver of the ratio benchmarks: FAER and ConvNeXt of each size, alternating, in subprocesses.

Each measurement runs ``python <script> --worker <model> <worker_args>`` in a fresh process (so
peak memory is per model) and reads the JSON object it prints last; medians over ``rounds``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys


def measure_in_subprocess(script: str, model_name: str, worker_args: list[str]) -> dict:
    cmd = [sys.executable, script, "--worker", model_name, *worker_args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare_sizes(
    script: str, sizes: list[str], rounds: int, worker_args: list[str], metrics: tuple[str, ...]
) -> list[tuple[str, dict, dict]]:
    """``[(size, faer_medians, convnext_medians)]``: FAER and ConvNeXt alternate within each round."""
    rows = []
    for size in sizes:
        runs: dict[str, list[dict]] = {"faer": [], "convnext": []}
        for r in range(rounds):
            for kind in ("faer", "convnext"):
                runs[kind].append(measure_in_subprocess(script, f"{kind}_{size}", worker_args))
            print(f"  {size} round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
        med = {k: {m: statistics.median(run[m] for run in v) for m in metrics} for k, v in runs.items()}
        rows.append((size, med["faer"], med["convnext"]))
    return rows
