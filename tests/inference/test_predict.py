"""faer-hub predict: faces detected and aligned, batching, per-file errors, videos, outputs."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import timm
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.io import read_image
from faer_hub.faces.detect import Detection
from faer_hub.inference.output import output_name
from faer_hub.inference.predict import Predictor, predict, write_report

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


def test_predict_reports_bad_files_and_processes_the_rest(raf_export, photo_dir, tmp_path):
    report = predict([photo_dir, tmp_path / "missing.jpg"], model=str(raf_export), batch_size=2, top_k=3,
                     detect_faces=False)
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
    one = predict([photo_dir], model=str(raf_export), batch_size=1, detect_faces=False)
    many = predict([photo_dir], model=str(raf_export), batch_size=16, detect_faces=False)
    for a, b in zip(one.predictions, many.predictions):
        assert a.path == b.path and a.top_k[0][0] == b.top_k[0][0]
        assert a.top_k[0][1] == pytest.approx(b.top_k[0][1], abs=1e-5)


def test_default_batch_is_small_on_a_cpu_and_an_explicit_one_is_kept(raf_export):
    from faer_hub.inference.predict import BATCH_SIZE

    assert Predictor(str(raf_export), device="cpu", detect_faces=False).batch_size == BATCH_SIZE["cpu"] == 8
    assert Predictor(str(raf_export), device="cpu", detect_faces=False, batch_size=32).batch_size == 32
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        Predictor(str(raf_export), device="cpu", detect_faces=False, batch_size=0)


def test_attribute_models_use_sigmoid_and_threshold(photo_dir):
    model = timm.create_model("faer_atto.celeba", **SMALL)
    report = Predictor(model, top_k=40, threshold=0.5, detect_faces=False).predict([photo_dir / "rgb.jpg"])
    (p,) = report.predictions
    probs = p.probabilities
    assert len(probs) == 40 and sum(probs.values()) > 1.5  # independent per-attribute probabilities
    assert p.positive == [k for k, v in probs.items() if v >= 0.5]
    strict = Predictor(model, top_k=5, threshold=0.99, detect_faces=False).predict([photo_dir / "rgb.jpg"]).predictions[0]
    assert strict.positive == [k for k, v in strict.probabilities.items() if v >= 0.99]


def _fake_face(x, y, w, h, score=0.99):
    return Detection((x, y, w, h), score, ((x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.4 * h), (x + 0.5 * w, y + 0.6 * h),
                                          (x + 0.35 * w, y + 0.8 * h), (x + 0.65 * w, y + 0.8 * h)))


def test_detected_faces_are_cropped_one_result_each(raf_export, photo_dir, tmp_path):
    seen = []

    def detector(image):
        seen.append(image.size)
        return [_fake_face(0, 0, 40, 40), _fake_face(30, 20, 50, 60)]

    predictor = Predictor(str(raf_export), detector=detector, save_crops=tmp_path / "crops")
    assert predictor.face_crop.name == "rafdb"  # from the export's config.json
    report = predictor.predict([photo_dir / "rgb.jpg"])
    assert [(p.face_index, p.box) for p in report.predictions] == [(0, (0, 0, 40, 40)), (1, (30, 20, 50, 60))]
    assert seen == [(80, 96)]
    assert report.predictions[1].landmarks == [tuple(pt) for pt in _fake_face(30, 20, 50, 60).landmarks]
    # the model's view of each face: the RAF-DB crop resized to the model's 64 px input
    crops = sorted(p.name for p in (tmp_path / "crops").iterdir())
    stem = output_name(str(photo_dir / "rgb.jpg"), None, "")
    assert crops == [f"{stem}_face0.png", f"{stem}_face1.png"] and stem.startswith("rgb-")
    image = read_image(photo_dir / "rgb.jpg")
    expected = predictor.model_view(predictor.crop(image, _fake_face(30, 20, 50, 60)))
    saved = Image.open(tmp_path / "crops" / f"{stem}_face1.png")
    assert saved.size == (64, 64) and np.array_equal(np.asarray(saved), np.asarray(expected))
    assert report.predictions[1].crop_path == str(tmp_path / "crops" / f"{stem}_face1.png")


def test_crops_of_same_named_files_in_two_folders_do_not_collide(raf_export, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _noise(seed=ord(folder)).save(tmp_path / folder / "photo.jpg")
    predictor = Predictor(str(raf_export), detector=lambda im: [_fake_face(10, 10, 40, 40)], save_crops=tmp_path / "c")
    report = predictor.predict([tmp_path / "a" / "photo.jpg", tmp_path / "b" / "photo.jpg"])
    crops = [p.crop_path for p in report]
    assert len(set(crops)) == 2 and sorted(str(p) for p in (tmp_path / "c").iterdir()) == sorted(crops)
    assert not np.array_equal(np.asarray(Image.open(crops[0])), np.asarray(Image.open(crops[1])))


def test_face_crop_override_and_models_without_protocol(photo_dir):
    model = timm.create_model("faer_atto", num_classes=3, **SMALL)
    boxes = Predictor(model, detector=lambda im: [_fake_face(10, 10, 30, 50)])
    assert boxes.face_crop is None and boxes.crop(read_image(photo_dir / "rgb.jpg"), _fake_face(10, 10, 30, 50)).size == (30, 50)
    celeba = Predictor(model, detector=lambda im: [], face_crop="celeba")
    assert celeba.crop(read_image(photo_dir / "rgb.jpg"), _fake_face(10, 10, 30, 50)).size == (178, 218)


def test_mtcnn_finds_every_face_one_row_each(raf_export, tmp_path):
    from photos import skimage_photo

    astronaut = skimage_photo("astronaut")
    canvas = Image.new("RGB", (1100, 560), (120, 120, 120))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(skimage_photo("camera"), (560, 20))
    canvas.save(tmp_path / "two.png")
    _noise((300, 300)).save(tmp_path / "no_face.png")
    report = Predictor(str(raf_export)).predict([tmp_path / "two.png", tmp_path / "no_face.png"])
    assert [p.face_index for p in report.predictions] == [0, 1]
    assert [n.path.endswith("no_face.png") for n in report.no_faces] == [True]
    assert report.ok  # an image without faces is not a failure
    xs = sorted(p.box[0] for p in report.predictions)
    assert xs[0] < 512 < 560 < xs[1] and all(p.score > 0.95 and len(p.landmarks) == 5 for p in report.predictions)


def test_output_formats(raf_export, photo_dir):
    report = predict([photo_dir], model=str(raf_export), top_k=2, detect_faces=False)
    report.predictions[0].box, report.predictions[0].score = (1.0, 2.0, 3.0, 4.0), 0.5
    report.predictions[0].landmarks = [(float(i), float(i + 1)) for i in range(5)]
    buf = io.StringIO()
    write_report(report, "jsonl", buf)
    records = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert sum("top_k" in r for r in records) == 5 and sum("error" in r for r in records) == 2
    names = [r["path"].split("photos/")[-1] for r in records]  # input order: failed files where they come
    assert names == ["cmyk.jpg", "fake.jpg", "gray.png", "rgb.jpg", "rgba.png", "sub/deep16.png", "truncated.jpg"]
    assert {"label", "score"} == set(records[0]["top_k"][0])
    assert list(records[0])[:6] == ["path", "face_index", "box", "score", "landmarks", "top_k"]
    assert records[0]["box"] == [1, 2, 3, 4] and records[0]["landmarks"][4] == [4, 5]
    buf = io.StringIO()
    write_report(report, "csv", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [r["path"] for r in rows] == [r["path"] for r in records]
    assert rows[0]["label_1"] == records[0]["top_k"][0]["label"]
    assert [r["status"] for r in rows] == [f"error: {r['error']}" if "error" in r else "ok" for r in records]
    assert rows[1]["p_happiness"] == "" and rows[1]["box_w"] == ""
    assert rows[0]["box_w"] == "3.00" and rows[0]["right_mouth_y"] == "5.00" and rows[2]["box_w"] == ""
    assert float(rows[0]["p_happiness"]) == pytest.approx(records[0]["probabilities"]["happiness"], abs=1e-6)
    assert list(report.to_pandas().columns) == list(rows[0])  # the DataFrame has the CSV's columns
    buf = io.StringIO()
    write_report(report, "table", buf)
    assert "rgb.jpg" in buf.getvalue() and "fake.jpg" not in buf.getvalue()


def test_empty_folder_is_reported(raf_export, tmp_path):
    (tmp_path / "empty").mkdir()
    report = predict([tmp_path / "empty"], model=str(raf_export), detect_faces=False)
    assert [e.error.startswith("folder holds no image files") for e in report.errors] == [True]


def _awkward_files(folder):
    """Files whose naive decode (``Image.open(f).convert("RGB")``) differs from read_image's."""
    folder.mkdir()
    deep = (np.arange(70 * 90).reshape(70, 90) * 10).astype(np.uint16)
    Image.fromarray(deep).save(folder / "deep16.png")
    exif = Image.Exif()
    exif[0x0112] = 6
    _noise((90, 70), mode="RGBA", seed=1).save(folder / "rotated_rgba.png", exif=exif)
    palette = Image.fromarray(np.random.default_rng(2).integers(0, 8, (80, 60), dtype=np.uint8), mode="P")
    palette.putpalette(list(np.random.default_rng(3).integers(0, 200, 24)))
    palette.save(folder / "clear.png", transparency=3)
    _noise((64, 48), mode="CMYK", seed=3).save(folder / "cmyk.jpg", exif=exif)
    return sorted(folder.iterdir())


