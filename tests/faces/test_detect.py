"""MTCNN detection: real packaged photos, faces cut by the photo's edge, the geometry check, the
search plan, batches, generated faces with known landmarks, EXIF, many faces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from faer_hub.data.synthetic.render import random_face_spec, render
from faer_hub.faces.detect import Detection, MTCNNDetector, _Raw, detect_faces, plausible_face
from faer_hub.io import read_image
from photos import FACE_PHOTOS, SCENES, grace_hopper, skimage_photo, sklearn_photos

# the astronaut's five points as MTCNN places them on the whole 512 x 512 photo (eyes 42 px apart)
ASTRONAUT_POINTS = ((205, 102), (247, 104), (225, 129), (202, 139), (245, 142))


def _check_face(face: Detection, image: Image.Image) -> None:
    """A plausible face: box inside the image, landmarks inside the box, in anatomical order."""
    x, y, w, h = face.box
    assert face.score > 0.95 and 0.5 < h / w < 2.0 and w > 20
    assert -2 <= x and -2 <= y and x + w <= image.width + 2 and y + h <= image.height + 2
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    for px, py in face.landmarks:  # a turned head's far eye lies on the box's edge
        assert x - 2 <= px <= x + w + 2 and y - 2 <= py <= y + h + 2
    assert lex < rex and lmx < rmx and lex < nx < rex + 2  # image-left first (a turned head's nose meets its far eye)
    assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose, above the mouth


@pytest.mark.parametrize("name", FACE_PHOTOS)
def test_finds_the_face_in_packaged_portraits(detector, name):
    image = skimage_photo(name)
    faces = detector(image)
    assert len(faces) == 1
    _check_face(faces[0], image)


def test_finds_grace_hopper(detector):
    image = grace_hopper()
    (face,) = detector(image)
    _check_face(face, image)
    (lex, ley), (rex, rey) = face.landmarks[:2]
    assert 70 < rex - lex < 110 and abs(ley - rey) < 12  # a face 180 px wide, eyes near level


def test_astronaut_box_and_landmarks(detector, astronaut):
    (face,) = detector(astronaut)
    x, y, w, h = face.box
    # Eileen Collins' face lies around x 180-270, y 60-175 in the 512 x 512 photo
    assert 170 < x < 195 and 50 < y < 80 and 70 < w < 110 and 90 < h < 130
    assert np.abs(np.subtract(face.landmarks, ASTRONAUT_POINTS)).max() < 4


# crops of the astronaut photo through her face: forehead, cheek, chin, both; eyes and mouth inside
EDGE_CUTS = {"forehead": (0, 95, 512, 512), "left cheek": (198, 0, 512, 512), "right cheek": (0, 0, 254, 512),
             "chin": (0, 0, 512, 150), "forehead and cheek": (198, 95, 512, 512), "face only": (185, 70, 270, 170)}


@pytest.mark.parametrize("cut", EDGE_CUTS)
def test_face_cut_by_the_edge_keeps_its_landmarks(detector, astronaut, cut):
    x0, y0, x1, y1 = EDGE_CUTS[cut]
    (face,) = detector(astronaut.crop((x0, y0, x1, y1)))
    found = np.add(face.landmarks, (x0, y0))
    error = np.linalg.norm(found - ASTRONAUT_POINTS, axis=1)
    assert error.max() < 10, error  # a quarter of the 42 px between the eyes; 20 to 70 px without the fix


def test_without_the_edge_search_a_cut_face_gets_landmarks_far_off(astronaut):
    """What the edge search fixes: facenet-pytorch maps the points of a clamped crop back with the
    unclamped box."""
    x0, y0, x1, y1 = EDGE_CUTS["forehead"]
    (face,) = MTCNNDetector(refine_edges=False)(astronaut.crop((x0, y0, x1, y1)))
    assert np.linalg.norm(np.add(face.landmarks, (x0, y0)) - ASTRONAUT_POINTS, axis=1).max() > 20


def test_no_face_in_scenes(detector):
    scenes = {name: skimage_photo(name) for name in SCENES} | sklearn_photos()
    assert {name: detector(image) for name, image in scenes.items()} == {name: [] for name in scenes}


def test_no_face_in_fur_rock_or_roofs_seen_larger(detector):
    """Twice the size, upright and turned, a cat's fur, gravel and a temple roof: MTCNN's one
    candidate (gravel turned, O-Net 0.73) stays below the 0.8 threshold."""
    temple = next(image for name, image in sklearn_photos().items() if name.endswith("china.jpg"))
    photos = {"chelsea": skimage_photo("chelsea"), "gravel": skimage_photo("gravel"), "china": temple}
    for name, image in photos.items():
        larger = image.convert("RGB").resize((2 * image.width, 2 * image.height), Image.Resampling.BICUBIC)
        assert detector(larger) == [] and detector(larger.rotate(90, expand=True)) == [], name


def test_large_photos_are_searched_downscaled_and_answered_in_original_pixels(astronaut):
    """Both searched at 512 px (every face down to 20 px): the same face, in each photo's pixels."""
    (face,) = MTCNNDetector(relative_min_face=0)(astronaut)
    (big,) = MTCNNDetector(relative_min_face=0, max_side=512)(astronaut.resize((1536, 1536), Image.Resampling.BICUBIC))
    assert np.abs(np.asarray(big.box) / 3 - face.box).max() < 2
    assert np.abs(np.asarray(big.landmarks) / 3 - face.landmarks).max() < 2


