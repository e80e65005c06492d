"""Prediction jobs: rows streamed as produced, a killed run resumed, shards merged in input order."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faer_hub.faces.detect import Detection
from faer_hub.inference.output import merge_shards, read_finished, shard_line
from faer_hub.inference.predict import Predictor
from faer_hub.inference.run import run_to_output


def _face(x=4.0, y=4.0, w=40.0, h=48.0):
    return Detection((x, y, w, h), 0.99, ((x + 12, y + 18), (x + 28, y + 18), (x + 20, y + 28), (x + 13, y + 38),
                                         (x + 27, y + 38)))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(6):
        Image.fromarray(rng.integers(0, 255, (56, 48, 3), dtype=np.uint8)).save(folder / f"p{k}.png")
    (folder / "broken.jpg").write_text("not a picture")
    return folder


class Killer:
    """A detector that finds two faces per picture and 'dies' at the picture numbered ``at``."""

    def __init__(self, at=None):
        self.at, self.calls = at, 0

    def __call__(self, image):
        if self.calls == self.at:
            raise KeyboardInterrupt  # what a kill does to a run, as far as its output goes
        self.calls += 1
        return [_face(), _face(10, 2, 30, 36)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_killed_run_keeps_its_rows_and_resume_finishes_it_as_one_run_would(raf_export, photos, tmp_path, fmt):
    out, whole = tmp_path / f"killed.{fmt}", tmp_path / f"whole.{fmt}"
    run_to_output(Predictor(str(raf_export), detector=Killer(), batch_size=1), [photos], fmt=fmt, output=whole)
    with pytest.raises(KeyboardInterrupt):
        run_to_output(Predictor(str(raf_export), detector=Killer(at=3), batch_size=1), [photos], fmt=fmt, output=out)
    kept = out.read_text()
    assert kept and whole.read_text().startswith(kept)  # four inputs (three pictures) were on disk when it died
    with open(out, "a") as f:
        f.write(kept.splitlines()[-1][:15])  # and the kill cut a line in half
    summary = run_to_output(Predictor(str(raf_export), detector=Killer(), batch_size=4), [photos], fmt=fmt,
                            output=out, resume=True)
    assert out.read_text() == whole.read_text()
    assert summary.skipped == 3 and summary.inputs == 4  # the last finished input runs again, to be safe


def test_an_earlier_output_is_replaced_only_when_the_new_run_has_ended(raf_export, photos, tmp_path):
    """Replacing an earlier output (``--overwrite``): a run that dies leaves it as it was, and nothing
    beside it; a run that ends replaces it whole."""
    out = tmp_path / "rows.csv"
    run_to_output(Predictor(str(raf_export), detector=Killer(), batch_size=1), [photos], fmt="csv", output=out)
    earlier = out.read_text()
    with pytest.raises(KeyboardInterrupt):
        run_to_output(Predictor(str(raf_export), detector=Killer(at=3), batch_size=1), [photos], fmt="csv", output=out)
    assert out.read_text() == earlier and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    run_to_output(Predictor(str(raf_export), detector=Killer(), batch_size=1), [photos / "p0.png"], fmt="csv",
                  output=out)
    assert out.read_text() != earlier and out.read_text().count("p0.png") == 2  # two faces, one picture


def test_rows_go_to_stdout_in_input_order_across_batches(raf_export, photos):
    stream = io.StringIO()
    summary = run_to_output(Predictor(str(raf_export), detector=Killer(), batch_size=3), [photos], fmt="jsonl",
                            stream=stream)
    paths = [json.loads(line)["path"] for line in stream.getvalue().splitlines()]
    assert [Path(p).name for p in paths] == ["broken.jpg"] + [f"p{k}.png" for k in range(6) for _ in (0, 1)]
    assert (summary.inputs, summary.faces, summary.failed) == (7, 12, 1)


def test_resume_refuses_an_output_with_other_columns(tmp_path):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="other.csv was written with other columns"):
        read_finished(out, "csv", "path,frame\n")
    out = tmp_path / "notes.jsonl"
    out.write_text("my notes\n")
    with pytest.raises(ValueError, match="notes.jsonl: line 1 is not a record of faer-hub predict"):
        read_finished(out, "jsonl")
    out.write_text('{"path": "a.jpg", "status": "ok"}\n{"path": "other", "x": 1}\n')  # someone else's line
    with pytest.raises(ValueError, match="notes.jsonl: line 2 is not a record of faer-hub predict"):
        read_finished(out, "jsonl")


def test_resume_refuses_a_damaged_row_with_rows_after_it_and_cuts_only_a_last_one(tmp_path):
    """Only the last line can be cut by a kill; a bad line with rows after it would lose them."""
    out = tmp_path / "rows.csv"
    out.write_text("path,frame\na.jpg,\nbroken\nb.jpg,\nc.jpg,\n")
    with pytest.raises(ValueError, match="rows.csv: line 3 is not a row of these columns and rows follow it"):
        read_finished(out, "csv", "path,frame\n")
    out.write_text("path,frame\na.jpg,\nb.jpg,\nc.j")  # the kill cut the last line
    assert read_finished(out, "csv", "path,frame\n").paths == {"a.jpg"}  # b.jpg, the last whole one, runs again


def test_shards_merge_in_input_order(tmp_path):
    out = tmp_path / "out.csv"
    shards = [tmp_path / "s0", tmp_path / "s1"]
    shards[0].write_text(shard_line(0, "a", "a,1\n") + shard_line(2, "c", "c,1\nc,2\n", failed=1) + shard_line(4, "e", "e\n"))
    shards[1].write_text(shard_line(1, "b", "b,1\n") + shard_line(3, "d", "d,1\n") + '{"index": 5, "pa')
    assert merge_shards(out, shards, "path,x\n") == (5, 1)  # records merged, failed rows among them
    assert out.read_text() == "path,x\na,1\nb,1\nc,1\nc,2\nd,1\ne\n"  # the cut line was not merged
    shards[1].write_text(shard_line(3, "d", "d,1\n") + shard_line(5, "f", "f,1\n"))  # d: merged before a kill
    assert merge_shards(out, shards[1:], "path,x\n", keep_old=True, skip={"a", "b", "c", "d", "e"}) == (1, 0)
    assert out.read_text() == "path,x\na,1\nb,1\nc,1\nc,2\nd,1\ne\nf,1\n"


def test_two_processes_write_one_output_in_input_order_and_resume(raf_export, photos, tmp_path):
    """`faer-hub predict --num-processes 2` runs `accelerate launch` with two CPU processes."""
    single, double = tmp_path / "single.csv", tmp_path / "double.csv"
    base = [sys.executable, "-m", "faer_hub.cli", "predict", str(photos), "--model", str(raf_export),
            "--no-detect", "--format", "csv", "--batch-size", "2", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run_to_output(Predictor(str(raf_export), detect_faces=False, batch_size=2, device="cpu"), [photos], fmt="csv",
                  output=single)
    two = subprocess.run([*base, "--output", str(double), "--num-processes", "2"], env=env, capture_output=True,
                         text=True, timeout=600)
    assert two.returncode == 1, two.stderr  # broken.jpg failed (the processes themselves exit 0)
    assert "1 file(s) failed" in two.stderr and "Traceback" not in two.stderr
    rows1, rows2 = (list(csv.reader(p.open())) for p in (single, double))
    assert [r[:5] for r in rows2] == [r[:5] for r in rows1] and len(rows1) == 8
    for a, b in zip(rows1[1:], rows2[1:]):
        assert [float(x) for x in a[-7:] if x] == pytest.approx([float(x) for x in b[-7:] if x], abs=2e-6)
    assert not list(tmp_path.glob(".double.csv.shard-*"))  # the shards are merged and removed
    # a two-process run killed mid-way: two inputs merged, one in each shard, the second cut by the kill
    groups = [[line for line in single.read_text().splitlines(keepends=True)[1:] if line.split(",")[0] == path]
              for path in dict.fromkeys(r[0] for r in rows1[1:])]
    header = single.read_text().splitlines(keepends=True)[0]
    killed = tmp_path / "killed.csv"
    killed.write_text(header + "".join(groups[0] + groups[1]))
    (tmp_path / ".killed.csv.shard-0-of-2.jsonl").write_text(shard_line(2, rows1[3][0], "".join(groups[2])))
    (tmp_path / ".killed.csv.shard-1-of-2.jsonl").write_text(
        shard_line(3, rows1[4][0], "".join(groups[3])) + '{"index": 5, "path": "')
    again = subprocess.run([*base, "--output", str(killed), "--num-processes", "2", "--resume"], env=env,
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr  # broken.jpg (input 0) was done: not run again
    assert [r[:5] for r in csv.reader(killed.open())] == [r[:5] for r in rows1]
    assert not list(tmp_path.glob(".killed.csv.shard-*"))
