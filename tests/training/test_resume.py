"""A run killed at any moment and resumed ends bit for bit where an uninterrupted run ends."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file
from torch.optim.optimizer import register_optimizer_step_pre_hook

from faer_hub.training.outputs import OutputDirError

from .conftest import REPO, TINY_FER, TRAIN_SCRIPT, crash_run, load_train_module, read_log, run_script, write_config

pytestmark = pytest.mark.slow


def _assert_same_outcome(run_a, run_b):
    a = load_file(run_a / "export" / "model.safetensors")
    b = load_file(run_b / "export" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    last_a = load_file(run_a / "checkpoints" / "step-00000014" / "model.safetensors")
    last_b = load_file(run_b / "checkpoints" / "step-00000014" / "model.safetensors")
    assert all(torch.equal(last_a[k], last_b[k]) for k in last_a)  # incl. center-loss centers
    ma, mb = (json.loads((r / "metrics.json").read_text()) for r in (run_a, run_b))
    assert ma["test"] == mb["test"] and ma["validation"] == mb["validation"]
    assert ma["last_epoch"]["test"] == mb["last_epoch"]["test"]
    assert ma["selection"] == mb["selection"]
    assert [h["validation"] for h in ma["history"]] == [h["validation"] for h in mb["history"]]


def test_simulated_crash_mid_epoch_then_resume_is_bit_identical(tmp_path, baseline_run, fer_config, raf_dir,
                                                                 monkeypatch):
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    crash_run(monkeypatch, args, step=5)
    ckpts = sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))
    assert ckpts[-1] == "step-00000004"  # mid-epoch: steps 5 is lost and must be redone
    assert not (out / "metrics.json").exists()

    with pytest.raises(OutputDirError, match="--resume"):  # a previous run is there: refused
        load_train_module().main(args)

    trained = json.loads((out / "checkpoints" / "step-00000004" / "train_state.json").read_text())["train_seconds"]
    assert trained > 0

    run_script(["--output-dir", str(out), "--resume", "--data-dir", str(raf_dir)])
    resumes = [e for e in read_log(out) if e["event"] == "resume"]
    assert resumes == [dict(resumes[0], checkpoint="step-00000004", epoch=0, global_step=4)]
    _assert_same_outcome(baseline_run, out)
    # the resumed run's facts are the whole run's: its time before the crash, the recipe it started with
    assert json.loads((out / "metrics.json").read_text())["train_time_s"] > trained
    assert f"`{fer_config}`" in (out / "export" / "README.md").read_text()
    assert f"`{fer_config}`" in (baseline_run / "export" / "README.md").read_text()


def test_real_sigkill_at_an_arbitrary_moment_then_resume_is_bit_identical(tmp_path, baseline_run, fer_config, raf_dir):
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    proc = subprocess.Popen([sys.executable, str(TRAIN_SCRIPT), *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    try:  # step 9 is early in epoch 2: five more steps, two evaluations and the export remain
        while time.time() < deadline and proc.poll() is None and not _logged_step(out, 9):
            time.sleep(0.01)
        time.sleep(int.from_bytes(os.urandom(1), "little") / 2550)  # 0-100 ms later: any moment of a step
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before the kill: resume was not exercised"
    assert not (out / "metrics.json").exists()
    run_script(["--output-dir", str(out), "--resume", "--data-dir", str(raf_dir)])
    assert any(e["event"] == "resume" for e in read_log(out))
    _assert_same_outcome(baseline_run, out)


def _logged_step(run_dir, step: int) -> bool:
    log = run_dir / "log.jsonl"
    if not log.exists():
        return False
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:  # a line being written
            continue
        if event["event"] == "train" and event["step"] >= step:
            return True
    return False


def test_mid_epoch_resume_on_another_batch_layout_is_refused_epoch_boundary_resume_works(tmp_path, fer_config, raf_dir,
                                                                                           monkeypatch):
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    crash_run(monkeypatch, args, step=8)  # step 8: epoch 2, batch 1
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-")) == [
        "step-00000007", "step-00000008"]  # epoch 1's end, then mid-epoch 2

    # 8 images per device x 1 process -> 4 x 1 x accumulation 2: the mid-epoch position means other samples
    before = _snapshot(out)
    other_layout = ["--output-dir", str(out), "--resume", "--set", "train.per_device_batch_size=4"]
    refused = run_script(other_layout, check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    assert "step-00000008 was saved mid-epoch (epoch 2, batch 1) with 1 process(es) x 8 per device x 1 accumulation" in message
    assert "this run has 1 process(es) x 4 per device x 2 accumulation" in message
    assert "--set train.per_device_batch_size=8" in message and "--resume-from step-00000007" in message
    assert _snapshot(out) == before  # a refused resume changes nothing: config.yaml still holds 8 per device

    # two processes x 4: every process refuses; the refusal is printed once and no process shows a traceback
    # (the launcher, torch.distributed's elastic agent, still reports that its workers exited with status 2)
    from .test_multiprocess import CPU_ONLY, LAUNCH_2

    refused = run_script(other_layout, launcher=LAUNCH_2, env=CPU_ONLY, check=False)
    assert refused.returncode != 0
    assert refused.stderr.count("was saved mid-epoch") == 1, refused.stderr[-3000:]
    assert "this run has 2 process(es) x 4 per device x 1 accumulation" in refused.stderr
    assert f'File "{TRAIN_SCRIPT}"' not in refused.stderr and "exitcode  : 2" in refused.stderr
    assert _snapshot(out) == before

    run_script(["--output-dir", str(out), "--resume-from", "step-00000007", "--set", "train.per_device_batch_size=4"])
    resumes = [e for e in read_log(out) if e["event"] == "resume"]
    assert [(e["checkpoint"], e["epoch"]) for e in resumes] == [("step-00000007", 1)]
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == [0, 1] and metrics["test"]["num_samples"] == 35
    last = sorted(p for p in (out / "checkpoints").iterdir() if p.name.startswith("step-"))[-1]
    state = json.loads((last / "train_state.json").read_text())
    assert state["epoch"] == 2 and state["layout"] == {"num_processes": 1, "gradient_accumulation_steps": 2, "per_device_batch_size": 4}


def test_a_truncated_newest_checkpoint_is_skipped_and_resume_still_ends_bit_identical(tmp_path, baseline_run,
                                                                                        fer_config, raf_dir, monkeypatch):
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    crash_run(monkeypatch, args, step=5)
    weights = out / "checkpoints" / "step-00000004" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a disk that filled up

    resumed = run_script(["--output-dir", str(out), "--resume"])
    assert "skipped checkpoint step-00000004, which cannot be loaded" in resumed.stderr
    events = read_log(out)
    assert [(e["event"], e["checkpoint"]) for e in events if e["event"].startswith("resume")] == [
        ("resume_skipped", "step-00000004"), ("resume", "step-00000002")]
    _assert_same_outcome(baseline_run, out)


def test_a_damaged_train_state_skips_its_checkpoint_everywhere_and_resume_still_ends_bit_identical(
        tmp_path, baseline_run, fer_config, raf_dir, monkeypatch):
    """The newest checkpoint's train_state.json is cut short: resume walks back past it, and pruning
    (which reads every kept checkpoint's state) no longer raises JSONDecodeError."""
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    crash_run(monkeypatch, args, step=5)
    state = out / "checkpoints" / "step-00000004" / "train_state.json"
    state.write_text(state.read_text()[:40])

    resumed = run_script(["--output-dir", str(out), "--resume"])
    assert "skipped checkpoint step-00000004, which cannot be loaded" in resumed.stderr
    events = read_log(out)
    assert [(e["event"], e["checkpoint"]) for e in events if e["event"].startswith("resume")] == [
        ("resume_skipped", "step-00000004"), ("resume", "step-00000002")]
    skipped = next(e for e in events if e["event"] == "resume_skipped")
    assert "train_state.json cannot be read (JSONDecodeError" in skipped["reason"]
    _assert_same_outcome(baseline_run, out)


def test_pruning_and_the_layout_advice_skip_a_damaged_checkpoint(tmp_path):
    from faer_hub.training import checkpoint as ckpt

    class Main:
        is_main_process = True

        def wait_for_everyone(self):
            pass

    checkpoints = tmp_path / "checkpoints"
    for step, best in ((2, None), (4, "best-step-00000004"), (6, None), (8, None)):
        folder = checkpoints / f"step-{step:08d}"
        folder.mkdir(parents=True)
        (folder / "train_state.json").write_text(ckpt.TrainState(global_step=step, best_dir=best).to_json())
    (checkpoints / "best-step-00000004").mkdir()
    (checkpoints / "step-00000001").mkdir()
    (checkpoints / "step-00000001" / "train_state.json").write_text("{")  # damaged, older than the kept
    (checkpoints / "step-00000008" / "train_state.json").write_text("{\"epoch\": 1, ")  # damaged, the newest
    (checkpoints / ".step-00000010.tmp").mkdir()  # a killed run's unfinished checkpoint
    assert ckpt.read_train_state(checkpoints / "step-00000008") is None
    assert ckpt.latest_checkpoint(checkpoints) == checkpoints / "step-00000006"
    ckpt.prune_checkpoints(Main(), checkpoints, keep_last=2, best_dir=None)
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "best-step-00000004", "step-00000004", "step-00000006", "step-00000008"]  # 8: written again by the run
    with pytest.raises(ckpt.DamagedCheckpointError, match="step-00000008/train_state.json cannot be read"):
        ckpt.load_checkpoint(Main(), checkpoints / "step-00000008", layout={})


