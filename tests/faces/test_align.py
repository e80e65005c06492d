"""Face-crop protocols: the one warp, each dataset's geometry, configs carried by models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import timm
from PIL import Image, ImageDraw

import faer_hub
from faer_hub.data.synthetic.render import random_face_spec, render
from faer_hub.faces.align import (
    AFFECTNET_BOX_RULE, CELEBA_TEMPLATE, PROTOCOLS, RAFDB_TEMPLATE, CropProtocol, align_face, box_from_landmarks,
    box_region, crop_geometry, face_crop_setting, fit_box_rule, protocol_of_model, resolve_protocol,
    similarity_matrix,
)
from faer_hub.faces.detect import Detection
from faer_hub.hub.export import save_export

CELEBA_OFFICIAL_1_BASED = ((70.745, 112.0), (108.237, 112.0), (89.432, 153.514))


def _similarity(angle_deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    t = np.radians(angle_deg)
    rot = scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return np.hstack([rot, np.array(shift, float)[:, None]])


def _apply(matrix: np.ndarray, points) -> np.ndarray:
    return np.asarray(points, float) @ matrix[:, :2].T + matrix[:, 2]


def _marker_centres(image: Image.Image, colours: list[tuple[int, int, int]]) -> np.ndarray:
    """Centroid of the pixels closest to each marker colour."""
    arr = np.asarray(image, dtype=np.float64)
    ys, xs = np.mgrid[: arr.shape[0], : arr.shape[1]]
    out = []
    for colour in colours:
        weight = np.clip(1 - np.linalg.norm(arr - colour, axis=-1) / 120, 0, None) ** 2
        out.append([(weight * xs).sum() / weight.sum(), (weight * ys).sum() / weight.sum()])
    return np.asarray(out)


MARKERS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255)]


def _photo_with_markers(points: np.ndarray, size=(640, 520)) -> Image.Image:
    image = Image.new("RGB", size, (0, 0, 0))
    draw = ImageDraw.Draw(image)
    for (x, y), colour in zip(points, MARKERS):
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
    return image


def test_similarity_matches_scikit_image_least_squares():
    transform = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    dst = _apply(_similarity(17, 0.6, (30, -12)), src) + rng.normal(0, 2, (5, 2))
    reference = transform.SimilarityTransform.from_estimate(src, dst)
    assert np.allclose(similarity_matrix(src, dst), reference.params[:2], atol=1e-4)


def test_celeba_crop_puts_eyes_and_mouth_on_the_official_points():
    """Landmarks that are a rotated, scaled copy of CelebA's points land within 2 px of them."""
    template = np.asarray(CELEBA_OFFICIAL_1_BASED) - 1  # 1-based -> 0-based pixel centres
    assert np.allclose(template, CELEBA_TEMPLATE)
    eyes_mouth = _apply(_similarity(-23, 2.4, (150, 20)), template)
    nose = eyes_mouth[:2].mean(0) * 0.5 + eyes_mouth[2] * 0.5
    mouth_half = (eyes_mouth[1] - eyes_mouth[0]) * 0.3  # corners either side of the mouth centre
    landmarks = np.stack([eyes_mouth[0], eyes_mouth[1], nose, eyes_mouth[2] - mouth_half, eyes_mouth[2] + mouth_half])
    photo = _photo_with_markers(np.stack([eyes_mouth[0], eyes_mouth[1], eyes_mouth[2]]))
    crop = align_face(photo, landmarks, "celeba")
    assert crop.size == (178, 218)
    found = _marker_centres(crop, MARKERS[:3])
    # the issue asks for 2 px; 0.75 also catches a 1-based/0-based pixel mix-up
    assert np.abs(found - template).max() < 0.75, found - template


@pytest.mark.parametrize("protocol", ["celeba", "rafdb"])
def test_generated_faces_come_out_level_and_framed(protocol):
    """A rolled, shifted face drawn with known landmarks: eyes level and near the protocol's points."""
    spec = random_face_spec(np.random.default_rng(3), expression="neutral", accessories=0, noise=0.0, clutter=0,
                            angle=18.0)
    drawn = render(spec, (360, 420), face_box=(90, 70, 170, 210))
    landmarks = np.asarray(drawn.landmarks5)
    photo = _photo_with_markers(landmarks, drawn.image.size)
    crop = align_face(photo, landmarks, protocol)
    found = _marker_centres(crop, MARKERS)
    p = PROTOCOLS[protocol]
    assert crop.size == p.size
    assert abs(found[0, 1] - found[1, 1]) < 1.5  # eyes level
    assert found[0, 0] < found[2, 0] < found[1, 0]  # nose between the eyes
    target = np.asarray(p.template)
    points = p.source_points(found)
    # generated faces are not exactly the dataset's proportions: within 6 % of the crop width
    assert np.abs(points - target).max() < 0.06 * p.size[0], points - target


