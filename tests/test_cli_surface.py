"""faer-hub evaluate / cam / predict / push / export-onnx / cards, end to end on tiny models."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.hub import publish
from faer_hub.cli import main


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "b.png"):
        Image.fromarray(rng.integers(0, 255, (70, 60, 3), dtype=np.uint8)).save(d / name)
    return d


def test_predict_exit_status_and_jsonl(raf_export, photos, tmp_path, capsys):
    out = tmp_path / "preds.jsonl"
    assert main(["predict", str(photos), "--model", str(raf_export), "--format", "jsonl",
                 "--output", str(out), "--top-k", "2", "--no-detect"]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 and all(len(r["top_k"]) == 2 for r in records)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    assert main(["predict", str(photos / "a.jpg"), str(bad), "--model", str(raf_export), "--no-detect"]) == 1
    captured = capsys.readouterr()
    assert "a.jpg" in captured.out and "broken.jpg" in captured.err and "1 file(s) failed" in captured.err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0 and capsys.readouterr().out.strip() == f"faer-hub {faer_hub.__version__}"


def test_cam_takes_folders_like_predict(raf_export, photos, tmp_path):
    out = tmp_path / "cams"
    assert main(["cam", str(photos), "--model", str(raf_export), "--out", str(out), "--no-detect"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["a__" + str(raf_export).replace("/", "_") + ".png",
                                                         "b__" + str(raf_export).replace("/", "_") + ".png",
                                                         "grid.png"]


def test_predict_video_progress_counts_frames_and_annotates(raf_export, tmp_path, capsys):
    import cv2

    from faer_hub.inference.output import output_name
    from photos import skimage_photo

    portrait = np.asarray(skimage_photo("astronaut").resize((256, 256)))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (256, 256))
    for _ in range(6):
        writer.write(cv2.cvtColor(portrait, cv2.COLOR_RGB2BGR))
    writer.release()
    Image.fromarray(portrait).save(tmp_path / "photo.png")
    out, seen = tmp_path / "rows.csv", tmp_path / "seen"
    assert main(["predict", str(video), str(tmp_path / "photo.png"), "--model", str(raf_export), "--every", "2",
                 "--format", "csv", "--output", str(out), "--annotate", str(seen)]) == 0
    err = capsys.readouterr().err
    assert "4frame" in err and "4 faces" in err  # 3 sampled frames + 1 photo, a face each: not "0/2 files"
    assert sorted(p.name for p in seen.iterdir()) == sorted([output_name(str(video), None, ".avi"),
                                                            output_name(str(tmp_path / "photo.png"), None, ".jpg")])
    annotated = np.asarray(Image.open(seen / output_name(str(tmp_path / "photo.png"), None, ".jpg")))
    assert annotated.shape == portrait.shape and np.abs(annotated.astype(int) - portrait).max() > 100  # boxes drawn


def test_cards_check_and_regenerate(tmp_path, capsys):
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "model_cards"
    assert main(["cards", "--check", "--out", str(committed)]) == 0
    assert main(["cards", "--out", str(tmp_path)]) == 0
    (tmp_path / "faer_celeba.md").write_text("stale")
    assert main(["cards", "--check", "--out", str(tmp_path)]) == 1
    assert "faer_celeba.md differs" in capsys.readouterr().out


def test_push_dry_run_refusal_and_mocked_upload(raf_export, tmp_path, monkeypatch, capsys):
    assert main(["push", str(raf_export), "--repo-id", "faer-hub/faer_atto.rafdb", "--dry-run"]) == 0
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "config.json").write_text("{}")
    assert main(["push", str(incomplete), "--repo-id", "me/x"]) == 2
    assert "missing model.safetensors, README.md" in capsys.readouterr().err
    calls = []

    class FakeApi:
        def __init__(self, token=None):
            calls.append(("token", token))

        def create_repo(self, repo_id, **kw):
            calls.append(("create", repo_id, kw["private"]))

        def upload_folder(self, **kw):
            calls.append(("upload", kw["repo_id"], kw["commit_message"]))
            return "https://hf.co/commit/1"

    monkeypatch.setattr(publish, "HfApi", FakeApi)
    monkeypatch.setenv("HF_TOKEN", "hf_saved_login")  # the token check passes; HfApi finds it itself
    assert main(["push", str(raf_export), "--repo-id", "me/raf", "--private", "--retarget-card",
                 "--commit-message", "first"]) == 0
    assert calls == [("token", None), ("create", "me/raf", True), ("upload", "me/raf", "first")]


def test_export_onnx(raf_export, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    assert main(["export-onnx", "--model", str(raf_export), str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 10_000 and "matches PyTorch" in capsys.readouterr().out
    # an earlier export is replaced only with --overwrite; someone's file never
    assert main(["export-onnx", "--model", str(raf_export), str(tmp_path / "m.onnx")]) == 2
    assert "holds an earlier ONNX export; pass --overwrite" in capsys.readouterr().err
    assert main(["export-onnx", "--model", str(raf_export), str(tmp_path / "m.onnx"), "--overwrite"]) == 0
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export-onnx", "--model", str(raf_export), str(tmp_path / "notes.txt"), "--overwrite"]) == 2
    assert "notes.txt exists and is not an ONNX export of faer_hub" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_evaluate_writes_metrics_and_figures(raf_export, tmp_path):
    from faer_hub.data import write_synthetic

    data = write_synthetic("rafdb", tmp_path / "raf", num_train=28, num_test=14)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(raf_export), "--data-dir", str(data), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--batch-size", "8"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 14 and metrics["split"] == "test" and 0 <= metrics["accuracy"] <= 1
    assert sum(map(sum, metrics["confusion_matrix"])) == 14
    assert (out / "class_accuracy.png").is_file() and (out / "confusion_matrix.png").is_file()
    assert main(["evaluate", "--model", str(raf_export), "--data-dir", str(data), "--task", "celeba",
                 "--cache-dir", str(tmp_path / "cache")]) == 2  # 7 outputs cannot be evaluated on 40 attributes
    # a folder whose metrics.json is not evaluate's (a training run's) is refused before any work
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"task": "rafdb", "selection": {"split": "validation"}}')
    assert main(["evaluate", "--model", str(raf_export), "--data-dir", str(data), "--out", str(run)]) == 2
    assert json.loads((run / "metrics.json").read_text())["selection"] == {"split": "validation"}
    assert main(["evaluate", "--model", str(raf_export), "--data-dir", str(data), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--batch-size", "8"]) == 0  # its own: replaced


def test_cam_rows_per_target(raf_export, photos, tmp_path):
    out = tmp_path / "cams"
    assert main(["cam", str(photos / "a.jpg"), str(photos / "b.png"), "--model", str(raf_export),
                 "--target", "happiness", "--target", "fear", "--out", str(out), "--no-detect"]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == [
        "a__fear.png", "a__happiness.png", "b__fear.png", "b__happiness.png", "grid.png"]
    assert main(["cam", str(photos / "a.jpg"), "--model", str(raf_export), "--target", "joy", "--out", str(out),
                 "--no-detect"]) == 2
    assert main(["cam", str(photos / "a.jpg"), "--model", str(raf_export), "--out", str(out)]) == 2  # noise: no face


def test_predict_detects_aligns_and_saves_crops_by_default(raf_export, photos, tmp_path, capsys):
    from photos import skimage_photo

    skimage_photo("astronaut").save(tmp_path / "portrait.jpg")
    out, crops = tmp_path / "preds.jsonl", tmp_path / "seen"
    assert main(["predict", str(tmp_path / "portrait.jpg"), str(photos / "a.jpg"), "--model", str(raf_export),
                 "--format", "jsonl", "--output", str(out), "--save-crops", str(crops)]) == 0
    face, no_face = [json.loads(line) for line in out.read_text().splitlines()]
    assert face["face_index"] == 0 and len(face["landmarks"]) == 5 and face["score"] > 0.95
    assert no_face == {"path": str(photos / "a.jpg"), "faces": 0, "status": "no face"}
    assert "a.jpg: no face detected (pass --no-detect" in capsys.readouterr().err
    (crop,) = crops.iterdir()
    assert crop.name.startswith("portrait-") and crop.name.endswith("_face0.png") and face["crop"] == str(crop)
    assert Image.open(crop).size == (64, 64)  # the model's input size
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    assert "Default: find every face" in " ".join(capsys.readouterr().out.split())