def _snapshot(folder):
    """Every file under ``folder`` with its bytes: what "nothing changed on disk" compares."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_lr_of_every_step_is_the_schedule_with_accumulation_and_after_resumes(tmp_path, raf_dir, monkeypatch):
    from faer_hub.training.config import load_config
    from faer_hub.training.optim import lr_factor

    config = {**TINY_FER,
              "optim": {**TINY_FER["optim"], "scheduler": "cosine", "min_lr_ratio": 0.1, "warmup_epochs": 0.5},
              "train": {**TINY_FER["train"], "per_device_batch_size": 4, "ema": False},  # accumulation 2
              "checkpoint": {"every_steps": 3, "keep_last": 20}}
    cfg = write_config(tmp_path / "cosine.yaml", config)
    optim = load_config(cfg).optim

    initial: list[float] = []

    def run(args, crash_after=None):
        """Every group's lr at each optimizer step the run takes."""
        lrs = []

        def record(opt, args, kwargs):
            initial[:] = [g["initial_lr"] for g in opt.param_groups]
            lrs.append([g["lr"] for g in opt.param_groups])

        hook = register_optimizer_step_pre_hook(record)
        try:
            if crash_after is None:
                load_train_module().main(args)
            else:
                crash_run(monkeypatch, args, step=crash_after)
        finally:
            hook.remove()
        return lrs

    def expected(factors):  # LambdaLR: initial lr x lambda
        return [[lr * f for lr in initial] for f in factors]

    full = tmp_path / "full"
    uninterrupted = run(["--config", str(cfg), "--data-dir", str(raf_dir), "--output-dir", str(full)])
    # 63 images in batches of 4: 15 per epoch, 8 optimizer steps (the last on one batch)
    assert uninterrupted == expected([lr_factor(optim, epoch=s // 8, step=s, steps_per_epoch=8, epochs=2)
                                      for s in range(16)])
    assert len(initial) == 5 and uninterrupted[:4] == expected([0.25, 0.5, 0.75, 1.0])  # warmup: half an epoch
    for name in ("step-00000006", "step-00000016"):  # the scheduler's state is in the checkpoint
        scheduler = torch.load(full / "checkpoints" / name / "scheduler.bin", weights_only=True)
        assert scheduler["last_epoch"] == int(name[5:])

    out = tmp_path / "run"
    args = ["--config", str(cfg), "--data-dir", str(raf_dir), "--output-dir", str(out)]
    assert run(args, crash_after=13) == uninterrupted[:6]  # killed in step 7, after its first batch
    resumed = run(["--output-dir", str(out), "--resume"])  # from step-00000006, mid-epoch
    assert resumed == uninterrupted[6:]

    # from the epoch boundary on another split: 8 per device x 1 accumulation, 7 steps per epoch
    other = tmp_path / "other"
    shutil.copytree(full, other)
    (other / "metrics.json").unlink()  # as if killed after step 8
    resumed = run(["--output-dir", str(other), "--resume-from", "step-00000008",
                   "--set", "train.per_device_batch_size=8"])
    assert resumed == expected([lr_factor(optim, epoch=1, step=s, steps_per_epoch=7, epochs=2) for s in range(8, 15)])
