"""Launcher flags against config values: the launcher decides unless the config says otherwise."""

from __future__ import annotations

import pytest
import torch

from faer_hub.training.config import load_config
from faer_hub.training.launch import resolve_launch

from .conftest import TINY_FER, read_log, run_script, write_config


@pytest.mark.parametrize("config_value, launcher, used, disagrees", [
    (None, None, "no", False),          # nothing said anywhere: full precision
    (None, "bf16", "bf16", False),      # accelerate launch --mixed_precision bf16 wins over a silent config
    ("bf16", None, "bf16", False),      # plain python: the config's value
    ("bf16", "bf16", "bf16", False),
    ("no", "bf16", "no", True),         # the config is explicit: it wins, and the disagreement is reported
    ("bf16", "fp16", "bf16", True),
])
def test_mixed_precision_comes_from_the_launcher_unless_the_config_sets_it(config_value, launcher, used, disagrees):
    config = load_config(None, [f"train.mixed_precision={config_value or 'null'}"])
    env = {"ACCELERATE_MIXED_PRECISION": launcher} if launcher else {}
    launch = resolve_launch(config, env)
    assert launch.mixed_precision == used
    assert bool(launch.disagreements) == disagrees
    if disagrees:
        assert f"'{config_value}' in the config but the launcher asked for '{launcher}'" in launch.disagreements[0]
        assert "train.mixed_precision=null" in launch.disagreements[0]


@pytest.mark.parametrize("compile_value, launcher, used, disagrees", [
    (None, None, "no", False),
    (None, "INDUCTOR", "inductor", False),
    ("false", "INDUCTOR", "no", True),
    ("true", "NO", "inductor", True),
    ("true", None, "inductor", False),
])
def test_compile_comes_from_the_launcher_unless_the_config_sets_it(compile_value, launcher, used, disagrees):
    config = load_config(None, [f"model.compile={compile_value or 'null'}"])
    launch = resolve_launch(config, {"ACCELERATE_DYNAMO_BACKEND": launcher} if launcher else {})
    assert launch.dynamo_backend == used and bool(launch.disagreements) == disagrees


def test_unwrapping_a_compiled_wrapped_model_leaves_the_wrapper_intact():
    """``unwrap_model`` keeps torch.compile by default and then re-points the compiled wrapper at
    the bare module, so training would bypass DDP; the loop unwraps with keep_torch_compile=False."""
    from accelerate import Accelerator

    bare = torch.nn.Linear(2, 2)
    wrapped = torch.nn.DataParallel(bare)  # stands in for DDP (both are unwrapped the same way)
    compiled = torch.compile(wrapped, backend="eager")
    assert Accelerator(cpu=True).unwrap_model(compiled, keep_torch_compile=False) is bare
    assert compiled._orig_mod is wrapped


def test_a_run_reports_the_precision_it_used_and_the_disagreement(tmp_path, raf_dir):
    config = dict(TINY_FER, train=dict(TINY_FER["train"], epochs=1, mixed_precision="no"))
    cfg = write_config(tmp_path / "no.yaml", config)
    out = tmp_path / "explicit"
    proc = run_script(["--config", str(cfg), "--data-dir", str(raf_dir), "--output-dir", str(out)],
                      env={"ACCELERATE_MIXED_PRECISION": "bf16"})
    assert "train.mixed_precision is 'no' in the config but the launcher asked for 'bf16'" in proc.stderr
    assert next(e for e in read_log(out) if e["event"] == "start")["mixed_precision"] == "no"

    silent = dict(config, train={k: v for k, v in config["train"].items() if k != "mixed_precision"})
    out = tmp_path / "launcher"
    proc = run_script(["--config", str(write_config(tmp_path / "silent.yaml", silent)), "--data-dir", str(raf_dir),
                       "--output-dir", str(out), "--set", "train.max_steps_per_epoch=2"],
                      env={"ACCELERATE_MIXED_PRECISION": "bf16"})
    assert "launcher asked" not in proc.stderr
    assert next(e for e in read_log(out) if e["event"] == "start")["mixed_precision"] == "bf16"