def test_training_loaders_and_predict_feed_bit_identical_tensors(raf_export, tmp_path):
    import torch

    from helpers import rafdb_split, record_inputs
    from faer_hub.data.loader import build_dataloader
    from faer_hub.data.transforms import BatchNormalizer, resolve_data_config
    from faer_hub.training.data import build_train_loader

    files = _awkward_files(tmp_path / "files")
    for f in files:
        with Image.open(f) as naive:
            assert naive.size != read_image(f).size or not np.array_equal(np.asarray(naive.convert("RGB")),
                                                                           np.asarray(read_image(f))), f
    split = rafdb_split(files)
    predictor = Predictor(str(raf_export), detect_faces=False, batch_size=len(files))
    seen = record_inputs(predictor.model)
    report = predictor.predict(files)
    assert [p.path for p in report.predictions] == [str(f) for f in files]
    (predicted,) = seen
    config = resolve_data_config(predictor.model)
    normalize = BatchNormalizer(config)  # the loader gives uint8, normalised on the device
    evaluation = normalize(next(iter(build_dataloader(split, config, batch_size=len(files))))["pixel_values"])
    loader, sampler = build_train_loader(split, config, batch_size=len(files), seed=0, hflip=0.0)
    order = [index for index, _ in sampler]
    training = normalize(next(iter(loader))["pixel_values"])[torch.argsort(torch.tensor(order))]
    for name, batch in (("evaluation", evaluation), ("training", training)):
        assert batch.dtype == predicted.dtype and torch.equal(batch, predicted), name


