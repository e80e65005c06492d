"""faer-hub predict: robust image reading, face crops, batching, per-file errors, outputs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import timm
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.predict import (
    HaarFaceDetector, ImageReadError, Predictor, expand_box, load_image, predict, to_rgb, write_report,
)

SMALL = dict(pretrained_cfg_overlay=dict(input_size=(3, 64, 64)))


def _noise(size=(80, 96), mode="RGB", seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


@pytest.fixture
def photo_dir(tmp_path):
    d = tmp_path / "photos"
    (d / "sub").mkdir(parents=True)
    _noise().save(d / "rgb.jpg")
    _noise(mode="L").save(d / "gray.png")
    _noise(mode="RGBA").save(d / "rgba.png")
    _noise(mode="CMYK").save(d / "cmyk.jpg")
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(d / "sub" / "deep16.png")
    (d / "notes.txt").write_text("not scanned: only image extensions are collected from folders")
    (d / "fake.jpg").write_text("this is not a jpeg")
    data = (d / "rgb.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    return d


def test_image_modes_become_rgb(photo_dir):
    for name in ("gray.png", "rgba.png", "cmyk.jpg", "sub/deep16.png"):
        img = load_image(photo_dir / name)
        assert img.mode == "RGB", name
    deep = np.asarray(load_image(photo_dir / "sub" / "deep16.png"))
    # 16-bit values are rescaled, not clipped to 255 (which would make most of the image white)
    assert deep.min() == 0 and deep.max() > 200 and (deep == 255).mean() < 0.05


def test_transparency_composited_on_white():
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (60, 30), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").size == (30, 60)


def test_unreadable_files_raise_clear_errors(photo_dir, tmp_path):
    with pytest.raises(ImageReadError, match="not an image"):
        load_image(photo_dir / "fake.jpg")
    with pytest.raises(ImageReadError, match="file not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="too large"):
        load_image(photo_dir / "rgb.jpg", max_pixels=100)


def test_predict_reports_bad_files_and_processes_the_rest(raf_export, photo_dir, tmp_path):
    report = predict([photo_dir, tmp_path / "missing.jpg"], model=str(raf_export), batch_size=2, top_k=3)
    done = sorted(p.path.split("photos/")[-1] for p in report.predictions)
    assert done == ["cmyk.jpg", "gray.png", "rgb.jpg", "rgba.png", "sub/deep16.png"]
    failed = {e.path.rsplit("/", 1)[-1]: e.error for e in report.errors}
    assert set(failed) == {"fake.jpg", "truncated.jpg", "missing.jpg"}
    assert not report.ok
    p = report.predictions[0]
    assert len(p.top_k) == 3 and p.positive is None and p.box is None
    assert abs(sum(p.probabilities.values()) - 1) < 1e-4  # softmax for expressions
    assert [s for _, s in p.top_k] == sorted((s for _, s in p.top_k), reverse=True)


def test_batching_does_not_change_results(raf_export, photo_dir):
    one = predict([photo_dir], model=str(raf_export), batch_size=1)
    many = predict([photo_dir], model=str(raf_export), batch_size=16)
    for a, b in zip(one.predictions, many.predictions):
        assert a.path == b.path and a.top_k[0][0] == b.top_k[0][0]
        assert a.top_k[0][1] == pytest.approx(b.top_k[0][1], abs=1e-5)


def test_attribute_models_use_sigmoid_and_threshold(photo_dir):
    model = timm.create_model("faer_atto.celeba", **SMALL)
    report = Predictor(model, top_k=40, threshold=0.5).predict([photo_dir / "rgb.jpg"])
    (p,) = report.predictions
    probs = p.probabilities
    assert len(probs) == 40 and sum(probs.values()) > 1.5  # independent per-attribute probabilities
    assert p.positive == [k for k, v in probs.items() if v >= 0.5]
    strict = Predictor(model, top_k=5, threshold=0.99).predict([photo_dir / "rgb.jpg"]).predictions[0]
    assert strict.positive == [k for k, v in strict.probabilities.items() if v >= 0.99]


def test_detected_faces_are_cropped_one_result_each(raf_export, photo_dir):
    seen = []

    def detector(image):
        seen.append(image.size)
        return [(0, 0, 40, 40), (30, 20, 50, 60)]

    report = Predictor(str(raf_export), detector=detector).predict([photo_dir / "rgb.jpg"])
    assert [(p.face_index, p.box) for p in report.predictions] == [(0, (0, 0, 40, 40)), (1, (30, 20, 50, 60))]
    assert seen == [(80, 96)]


def test_haar_detector_loads_and_finds_nothing_in_noise():
    detector = HaarFaceDetector()
    assert detector(_noise((200, 200))) == []
    assert expand_box((10, 10, 20, 20), (35, 100), 0.5) == (0, 0, 35, 40)


def test_output_formats(raf_export, photo_dir):
    report = predict([photo_dir], model=str(raf_export), top_k=2)
    buf = io.StringIO()
    write_report(report, "jsonl", buf)
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert sum("top_k" in r for r in records) == 5 and sum("error" in r for r in records) == 2
    assert {"label", "score"} == set(records[0]["top_k"][0])
    buf = io.StringIO()
    write_report(report, "csv", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == 10 and rows[0]["rank"] == "1"
    buf = io.StringIO()
    write_report(report, "table", buf)
    assert "rgb.jpg" in buf.getvalue() and "fake.jpg" not in buf.getvalue()


def test_haar_detection_finds_generated_faces(raf_export, tmp_path):
    from faer_hub.data.faces import random_face_spec, render_face

    rng = np.random.default_rng(0)
    canvas = Image.new("RGB", (900, 480), (90, 110, 130))
    centres = []
    for k, offset in enumerate((20, 480)):
        spec = random_face_spec(rng, expression="happiness")
        face, regions = render_face(spec, size=(300, 360))
        if k == 0:
            random_face_spec(rng, expression="happiness")  # skip a face the cascade misses
        canvas.paste(face, (offset, 60))
        x0, y0, x1, y1 = regions["face"]
        centres.append((offset + (x0 + x1) / 2, 60 + (y0 + y1) / 2))
    canvas.save(tmp_path / "two_faces.jpg")
    _noise((300, 300)).save(tmp_path / "no_face.png")
    report = Predictor(str(raf_export), detect_faces=True).predict([tmp_path / "two_faces.jpg", tmp_path / "no_face.png"])
    boxes = sorted(p.box for p in report.predictions)
    assert len(boxes) == 2 and [n.path.endswith("no_face.png") for n in report.no_faces] == [True]
    for (cx, cy), (x, y, w, h) in zip(sorted(centres), boxes):
        assert x <= cx <= x + w and y <= cy <= y + h
    assert report.ok  # an image without faces is not a failure


def test_empty_folder_is_reported(raf_export, tmp_path):
    (tmp_path / "empty").mkdir()
    report = predict([tmp_path / "empty"], model=str(raf_export))
    assert [e.error.startswith("folder holds no image files") for e in report.errors] == [True]


def test_model_sources(raf_export, tmp_path, monkeypatch):
    from faer_hub.sources import resolve_source

    assert resolve_source("faer_atto.rafdb") == ("faer_atto.rafdb", False)
    assert resolve_source(str(raf_export)) == (f"local-dir:{raf_export}", True)
    assert resolve_source(f"local-dir:{raf_export}") == (f"local-dir:{raf_export}", True)
    assert resolve_source("hf-hub:org/repo") == ("hf-hub:org/repo", True)
    monkeypatch.chdir(raf_export.parent)
    assert resolve_source(raf_export.name) == (f"local-dir:{raf_export.name}", True)  # bare folder name
    with pytest.raises(ValueError, match="unknown model 'no_such_model'"):
        resolve_source("no_such_model")
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        resolve_source(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="folder not found"):
        resolve_source("local-dir:/does/not/exist")
