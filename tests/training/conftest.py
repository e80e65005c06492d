"""Fixtures for training tests: small generated datasets, tiny configs, running train.py."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TRAIN_SCRIPT = REPO / "training" / "train.py"

TINY_FER = {
    "task": "rafdb",
    "seed": 0,
    "model": {"name": "faer_atto", "pretrained": False, "img_size": 32, "drop_path_rate": 0.1},
    "data": {"num_workers": 0, "validation_size": 0.1},
    "optim": {"lr": 1.0e-3, "scheduler": "exponential", "gamma": 0.9, "warmup_epochs": 0.5, "grad_clip_norm": 5.0},
    "loss": {"center_weight": 0.01},
    "train": {"epochs": 2, "global_batch_size": 8, "per_device_batch_size": 8, "eval_batch_size": 8,
              "log_every_steps": 1, "ema": True, "ema_decay": 0.9, "cpu_threads": 1},
    "checkpoint": {"every_steps": 2, "keep_last": 2},
    "tracking": {"report_to": "none"},
}
"""63 train / 7 validation / 35 test images at 32 px: 7 optimizer steps per epoch, 14 in all. One CPU
thread, so runs in the test process and in subprocesses add up their floats in the same order."""


class InjectedCrash(Exception):
    """Raised by :func:`crash_after_step` in place of a crash."""


def crash_after_step(monkeypatch, step: int) -> None:
    """Make the next in-process training run die right after optimizer step ``step`` (gradient
    accumulation 1: the next forward raises), as a crash would: later steps are lost, the
    checkpoints written so far stay. The training script itself has no test hook."""
    from faer_hub.training.model import ModelWithLoss

    forward = ModelWithLoss.forward
    calls = {"n": 0}

    def crashing(self, images, targets):
        calls["n"] += 1
        if calls["n"] > step:
            raise InjectedCrash(f"crash injected after optimizer step {step}")
        return forward(self, images, targets)

    monkeypatch.setattr(ModelWithLoss, "forward", crashing)


def crash_run(monkeypatch, args: list[str], step: int) -> None:
    """Run train.py in this process until the crash injected after ``step``."""
    crash_after_step(monkeypatch, step)
    with pytest.raises(InjectedCrash):
        load_train_module().main(args)
    monkeypatch.undo()


@pytest.fixture(scope="session")
def raf_dir(tmp_path_factory) -> Path:
    from faer_hub.data.synthetic.write import write_synthetic

    return write_synthetic("rafdb", tmp_path_factory.mktemp("data") / "rafdb", num_train=70, num_test=35, seed=0)


@pytest.fixture(scope="session")
def celeba_dir(tmp_path_factory) -> Path:
    from faer_hub.data.synthetic.write import write_synthetic

    return write_synthetic("celeba", tmp_path_factory.mktemp("data") / "celeba", num_train=40, num_test=16,
                           num_val=8, seed=0)


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def fer_config(tmp_path_factory) -> Path:
    return write_config(tmp_path_factory.mktemp("configs") / "tiny_fer.yaml", TINY_FER)


def load_train_module():
    """training/train.py as a module (for in-process runs)."""
    spec = importlib.util.spec_from_file_location("faer_train_script", TRAIN_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(args: list[str], *, env: dict | None = None, launcher: list[str] | None = None,
               timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run train.py in a fresh process (``launcher`` e.g. accelerate launch), capturing output."""
    cmd = [*(launcher or [sys.executable]), str(TRAIN_SCRIPT), *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc


def read_log(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def baseline_run(tmp_path_factory, fer_config, raf_dir) -> Path:
    """One uninterrupted tiny FER run in a subprocess (the reference for resume tests)."""
    out = tmp_path_factory.mktemp("runs") / "baseline"
    run_script(["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)])
    return out