def _five(eyes_mouth: np.ndarray, nose_shift=(0.0, 0.0)) -> np.ndarray:
    """Five landmarks around (left eye, right eye, mouth centre); the nose is moved by ``nose_shift``."""
    mouth_half = (eyes_mouth[1] - eyes_mouth[0]) * 0.3
    nose = eyes_mouth[:2].mean(0) * 0.5 + eyes_mouth[2] * 0.5 + np.asarray(nose_shift)
    return np.stack([eyes_mouth[0], eyes_mouth[1], nose, eyes_mouth[2] - mouth_half, eyes_mouth[2] + mouth_half])


def test_rafdb_crop_uses_the_eyes_and_the_mouth_centre_as_its_readme_says():
    """RAF-DB: "similarity transformation according to the two eye locations and the center of
    mouth", then 100 x 100: those three points land on the template; the nose plays no part."""
    assert PROTOCOLS["rafdb"].points == "eyes_mouth" and PROTOCOLS["rafdb"].size == (100, 100)
    template = np.asarray(RAFDB_TEMPLATE)
    eyes_mouth = _apply(_similarity(31, 3.1, (90, 40)), template)
    photo = _photo_with_markers(eyes_mouth)
    crop = align_face(photo, _five(eyes_mouth), "rafdb")
    assert np.abs(_marker_centres(crop, MARKERS[:3]) - template).max() < 0.75
    moved_nose = align_face(photo, _five(eyes_mouth, nose_shift=(25.0, -10.0)), "rafdb")
    assert np.array_equal(np.asarray(crop), np.asarray(moved_nose))


def test_affectnet_box_follows_the_landmarks_by_the_documented_rule():
    side, shift = AFFECTNET_BOX_RULE
    upright = _five(np.array([[80.0, 100.0], [120.0, 100.0], [100.0, 140.0]]))  # eyes-to-mouth d = 40
    x, y, w, h = box_from_landmarks(upright)
    assert w == h == pytest.approx(side * 40)
    assert (x + w / 2, y + h / 2) == pytest.approx((100.0, 120.0 + shift * 40))
    # a rolled face: same side, centre turned with the face about the eyes-mouth midpoint
    turn = _similarity(25, 1.0, (0, 0))
    rolled = _apply(turn, upright - [100, 120]) + [100, 120]
    rx, ry, rw, _ = box_from_landmarks(rolled)
    expected_centre = _apply(turn, [[0.0, shift * 40]])[0] + [100, 120]
    assert rw == pytest.approx(w) and (rx + rw / 2, ry + rw / 2) == pytest.approx(tuple(expected_centre))
    with pytest.raises(ValueError, match="not a face"):
        box_from_landmarks([(5.0, 5.0)] * 5)


def test_fit_box_rule_recovers_the_rule_that_made_the_boxes():
    rng = np.random.default_rng(0)
    faces = [_five(_apply(_similarity(rng.uniform(-20, 20), rng.uniform(0.5, 3), rng.uniform(0, 400, 2)),
                          [[-20, 0], [20, 0], [0, 42]])) for _ in range(9)]
    rule = (2.7, -0.2)
    boxes = [box_from_landmarks(f, rule) for f in faces]
    assert fit_box_rule(boxes, faces) == pytest.approx(rule)
    tall = [(x - 5, y, w + 10, h + 30) for x, y, w, h in boxes]  # non-square boxes are squared first
    assert fit_box_rule(tall, faces)[1] > rule[1]


def test_affectnet_prediction_and_builder_cut_the_same_squared_clamped_box():
    image = Image.new("RGB", (300, 200))
    landmarks = _five(np.array([[262.0, 80.0], [298.0, 80.0], [280.0, 115.0]]))  # a face at the right border
    box = box_from_landmarks(landmarks)
    region = box_region(box, image.size, square=True)
    assert region[2] == 300 and region[2] - region[0] < region[3] - region[1]  # clamped, no longer square
    detected = Detection((250.0, 40.0, 80.0, 100.0), 0.99, tuple(map(tuple, landmarks)))
    assert align_face(image, detected, "affectnet").size == (region[2] - region[0], region[3] - region[1])
    # the builder's path: the dataset's box, no landmarks
    assert align_face(image, None, "affectnet", box=box).size == (region[2] - region[0], region[3] - region[1])
    # "box" (no protocol) keeps the detector's box as it is
    assert align_face(image, detected, "box").size == (50, 100)
    with pytest.raises(ValueError, match="outside"):
        align_face(image, Detection((400, 0, 10, 10), 0.9, ((0.0, 0.0),) * 5), "box")
    with pytest.raises(ValueError, match="pass a Detection, landmarks or box="):
        align_face(image, None, "affectnet")


