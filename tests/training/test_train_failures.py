"""training/train.py on bad input: one line naming the file or key and the fix, exit status 2, and
nothing written to the output folder, so the corrected command simply runs."""

from __future__ import annotations

import shutil

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