def test_search_plan_bounds_the_smallest_face_by_the_photo():
    detector = MTCNNDetector()
    small, photo, phone = detector.plan(240, 200), detector.plan(512, 512), detector.plan(4000, 3000)
    assert (small.scale, small.size, small.min_face) == (1.0, (240, 200), 20)  # 20 px faces at most
    assert (photo.scale, photo.size, photo.min_face) == (0.625, (320, 320), 20)  # 1/16 of 512 = 32 px faces
    assert (phone.scale, phone.size, phone.min_face) == (0.3125, (1250, 938), 20)  # 64 px faces (the cap)
    assert MTCNNDetector(relative_min_face=0).plan(512, 512).scale == 1.0  # every photo down to 20 px faces
    assert MTCNNDetector(max_side=800).plan(4000, 3000).size == (800, 600)


def test_images_smaller_than_the_smallest_face_have_none(detector):
    """facenet-pytorch's pyramid is empty for them (it raised on torch.cat of nothing)."""
    sizes = [(1, 1), (19, 40), (40, 19), (20000, 30)]  # the last searched at 1600 x 2 (max_side)
    images = [Image.new("RGB", size, (128, 128, 128)) for size in sizes]
    assert detector.detect_batch(images) == [[]] * len(sizes)


def test_detect_batch_matches_one_at_a_time(detector, astronaut):
    camera, scene = skimage_photo("camera"), skimage_photo("coffee")
    images = [astronaut, scene, camera, astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    batched = detector.detect_batch(images)
    assert [len(faces) for faces in batched] == [1, 0, 1, 1]
    for faces, image in zip(batched, images):
        (alone,) = detector(image) or [None]
        if alone is not None:
            assert np.abs(np.subtract(faces[0].landmarks, alone.landmarks)).max() < 0.01
    assert detector.detect_batch([]) == []


def _stub_search(detector, monkeypatch, points, box=(100, 100, 200, 200), score=0.99):
    raw = _Raw(np.array([*box, score], dtype=float), np.asarray(points, dtype=float))
    monkeypatch.setattr(detector, "_search", lambda images, min_face: [[raw] for _ in images])


FACE = ((130, 135), (170, 135), (150, 155), (133, 175), (167, 175))
"""Points of an upright frontal face in the box (100, 100)-(200, 200)."""


@pytest.mark.parametrize("name, points", [
    ("upside down", ((133, 135), (167, 135), (150, 155), (130, 175), (170, 175))[::-1]),
    ("collapsed", ((150, 150),) * 5),
    ("mouth beside the eyes", ((130, 135), (150, 135), (160, 140), (175, 135), (190, 136))),
    ("nose below the mouth", ((130, 135), (170, 135), (150, 195), (133, 175), (167, 175))),
    ("eyes far outside the box", ((30, 135), (270, 135), (150, 155), (133, 175), (167, 175))),
    ("eyes on a slant across the axis", ((130, 120), (170, 155), (150, 155), (133, 175), (167, 175))),
])
def test_points_that_are_not_a_face_are_dropped(monkeypatch, name, points):
    detector = MTCNNDetector(refine_edges=False)
    assert plausible_face(FACE, (100, 100, 100, 100))
    assert not plausible_face(points, (100, 100, 100, 100)), name
    _stub_search(detector, monkeypatch, FACE)
    assert len(detector(Image.new("RGB", (300, 300)))) == 1
    _stub_search(detector, monkeypatch, points)
    assert detector(Image.new("RGB", (300, 300))) == []
    unchecked = MTCNNDetector(refine_edges=False, check_geometry=False)
    _stub_search(unchecked, monkeypatch, points)
    assert len(unchecked(Image.new("RGB", (300, 300)))) == 1


def test_score_threshold(monkeypatch):
    detector = MTCNNDetector(refine_edges=False)
    _stub_search(detector, monkeypatch, FACE, score=0.79)
    assert detector(Image.new("RGB", (300, 300))) == []
    _stub_search(detector, monkeypatch, FACE, score=0.8)
    assert [face.score for face in detector(Image.new("RGB", (300, 300)))] == [0.8]


def test_real_faces_have_a_face_geometry(detector, astronaut):
    for image in (astronaut, skimage_photo("camera"), grace_hopper(), astronaut.rotate(30, expand=True)):
        faces = MTCNNDetector(check_geometry=False)(image)
        assert faces and all(plausible_face(face.landmarks, face.box) for face in faces)


def test_exif_rotated_copy_gives_the_same_face(detector, astronaut, tmp_path):
    upright = tmp_path / "upright.jpg"
    astronaut.save(upright, quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the pixels are stored turned left
    astronaut.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", quality=95, exif=exif)
    (a,) = detector(read_image(upright))
    (b,) = detector(tmp_path / "rotated.jpg")  # a path is read (and turned) by read_image
    assert np.abs(np.subtract(a.box, b.box)).max() < 4
    assert np.abs(np.subtract(a.landmarks, b.landmarks)).max() < 3


def test_several_faces_largest_first(detector, astronaut):
    canvas = Image.new("RGB", (1200, 560), (120, 120, 120))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(skimage_photo("camera"), (660, 20))
    canvas.paste(astronaut.resize((256, 256)), (520, 300))  # a face of 45 px: 1/12 of the shorter side
    faces = detector(canvas)
    assert len(faces) == 3
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    centres = sorted((f.box[0] + f.box[2] / 2) for f in faces)
    assert centres[0] < 300 and 520 < centres[1] < 776 and centres[2] > 800
    for face in faces:
        _check_face(face, canvas)


def test_generated_faces_landmarks_within_a_few_pixels(detector):
    """Those drawn faces MTCNN finds are placed well (how many it finds is the generator's business)."""
    rng = np.random.default_rng(1)
    found = 0
    for _ in range(12):
        spec = random_face_spec(rng, expression="neutral", accessories=0, noise=0.0, clutter=0)
        drawn = render(spec, (240, 288))
        faces = detector(drawn.image)
        if not faces:
            continue
        found += 1
        truth = np.asarray(drawn.landmarks5)
        eye_distance = np.linalg.norm(truth[1] - truth[0])
        error = np.linalg.norm(np.asarray(faces[0].landmarks) - truth, axis=1)
        assert error.max() < 0.15 * eye_distance, (error, eye_distance)  # ~7 px at 50 px between the eyes
    assert found >= 6


def test_noise_has_no_face_and_import_keeps_warning_filters(monkeypatch):
    import sys

    from faer_hub.faces.detect import _import_mtcnn

    for name in [m for m in sys.modules if m.startswith("facenet_pytorch")]:
        monkeypatch.delitem(sys.modules, name)  # import it afresh: its import adds a filter
    before = list(warnings.filters)
    _import_mtcnn()
    assert "facenet_pytorch" in sys.modules and list(warnings.filters) == before
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8))
    assert detect_faces(noise) == []
    assert list(warnings.filters) == before


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="min_face_size must be at least 12"):
        MTCNNDetector(min_face_size=8)
    with pytest.raises(ValueError, match="relative_min_face"):
        MTCNNDetector(relative_min_face=1.5)
    with pytest.raises(ValueError, match="threads must be >= 1"):
        MTCNNDetector(threads=0)


@pytest.mark.parametrize("threads", [1, None])
def test_networks_run_on_the_threads_asked_then_torch_is_put_back(astronaut, threads, monkeypatch):
    import torch

    import faer_hub.faces.detect as detect

    detector = MTCNNDetector(threads=threads)
    search, seen = detect.run_cascade, []

    def recorded(*args):
        seen.append(torch.get_num_threads())
        return search(*args)

    monkeypatch.setattr(detect, "run_cascade", recorded)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert len(detector(astronaut.resize((256, 256)))) == 1
        assert seen and set(seen) == {threads or 2} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_detection_record():
    face = Detection((1.234, 2, 3, 4), 0.9999991, ((1, 2),) * 5)
    assert face.to_dict() == {"box": [1.23, 2, 3, 4], "score": 0.999999, "landmarks": [[1, 2]] * 5}
