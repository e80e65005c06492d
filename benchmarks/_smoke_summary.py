"""``summary.json`` of a ``gpu_smoke.sh run``: every figure, and each stage's status.

    python benchmarks/_smoke_summary.py OUT STAGES_TSV DRY(0|1)

Reads what the stages left in OUT (``bench_*.json``, ``train_log.jsonl``, ``gpu_util.csv``),
tolerating any of them missing, nvidia-smi's ``[N/A]`` fields and runs too short for a rate.
Exits 1 when a stage failed or timed out (a stage skipped for lack of budget is not a failure).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

BENCHMARKS = ("bench_infer_eager", "bench_train_eager", "bench_infer_compile", "bench_train_compile")
STATUS = {"0": "ok", "-1": "skipped (budget)", "-2": "not selected", "124": "timeout", "137": "timeout"}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:  # nvidia-smi prints [N/A], [Not Supported]...
        return None


def read_stages(path: Path) -> dict[str, dict]:
    stages = {}
    for line in path.read_text().splitlines():
        name, rc, seconds = line.split("\t")
        stages[name] = {"status": STATUS.get(rc, f"failed ({rc})"), "seconds": int(seconds)}
    return stages


def benchmark_rows(path: Path) -> list[dict]:
    return [{"size": r["size"], "mode": r["mode"], "faer_images_per_s": r["faer"]["images_per_s"],
             "convnext_images_per_s": r["convnext"]["images_per_s"], "speed_ratio": r["speed_ratio"],
             "faer_peak_mib": r["faer"]["peak_mib"], "convnext_peak_mib": r["convnext"]["peak_mib"],
             "memory_ratio": r["memory_ratio"]}
            for r in json.loads(path.read_text())["rows"]]


def training_summary(path: Path) -> dict:
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [e for e in events if e.get("event") == "train"]
    rates = [e["images_per_s"] for e in train[2:]] or [e["images_per_s"] for e in train]  # after warm-up
    peaks = [e["peak_mib"] for e in train if "peak_mib" in e]
    return {
        "optimizer_steps": max((e["step"] for e in train), default=0),
        "images_per_s_median": statistics.median(rates) if rates else None,
        "peak_mib": max(peaks) if peaks else None,
        "loss_curve": [[e["step"], round(e["loss"], 5)] for e in train],
        "finished": any(e.get("event") == "done" for e in events),
    }


def gpu_utilisation(path: Path) -> dict:
    rows = [[_number(f.strip()) for f in line.split(",")] for line in path.read_text().splitlines() if line.strip()]
    busy = [r[0] for r in rows if r and r[0] is not None and r[0] > 0]
    return {"gpu_util_percent_mean_while_busy": statistics.mean(busy) if busy else None,
            "gpu_util_samples": len(rows)}


def summarize(out: Path, stages_file: Path, dry: bool) -> dict:
    summary: dict = {"dry_run": dry, "stages": read_stages(stages_file)}
    for name in BENCHMARKS:
        if (out / f"{name}.json").is_file():
            summary[name] = benchmark_rows(out / f"{name}.json")
    rates = {row["mode"]: row["faer_images_per_s"] for row in summary.get("bench_train_eager", [])}
    if rates.get("eager") and rates.get("eager_sync"):  # what reading the finite flag every step would cost
        summary["faer_train_speedup_without_per_step_sync"] = rates["eager"] / rates["eager_sync"]
    if (out / "train_log.jsonl").is_file():
        summary["train_rafdb"] = training_summary(out / "train_log.jsonl")
    if (out / "gpu_util.csv").is_file():
        summary.update(gpu_utilisation(out / "gpu_util.csv"))
    return summary


def main(argv: list[str]) -> int:
    out, stages_file, dry = Path(argv[0]), Path(argv[1]), argv[2] == "1"
    summary = summarize(out, stages_file, dry)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    brief = {k: v for k, v in summary.items() if k != "stages"}
    if "train_rafdb" in brief:
        brief["train_rafdb"] = {k: v for k, v in brief["train_rafdb"].items() if k != "loss_curve"}
    print("== summary:", json.dumps(brief, indent=1))
    print("== stages:", json.dumps(summary["stages"]))
    ok = all(s["status"] in ("ok", "skipped (budget)", "not selected") for s in summary["stages"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
