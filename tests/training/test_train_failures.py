"""training/train.py on bad input: one line naming the file or key and the fix, exit status 2, and
nothing written to the output folder, so the corrected command simply runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import TINY_FER, run_script, write_config

pytestmark = pytest.mark.slow

QUICK = ["--set", "train.epochs=1", "--set", "train.max_steps_per_epoch=1"]


def _one_line_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    return proc.stderr.strip().splitlines()[-1]


def test_a_missing_data_folder_writes_nothing_and_the_corrected_run_needs_no_flag(tmp_path, fer_config, raf_dir):
    out = tmp_path / "run"
    proc = run_script(["--config", str(fer_config), "--data-dir", str(tmp_path / "nope"), "--output-dir", str(out),
                       *QUICK], check=False)
    assert str(tmp_path / "nope") in _one_line_error(proc)
    assert not out.exists() or not any(out.iterdir())
    run_script(["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out), *QUICK])
    assert (out / "export" / "model.safetensors").is_file()


def test_a_bad_label_row_names_the_line_and_the_training_switch_that_skips_it(tmp_path, fer_config, raf_dir):
    data = tmp_path / "raf"
    shutil.copytree(raf_dir, data)
    labels = data / "basic" / "EmoLabel" / "list_patition_label.txt"
    labels.write_text(labels.read_text() + "test_0001.jpg 8\n")
    out = tmp_path / "run"
    args = ["--config", str(fer_config), "--data-dir", str(data), "--output-dir", str(out), *QUICK]
    message = _one_line_error(run_script(args, check=False))
    assert f"{labels}:106" in message and "--set data.skip_bad_rows=true" in message
    assert not (out / "config.yaml").exists()
    run_script([*args, "--set", "data.skip_bad_rows=true"])
    assert (out / "metrics.json").is_file()


def test_a_jpeg_as_config_is_named(tmp_path, raf_dir):
    jpeg = next((raf_dir / "basic" / "Image" / "aligned").iterdir())
    message = _one_line_error(run_script(["--config", str(jpeg), "--output-dir", str(tmp_path / "run")], check=False))
    assert f"{jpeg} is not a YAML text file" in message


def test_missing_backbone_weights_offline_write_nothing(tmp_path, raf_dir):
    config = write_config(tmp_path / "pretrained.yaml", dict(TINY_FER, model=dict(TINY_FER["model"], pretrained=True)))
    out = tmp_path / "run"
    proc = run_script(["--config", str(config), "--data-dir", str(raf_dir), "--output-dir", str(out)], check=False,
                      env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty_hf_home")})
    message = _one_line_error(proc)
    assert "could not load ImageNet backbone weights for 'faer_atto.in1k'" in message
    assert "--set model.pretrained=false" in message
    assert not (out / "config.yaml").exists()


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_keeps_the_finished_run_until_the_new_one_has_finished(tmp_path, baseline_run, fer_config, raf_dir,
                                                                         monkeypatch, capsys):
    """--overwrite on a finished run: a bad value is refused before anything is touched; a new run that
    fails midway puts the finished one back; only a new run that finishes replaces it."""
    from .conftest import InjectedCrash, crash_after_step, load_train_module

    out = tmp_path / "run"
    shutil.copytree(baseline_run, out)
    finished = _snapshot(out)
    args = ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out), "--overwrite"]
    train = load_train_module()

    assert train.run_command([*args, "--set", "optim.betas=[2,2]"]) == 2
    assert "config key 'optim.betas[0]' must be in [0, 1), got 2.0" in capsys.readouterr().err
    assert _snapshot(out) == finished

    crash_after_step(monkeypatch, 3)  # the new run dies after writing its config, log and first checkpoint
    with pytest.raises(InjectedCrash):
        train.main(args)
    monkeypatch.undo()
    assert _snapshot(out) == finished and sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in baseline_run.iterdir())

    assert train.run_command([*args, *QUICK]) == 0
    assert not (out / ".replaced-run").exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-")) == ["step-00000001"]


def test_a_full_disk_during_a_checkpoint_names_the_file_and_keeps_the_good_checkpoints(tmp_path, fer_config, raf_dir,
                                                                                        monkeypatch, capsys):
    import errno

    from accelerate import Accelerator

    from .conftest import load_train_module

    save_state = Accelerator.save_state
    calls = []

    def filling_up(self, output_dir=None, **kwargs):
        calls.append(output_dir)
        if len(calls) < 2:
            return save_state(self, output_dir, **kwargs)
        (Path(output_dir) / "model.safetensors").write_bytes(b"half a tensor")  # what the writer got out
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Accelerator, "save_state", filling_up)
    out = tmp_path / "run"
    status = load_train_module().run_command(
        ["--config", str(fer_config), "--data-dir", str(raf_dir), "--output-dir", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and "Traceback" not in "\n".join(err)
    assert (f"error: cannot write {out / 'checkpoints' / 'step-00000004' / 'model.safetensors'}: "
            "no space left on device") in err[-1]  # (after the progress bar the failure interrupted)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002"]  # no partial folder left