def test_crop_geometry_maps_points_into_the_crop_align_face_cuts():
    points = _apply(_similarity(-12, 2.0, (120, 60)), np.asarray(CELEBA_TEMPLATE))
    photo = _photo_with_markers(points)
    matrix, size = crop_geometry(_five(points), "celeba", photo.size)
    crop = align_face(photo, _five(points), "celeba")
    assert crop.size == size
    assert np.abs(_marker_centres(crop, MARKERS[:3]) - _apply(matrix, points)).max() < 0.75


def test_large_shrinks_are_prefiltered_not_aliased():
    stripes = np.zeros((1200, 1200, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: point sampling gives black or white, averaging grey
    points = _five(np.asarray(RAFDB_TEMPLATE) * 10 + 50)
    crop = np.asarray(align_face(Image.fromarray(stripes), points, "rafdb"), float)
    assert 90 < crop.mean() < 165 and crop.std() < 40


def test_protocols_resolve_from_names_and_configs():
    assert resolve_protocol("rafdb") is PROTOCOLS["rafdb"] and resolve_protocol(None) is None
    custom = resolve_protocol({"name": "rafdb", "template": [[30, 40], [70, 40], [50, 80]]})
    assert custom.size == (100, 100) and custom.template[0] == (30.0, 40.0) and custom.points == "eyes_mouth"
    assert resolve_protocol(custom.to_config()) == custom
    refit = resolve_protocol({"name": "affectnet", "box_rule": [2.9, -0.3]})
    assert refit.box_rule == (2.9, -0.3) and refit.square and resolve_protocol(refit.to_config()) == refit
    with pytest.raises(ValueError, match="unknown face crop 'lfw'"):
        resolve_protocol("lfw")
    with pytest.raises(ValueError, match="needs a size and 5 template points"):
        CropProtocol("x", "similarity", (10, 10), ((0, 0),))


def test_models_carry_their_protocol_into_exports(tmp_path):
    assert {name: timm.create_model(name).pretrained_cfg.get("face_crop") for name in (
        "faer_atto.celeba", "faer_atto.rafdb", "faer_atto.affectnet7", "faer_atto.affectnet8", "faer_atto",
    )} == {"faer_atto.celeba": "celeba", "faer_atto.rafdb": "rafdb", "faer_atto.affectnet7": "affectnet",
           "faer_atto.affectnet8": "affectnet", "faer_atto": None}
    assert protocol_of_model(timm.create_model("faer_atto")) is None
    template = [[31, 44], [69, 44], [50, 80]]
    model = timm.create_model("faer_atto.rafdb", face_crop={"name": "rafdb", "template": template})
    folder = save_export(model, tmp_path / "export")
    config = json.loads((folder / "config.json").read_text())
    assert config["face_crop"]["template"] == template and "face_crop" not in config["pretrained_cfg"]
    loaded = timm.create_model(f"local-dir:{folder}", pretrained=True)
    assert protocol_of_model(loaded).template == tuple(map(tuple, template))
    plain = save_export(timm.create_model("faer_atto.celeba"), tmp_path / "celeba")
    assert json.loads((plain / "config.json").read_text())["face_crop"] == "celeba"


def test_the_config_else_task_fallback_is_decided_in_one_place():
    class Task:
        face_crop = "affectnet"

    assert face_crop_setting(None, Task()) == "affectnet"
    assert face_crop_setting("celeba", Task()) == "celeba"
    assert face_crop_setting(None, None) is None
    assert face_crop_setting({"name": "rafdb", "template": [[30, 40], [70, 40], [50, 80]]}, Task()) == {
        "name": "rafdb", "kind": "similarity", "size": [100, 100], "points": "eyes_mouth",
        "template": [[30.0, 40.0], [70.0, 40.0], [50.0, 80.0]]}


def test_public_api():
    assert faer_hub.align_face is align_face and callable(faer_hub.detect_faces)


def test_align_face_takes_every_picture_form(tmp_path):
    """A path (str or Path), a Pillow image and an RGB array give the same crop."""
    points = [[250.0, 220.0], [330.0, 220.0], [290.0, 270.0], [260.0, 310.0], [320.0, 310.0]]
    image = _photo_with_markers(np.array(points))
    image.save(tmp_path / "photo.png")
    crops = [np.asarray(align_face(src, points, "rafdb"))
             for src in (image, np.asarray(image), str(tmp_path / "photo.png"), tmp_path / "photo.png")]
    assert all(np.array_equal(crops[0], c) for c in crops[1:])
