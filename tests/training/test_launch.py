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


def _fake_state(monkeypatch, *, main: bool, local_main: bool):
    """One process of two, without a process group: the token broadcast returns what it is given."""
    from types import SimpleNamespace

    from faer_hub.training import launch

    monkeypatch.setattr(launch, "broadcast_object_list", lambda objects: ["token"])
    return SimpleNamespace(num_processes=2, process_index=0 if main else 1, is_main_process=main,
                           is_local_main_process=local_main, wait_for_everyone=lambda: None)


def test_the_builder_loads_first_and_the_others_poll_for_its_marker(tmp_path, monkeypatch):
    from faer_hub.training.launch import PeerFailedError, load_in_turn

    builder = _fake_state(monkeypatch, main=True, local_main=True)
    assert load_in_turn(builder, lambda: "splits", tmp_path, per_node=False, wait_minutes=1) == "splits"
    assert not list(tmp_path.iterdir())  # the marker is gone once everyone has passed
    poller = _fake_state(monkeypatch, main=False, local_main=True)  # first process of another machine
    (tmp_path / ".faer-ready-token").write_text("ready")
    assert load_in_turn(poller, lambda: "splits", tmp_path, per_node=False, wait_minutes=1) == "splits"
    with pytest.raises(PeerFailedError, match="data.cache_wait_minutes"):
        load_in_turn(poller, lambda: "splits", tmp_path / "never", per_node=False, wait_minutes=0.001,
                     poll_seconds=0.01)


def test_a_failed_build_stops_the_pollers_at_once(tmp_path, monkeypatch):
    from faer_hub.training.launch import PeerFailedError, load_in_turn

    def broken():
        raise ValueError("bad annotation")

    builder = _fake_state(monkeypatch, main=True, local_main=True)
    with pytest.raises(ValueError):
        load_in_turn(builder, broken, tmp_path, per_node=False, wait_minutes=1)
    poller = _fake_state(monkeypatch, main=False, local_main=False)
    with pytest.raises(PeerFailedError, match="failed to build the dataset cache.*ValueError"):
        load_in_turn(poller, lambda: "splits", tmp_path, per_node=True, wait_minutes=1)


def test_an_output_dir_that_one_process_cannot_see_stops_every_process(tmp_path, monkeypatch):
    from faer_hub.training import launch
    from faer_hub.training.outputs import OutputDirError

    state = _fake_state(monkeypatch, main=False, local_main=True)  # the main process wrote the probe elsewhere
    monkeypatch.setattr(launch, "gather_object", lambda views: [(True, 0, "node-a"), *views])
    with pytest.raises(OutputDirError, match=r"not visible to process 1 on .*same path"):
        launch.check_shared_dir(state, tmp_path)
