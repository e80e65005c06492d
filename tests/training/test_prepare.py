"""`faer-hub prepare` builds the cache once; training then reads it instead of building its own."""

from __future__ import annotations

from pathlib import Path

from faer_hub.cli import main as cli
from faer_hub.tasks import get_task
from faer_hub.training.config import load_config
from faer_hub.training.run import load_splits


def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_prepare_builds_the_cache_that_training_then_reuses(tmp_path, raf_dir, capsys):
    cache = tmp_path / "shared-cache"
    assert cli(["prepare", "rafdb", str(raf_dir), "--cache-dir", str(cache)]) == 0
    printed = capsys.readouterr().out
    assert "prepared rafdb" in printed and "35 test" in printed
    assert f"--set data.cache_dir={cache}" in printed
    built = _files(cache)
    assert any(name.endswith(".arrow") for name in built)

    config = load_config(None, [f"data.data_dir={raf_dir}", f"data.cache_dir={cache}"])
    splits = load_splits(config, get_task("rafdb"), tmp_path / "run")
    assert len(splits["test"]) == 35 and len(splits["train"]) + len(splits["validation"]) == 70
    assert all(Path(f["filename"]).is_relative_to(cache) for f in splits["test"].cache_files)
    assert {k: v for k, v in _files(cache).items() if k.endswith(".arrow")} == {
        k: v for k, v in built.items() if k.endswith(".arrow")}  # read, not rebuilt


def test_prepare_of_a_missing_folder_is_one_line_naming_it(tmp_path, capsys):
    assert cli(["prepare", "celeba", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nope") in err and "Traceback" not in err


def test_prepare_in_several_processes_builds_the_cache_training_reuses(tmp_path, raf_dir, capsys):
    cache = tmp_path / "cache"
    assert cli(["prepare", "rafdb", str(raf_dir), "--cache-dir", str(cache), "--num-proc", "2"]) == 0
    assert "35 test" in capsys.readouterr().out
    built = {k: v for k, v in _files(cache).items() if k.endswith(".arrow")}
    config = load_config(None, [f"data.data_dir={raf_dir}", f"data.cache_dir={cache}"])
    splits = load_splits(config, get_task("rafdb"), tmp_path / "run")
    assert len(splits["train"]) + len(splits["validation"]) == 70
    assert {k: v for k, v in _files(cache).items() if k.endswith(".arrow")} == built  # read, not rebuilt


def test_prepare_refuses_a_process_count_below_one_in_one_line(tmp_path, raf_dir, capsys):
    import pytest

    with pytest.raises(SystemExit) as exit_:
        cli(["prepare", "rafdb", str(raf_dir), "--num-proc", "0"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--num-proc: must be 1 or more, got '0'" in err and "Traceback" not in err
