"""faer_hub.analyze / Analyzer: one call from any form of picture to per-face rows."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import faer_hub
from faer_hub.inference.output import csv_header
from faer_hub.inference.predict import MIN_DETECT_SIDE, too_small_reason

from photos import skimage_photo


@pytest.fixture(scope="module")
def analyzer(raf_export):
    return faer_hub.Analyzer(raf_export, top_k=3)  # a Path works as the model source too


@pytest.fixture(scope="module")
def portrait(tmp_path_factory):
    path = tmp_path_factory.mktemp("portrait") / "astronaut.png"
    skimage_photo("astronaut").save(path)
    return path


def _numbers(report):
    return report.to_pandas().drop(columns=["path"])


def test_every_form_of_one_picture_gives_the_same_numbers(analyzer, portrait):
    by_path = analyzer(str(portrait))  # a str is one path, never its characters
    assert [p["path"] for p in by_path] == [str(portrait)] and by_path[0]["score"] > 0.95
    image = Image.open(portrait)
    forms = {"Path": portrait, "PIL": image, "array": np.asarray(image.convert("RGB")),
             "list": [image], "folder": portrait.parent}
    for name, form in forms.items():
        report = analyzer(form)
        assert _numbers(report).equals(_numbers(by_path)), name
    both = analyzer([np.asarray(image), portrait])
    assert [p.path for p in both] == ["<image 0>", str(portrait)]
    assert [r["probabilities"] for r in both.to_dicts()] == [by_path.to_dicts()[0]["probabilities"]] * 2


def test_analyze_is_the_predictor_in_one_call(raf_export, portrait):
    report = faer_hub.analyze(portrait, model=str(raf_export), top_k=3)
    (face,) = report
    assert set(face.keys()) >= {"path", "face_index", "box", "score", "landmarks", "top_k", "probabilities"}
    assert len(face["landmarks"]) == 5 and len(face["top_k"]) == 3
    table = report.to_pandas()
    assert list(table.columns) == csv_header(list(face["probabilities"]), 3)
    assert table.loc[0, "status"] == "ok" and table.loc[0, "p_happiness"] == pytest.approx(
        face.probabilities["happiness"])


def test_a_picture_too_small_to_search_is_a_row_and_the_others_run(analyzer, portrait):
    tiny = Image.new("RGB", (12, 40), (128, 90, 70))
    report = analyzer([tiny, portrait])
    statuses = [row.status for row in report.rows]
    assert statuses[0].startswith("too small: 12x40 px") and statuses[1] == "ok"
    assert report.ok and len(report) == 1  # no face, not a failure
    assert report.to_pandas()["status"].tolist() == statuses


def test_too_small_uses_the_size_the_detector_searches_at():
    class Detector:
        max_side = 100

    assert too_small_reason(Image.new("RGB", (MIN_DETECT_SIDE, MIN_DETECT_SIDE))) is None
    assert too_small_reason(Image.new("RGB", (MIN_DETECT_SIDE - 1, 500))).startswith("19x500 px")
    # 1000x100 is searched at 100x10: too small for the detector, though large enough as a picture
    assert "searched at 0.10x" in too_small_reason(Image.new("RGB", (1000, 100)), Detector())


def test_something_that_is_not_a_picture_is_named(analyzer):
    with pytest.raises(TypeError, match="input 1: a int is not a picture"):
        analyzer(["photo.jpg", 3])
