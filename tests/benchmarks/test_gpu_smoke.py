"""benchmarks/gpu_smoke.sh: its --dry-run runs every stage of the GPU run, tiny, on CPU (so the
script cannot rot between lent GPUs); the summary survives what a GPU machine prints; a failing
benchmark worker shows its own error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

from _compare import WorkerError, measure_in_subprocess  # noqa: E402
from _smoke_summary import main as summarize  # noqa: E402

STAGES = ("imports", "bench_infer_eager", "bench_train_eager", "synth_data", "train_rafdb", "bench_infer_compile",
          "bench_train_compile")


@pytest.mark.slow
def test_dry_run_runs_every_stage_and_leaves_at_most_eight_small_files(tmp_path):
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "OUT": str(out), "TMPDIR": str(tmp), "PYTHON": sys.executable, "OMP_NUM_THREADS": "1",
           "KEEP_WORK": "1"}
    env.pop("SMOKE_BUDGET_S", None)
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_smoke.sh"), "run", "--dry-run"], env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dry_run"] is True
    assert {name: s["status"] for name, s in summary["stages"].items()} == {name: "ok" for name in STAGES}
    modes = {row["mode"] for name in ("bench_infer_eager", "bench_train_eager", "bench_infer_compile",
                                      "bench_train_compile") for row in summary[name]}
    assert modes == {"eager", "eager_sync", "compile"}
    assert all(row["speed_ratio"] > 0 for row in summary["bench_train_eager"])
    assert summary["faer_train_speedup_without_per_step_sync"] > 0
    train = summary["train_rafdb"]
    assert train["finished"] and train["optimizer_steps"] >= 4 and len(train["loss_curve"]) == train["optimizer_steps"]
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) <= 8 and all(p.stat().st_size < 16 * 2**20 for p in files), files
    assert "smoke.log" in {p.name for p in files}
    (work,) = [p for p in tmp.iterdir() if p.name.startswith("faer_smoke.")]  # data, caches and run: in TMPDIR
    assert (work / "run" / "log.jsonl").is_file() and (work / "data" / "rafdb").is_dir() and (work / "hf").is_dir()


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_summary_reads_na_from_nvidia_smi_a_one_event_run_and_missing_tables(tmp_path):
    stages = _write(tmp_path / "stages.tsv", "imports\t0\t3\ntrain_rafdb\t0\t40\nbench_train_compile\t-1\t0\n")
    _write(tmp_path / "gpu_util.csv", "[N/A], 1000\n0, 1200\n87, [N/A]\n93, 40000\n")
    _write(tmp_path / "train_log.jsonl", json.dumps({"event": "train", "step": 5, "loss": 1.9, "images_per_s": 800.0})
           + "\n")
    assert summarize([str(tmp_path), str(stages), "0"]) == 0  # a stage skipped for lack of budget is no failure
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["gpu_util_percent_mean_while_busy"] == 90.0 and summary["gpu_util_samples"] == 4
    assert summary["train_rafdb"]["images_per_s_median"] == 800.0 and summary["train_rafdb"]["peak_mib"] is None
    assert summary["stages"]["bench_train_compile"]["status"] == "skipped (budget)"
    assert "bench_infer_eager" not in summary


def test_summary_fails_the_run_when_a_stage_timed_out_and_survives_an_empty_log(tmp_path):
    stages = _write(tmp_path / "stages.tsv", "imports\t0\t3\ntrain_rafdb\t124\t150\n")
    _write(tmp_path / "train_log.jsonl", "")
    _write(tmp_path / "gpu_util.csv", "[N/A], [N/A]\n")
    assert summarize([str(tmp_path), str(stages), "0"]) == 1
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stages"]["train_rafdb"]["status"] == "timeout"
    assert summary["train_rafdb"]["images_per_s_median"] is None and summary["train_rafdb"]["optimizer_steps"] == 0
    assert summary["gpu_util_percent_mean_while_busy"] is None


def test_a_failing_benchmark_worker_raises_with_its_own_stderr():
    script = str(REPO / "benchmarks" / "inference_throughput.py")
    with pytest.raises(WorkerError) as err:
        measure_in_subprocess(script, "no_such_model", ["--device", "cpu", "--batch-size", "1", "--img-size", "32",
                                                         "--warmup", "0", "--iters", "1", "--modes", "eager"])
    assert "no_such_model" in str(err.value) and "Traceback" in str(err.value)
