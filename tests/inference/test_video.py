"""Video frames: a truncated file says how many frames were read."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from faer_hub.inference.video import iter_frames


def _video(path, count=12):
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(count):
        writer.write(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    return path


def test_a_truncated_video_warns_with_the_frames_read(tmp_path):
    whole = _video(tmp_path / "whole.avi")
    said = []
    assert len(list(iter_frames(whole, on_truncated=said.append))) == 12 and said == []
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    frames = list(iter_frames(cut, every=2, on_truncated=said.append))
    assert frames and all(isinstance(f.image, Image.Image) for f in frames)
    (message,) = said
    assert message.startswith(f"{cut}: the video ends early: ") and "of the 12 frames its header declares" in message
    read = int(message.split("ends early: ")[1].split()[0])
    assert 0 < read < 12 and len(frames) == (read + 1) // 2
    with pytest.warns(UserWarning, match="the video ends early"):
        list(iter_frames(cut))


def test_predict_warns_about_a_truncated_video_and_keeps_its_rows(raf_export, tmp_path, capsys):
    from faer_hub.cli import main

    whole = _video(tmp_path / "whole.avi")
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    out = tmp_path / "rows.jsonl"
    assert main(["predict", str(cut), "--model", str(raf_export), "--no-detect", "--format", "jsonl",
                 "--output", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"faer-hub predict: warning: {cut}: the video ends early: " in err
    read = int(err.split("ends early: ")[1].split()[0])
    assert len(out.read_text().splitlines()) == read  # one row per frame read
