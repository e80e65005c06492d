"""The one writer: atomic, umask-respecting; and every file the package writes obeys the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from faer_hub.io import atomic_dir, atomic_path, write_json, write_text

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_get_the_umask_permissions(tmp_path, umask_027):
    write_text(tmp_path / "a.txt", "hello")
    write_json(tmp_path / "b.json", {"x": float("nan"), "y": float("inf")})
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inner.bin").write_bytes(b"1")
    assert _mode(tmp_path / "a.txt") == 0o640 and _mode(tmp_path / "b.json") == 0o640
    assert _mode(tmp_path / "folder") == 0o750 and _mode(tmp_path / "folder" / "inner.bin") == 0o640
    assert (tmp_path / "b.json").read_text() == '{\n  "x": null,\n  "y": "inf"\n}\n'


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "metrics.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "export") as tmp:
            (tmp / "config.json").write_text("{}")
            raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_writing_into_a_missing_folder_or_onto_a_folder_names_the_target(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"cannot write {tmp_path / 'nope' / 'x.csv'}: .*does not exist"):
        write_text(tmp_path / "nope" / "x.csv", "")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder; give a file name"):
        write_text(tmp_path / "dir", "")


@pytest.mark.slow
def test_every_file_the_package_writes_obeys_the_umask(tmp_path):
    """The user's paths, run under umask 027: every file 0640, every folder 0750."""
    config = {
        "task": "rafdb", "model": {"name": "faer_atto", "pretrained": False, "img_size": 32},
        "data": {"num_workers": 0}, "train": {"epochs": 1, "global_batch_size": 8, "per_device_batch_size": 8,
                                              "eval_batch_size": 8, "ema": True},
        "checkpoint": {"every_steps": 1}, "tracking": {"report_to": "tensorboard"},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    cli = f"{sys.executable} -m faer_hub.cli"
    image = out / "data/basic/Image/aligned/test_0001_aligned.jpg"
    script = f"""
        set -e
        umask 027
        mkdir {out}
        {cli} synth rafdb {out}/data --num-train 28 --num-test 14
        {sys.executable} training/train.py --config {tmp_path}/tiny.yaml --data-dir {out}/data --output-dir {out}/run
        {cli} prepare rafdb {out}/data --cache-dir {out}/cache
        {cli} export {out}/run/export {out}/export2
        {cli} export-onnx {out}/run/export {out}/model.onnx
        {cli} evaluate {out}/run/export --data-dir {out}/data --out {out}/eval
        {cli} cam {image} --model {out}/run/export --out {out}/cam
        {cli} predict {image} --model {out}/run/export --format csv --output {out}/preds.csv
        {cli} cards --out {out}/cards
    """
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    wrong = [f"{oct(_mode(p))} {p.relative_to(out)}" for p in [out, *out.rglob("*")]
             if _mode(p) != (0o750 if p.is_dir() else 0o640)]
    assert not wrong, "\n".join(wrong)
    written = {p.relative_to(out).parts[0] for p in out.rglob("*") if p.is_file()}
    assert written >= {"data", "run", "cache", "export2", "model.onnx", "eval", "cam", "preds.csv", "cards"}
