"""FaceCropper: evaluation on raw photos cuts faces exactly as predict does."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from faer_hub.faces import Detection, FaceCropper


def _face(x, y, w, h):
    pts = ((x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.42 * h), (x + 0.5 * w, y + 0.6 * h),
           (x + 0.35 * w, y + 0.8 * h), (x + 0.65 * w, y + 0.8 * h))
    return Detection((x, y, w, h), 0.99, pts)


def _photos(folder, n=3):
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(folder / f"p{i}.png")
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def test_largest_face_or_the_whole_image():
    image = Image.new("RGB", (160, 120))
    assert FaceCropper("rafdb", detector=lambda im: [_face(20, 10, 60, 80), _face(0, 0, 5, 5)])(image).size == (100, 100)
    assert FaceCropper(None, detector=lambda im: [_face(20, 10, 60, 80)])(image).size == (60, 80)  # the box
    assert FaceCropper("rafdb", detector=lambda im: [])(image) is image


def test_evaluation_on_raw_photos_feeds_what_predict_feeds(raf_export, tmp_path):
    from helpers import rafdb_split, record_inputs
    from faer_hub.data.loader import build_dataloader
    from faer_hub.data.transforms import BatchNormalizer, resolve_data_config
    from faer_hub.inference.predict import Predictor

    def detector(image):
        return [_face(30, 20, 70, 90)]

    paths = _photos(tmp_path / "photos")
    split = rafdb_split(paths)
    predictor = Predictor(str(raf_export), detector=detector, batch_size=len(paths))
    seen = record_inputs(predictor.model)
    predictor.predict(paths)
    cropper = FaceCropper(predictor.face_crop, detector=detector)
    config = resolve_data_config(predictor.model)
    loader = build_dataloader(split, config, batch_size=len(paths), prepare=cropper)
    batch = BatchNormalizer(config)(next(iter(loader))["pixel_values"])
    assert torch.equal(batch, seen[0])
    whole = next(iter(build_dataloader(split, config, batch_size=len(paths))))
    assert not torch.equal(BatchNormalizer(config)(whole["pixel_values"]), batch)


def test_evaluate_source_with_face_detection(raf_export, tmp_path):
    from faer_hub.data import write_synthetic
    from faer_hub.evaluation.report import evaluate_source

    calls = []

    def detector(image):
        calls.append(image.size)
        return [_face(10, 10, 60, 70)]

    data = write_synthetic("rafdb", tmp_path / "raf", num_train=7, num_test=7)
    metrics = evaluate_source(str(raf_export), data, cache_dir=tmp_path / "cache", detect_faces=True,
                              detector=detector, batch_size=4)
    assert metrics["num_samples"] == 7 and calls == [(100, 100)] * 7
