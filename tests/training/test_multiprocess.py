"""Two CPU processes (accelerate launch): training works and evaluation counts each sample once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import timm

import faer_hub  # noqa: F401
from faer_hub.data import load_task_dataset
from faer_hub.data.loader import build_dataloader
from faer_hub.data.transforms import resolve_data_config
from faer_hub.evaluation.loop import evaluate_model

from .conftest import REPO, run_script

pytestmark = pytest.mark.slow

# `accelerate launch --cpu` always starts ONE process; two CPU processes on one machine take the
# multi-process launcher with no GPU visible (Accelerate then uses MULTI_CPU with gloo)
LAUNCH_2 = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "0"]
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, fer_config, raf_dir):
    out = tmp_path_factory.mktemp("runs") / "two_proc"
    # global batch 8 = 4 per device x 2 processes x 1 accumulation
    run_script(["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out),
                "--set", "train.per_device_batch_size=4", "--set", "train.eval_batch_size=4",
                "--set", "train.epochs=1"], launcher=LAUNCH_2, env=CPU_ONLY)
    return out


def _one_process_metrics(export, raf_dir, batch_size):
    model = timm.create_model(f"local-dir:{export}", pretrained=True)
    splits = load_task_dataset("rafdb", raf_dir, cache_dir=raf_dir.parent / f".{raf_dir.name}.hf_cache")
    loader = build_dataloader(splits["test"], resolve_data_config(model), batch_size=batch_size)
    return evaluate_model(model, loader, "rafdb", return_predictions=True)


def test_two_process_training_reports_the_metrics_of_one_process(two_process_run, raf_dir):
    metrics = json.loads((two_process_run / "metrics.json").read_text())
    assert metrics["num_processes"] == 2
    assert metrics["test"]["num_samples"] == 35  # 35 = 4 x 2 x 4 + 3: Accelerate pads, gather drops
    single = _one_process_metrics(two_process_run / "export", raf_dir, 4)
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "class_accuracy", "confusion_matrix", "num_samples"):
        assert single[key] == metrics["test"][key], key
    start = next(e for e in map(json.loads, (two_process_run / "log.jsonl").read_text().splitlines()))
    assert start["num_processes"] == 2 and start["gradient_accumulation_steps"] == 1


def test_two_process_evaluation_sees_every_test_sample_exactly_once(two_process_run, raf_dir, tmp_path):
    out = tmp_path / "eval.json"
    cmd = [*LAUNCH_2, str(REPO / "tests" / "training" / "eval_worker.py"), str(two_process_run / "export"),
           str(raf_dir), "rafdb", "3", str(out)]
    env = {**os.environ, **CPU_ONLY, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    two = json.loads(out.read_text())
    one = _one_process_metrics(two_process_run / "export", raf_dir, 3)
    assert two["num_processes"] == 2
    # batch 3 on 35 images: 12 batches, the last one short; in dataloader order, none twice, none lost
    assert len(two["predictions"]) == 35
    assert two["references"] == one["references"] and two["predictions"] == one["predictions"]
    assert two["accuracy"] == one["accuracy"]