def _write_video(path, frames, fps=10.0):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, frames[0].size)
    for frame in frames:
        writer.write(cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    """Ten frames of generated faces drawn at known places (MJPG in AVI, 10 fps)."""
    from faer_hub.data.synthetic.render import random_face_spec, render

    rng = np.random.default_rng(1)
    frames = []
    for k in range(10):
        spec = random_face_spec(rng, expression="happiness", accessories=0, noise=0.0, clutter=0)
        frames.append(render(spec, (240, 288)).image)
    path = tmp_path_factory.mktemp("video") / "faces.avi"
    _write_video(path, frames)
    return path


def test_video_rows_carry_frame_and_time(raf_export, face_video, tmp_path):
    centre = []

    def detector(image):
        centre.append(np.asarray(image).mean())
        return [_fake_face(40, 60, 120, 150), _fake_face(0, 0, 30, 30)]

    report = Predictor(str(raf_export), detector=detector, every=3, top_k=1).predict([face_video])
    assert [(p.frame, p.time_s, p.face_index) for p in report.predictions] == [
        (f, f / 10, i) for f in (0, 3, 6, 9) for i in (0, 1)]
    assert len(centre) == 4 and report.ok
    buf = io.StringIO()
    write_report(report, "csv", buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert [(r["frame"], r["time_s"], r["face_index"]) for r in rows][:3] == [("0", "0.0", "0"), ("0", "0.0", "1"),
                                                                               ("3", "0.3", "0")]
    buf = io.StringIO()
    write_report(report, "jsonl", buf)
    first = json.loads(buf.getvalue().splitlines()[0])
    assert list(first)[:4] == ["path", "frame", "time_s", "face_index"]


def test_video_with_mtcnn_finds_the_drawn_faces(raf_export, face_video):
    report = Predictor(str(raf_export), every=2).predict([face_video])
    frames = sorted({p.frame for p in report.predictions} | {n.frame for n in report.no_faces})
    assert frames == [0, 2, 4, 6, 8]
    assert len({p.frame for p in report.predictions}) >= 3  # MTCNN finds most drawn faces, not all
    for p in report.predictions:
        x, y, w, h = p.box
        assert 40 < x + w / 2 < 200 and 50 < y + h / 2 < 240  # the face is drawn in the middle


def test_unreadable_and_empty_videos_are_reported(raf_export, tmp_path):
    (tmp_path / "garbage.mp4").write_bytes(b"not a video at all" * 10)
    (tmp_path / "empty.avi").write_bytes(b"")
    report = Predictor(str(raf_export), detect_faces=False).predict(
        [tmp_path / "garbage.mp4", tmp_path / "empty.avi", tmp_path / "missing.mov"])
    errors = {e.path.rsplit("/", 1)[-1]: e.error for e in report.errors}
    assert set(errors) == {"garbage.mp4", "empty.avi", "missing.mov"} and not report.predictions
    assert errors["missing.mov"] == "file not found"
    assert all("video" in errors[name] for name in ("garbage.mp4", "empty.avi"))


class _Windows:
    """A detector with ``detect_batch``: one fake face per picture, every call's picture sizes recorded."""

    def __init__(self):
        self.calls = []

    def detect_batch(self, images):
        self.calls.append([image.size for image in images])
        return [[_fake_face(4, 4, 30, 36)] for _ in images]

    def __call__(self, image):
        raise AssertionError("a detector with detect_batch is called once per window")


def _rows(report):
    return [row.to_dict() for row in report.rows]


def test_consecutive_pictures_are_detected_in_windows_in_input_order(raf_export, tmp_path):
    from faer_hub.inference.predict import DETECT_WINDOW

    sizes = [(60 + k, 70) for k in range(2 * DETECT_WINDOW + 3)]
    inputs = [_noise(size, seed=k) for k, size in enumerate(sizes)]
    inputs[5:5] = [tmp_path / "missing.jpg", _noise((12, 300))]  # a failed input, one too small to search
    windows = _Windows()
    report = Predictor(str(raf_export), detector=windows).predict(inputs)
    # windows of DETECT_WINDOW pictures; the too-small one is in the first but not searched
    assert [len(call) for call in windows.calls] == [DETECT_WINDOW - 1, DETECT_WINDOW, 4]
    assert [size for call in windows.calls for size in call] == sizes  # each picture once, in input order
    statuses = [row["status"] if "status" in row else row.get("error", "ok") for row in _rows(report)]
    assert statuses[:5] == ["ok"] * 5 and statuses[5] == "file not found" and statuses[6].startswith("too small")
    assert [row.path for row in report.rows] == [f"<image {k}>" for k in range(5)] + [str(tmp_path / "missing.jpg")] + [
        f"<image {k}>" for k in range(6, len(inputs))]

    one_by_one = Predictor(str(raf_export), detector=lambda image: windows.detect_batch([image])[0])
    assert _rows(one_by_one.predict(inputs)) == _rows(report)


def test_windows_stream_rows_with_bounded_memory(raf_export):
    consumed = []

    def pictures():
        for k in range(40):
            consumed.append(k)
            yield _noise((48, 48), seed=k)

    units = Predictor(str(raf_export), detector=_Windows(), batch_size=4).iter_units(pictures())
    first = next(units)
    assert first.rows and first.rows[0].status == "ok" and len(consumed) == 4  # one window of batch_size pictures
    assert sum(1 for unit in units if not unit.end) == 39 and len(consumed) == 40


def test_mtcnn_rows_are_the_same_detected_in_windows_or_one_by_one(raf_export, face_video, tmp_path):
    """Photos of different sizes (the two portraits of the same size), a scene without a face, and
    a video's same-size frames: the rows of one detect_batch call per window are those of one call
    per picture (MTCNN's float32 arithmetic may differ by far less than the 0.01 px the rows are
    rounded to)."""
    from photos import skimage_photo

    from faer_hub.faces.detect import MTCNNDetector

    photos = [skimage_photo("astronaut"), skimage_photo("coffee"), skimage_photo("camera")]
    detector = MTCNNDetector()

    class OneByOne:
        max_side = detector.max_side

        def __call__(self, image):
            return detector(image)

    batched = _rows(Predictor(str(raf_export), detector=detector, every=2).predict([*photos, face_video]))
    alone = _rows(Predictor(str(raf_export), detector=OneByOne(), every=2).predict([*photos, face_video]))
    assert sum(row.get("face_index") is not None for row in batched) >= 5  # two photos and most frames
    assert len(batched) == len(alone)
    for a, b in zip(batched, alone):
        assert a.keys() == b.keys() and [a[k] for k in a if k not in NUMBERS] == [b[k] for k in b if k not in NUMBERS]
        for key in set(NUMBERS) & a.keys():
            assert np.allclose(_numbers(a[key]), _numbers(b[key]), atol=0.011), key


NUMBERS = ("box", "landmarks", "score", "probabilities", "top_k")


def _numbers(value):
    if isinstance(value, dict):
        return [value[k] for k in sorted(value)]
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return [v["score"] for v in value]
    return value if value is not None else []
