"""MTCNN detection: real packaged photos, generated faces with known landmarks, EXIF, many faces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from PIL import Image

from faer_hub.data.synthetic.render import random_face_spec, render
from faer_hub.faces.detect import Detection, detect_faces
from faer_hub.io import read_image
from photos import FACE_PHOTOS, SCENES, skimage_photo, sklearn_photos


def _check_face(face: Detection, image: Image.Image) -> None:
    """A plausible face: box inside the image, landmarks inside the box, in anatomical order."""
    x, y, w, h = face.box
    assert face.score > 0.95 and 0.5 < h / w < 2.0 and w > 20
    assert -2 <= x and -2 <= y and x + w <= image.width + 2 and y + h <= image.height + 2
    (lex, ley), (rex, rey), (nx, ny), (lmx, lmy), (rmx, rmy) = face.landmarks
    for px, py in face.landmarks:
        assert x <= px <= x + w and y <= py <= y + h
    assert lex < nx < rex and lmx < rmx  # image-left first
    assert max(ley, rey) < ny < min(lmy, rmy)  # eyes above the nose, above the mouth


@pytest.mark.parametrize("name", FACE_PHOTOS)
def test_finds_the_face_in_packaged_portraits(detector, name):
    image = skimage_photo(name)
    faces = detector(image)
    assert len(faces) == 1
    _check_face(faces[0], image)


def test_astronaut_box_and_landmarks(detector, astronaut):
    (face,) = detector(astronaut)
    x, y, w, h = face.box
    # Eileen Collins' face lies around x 180-270, y 60-175 in the 512 x 512 photo
    assert 170 < x < 195 and 50 < y < 80 and 70 < w < 110 and 90 < h < 130
    (lex, ley), (rex, rey) = face.landmarks[:2]
    assert 30 < rex - lex < 55 and abs(ley - rey) < 6


def test_large_photos_are_searched_downscaled_and_answered_in_original_pixels(detector, astronaut):
    from faer_hub.faces.detect import MTCNNDetector

    (face,) = detector(astronaut)
    (big,) = MTCNNDetector(max_side=512)(astronaut.resize((1536, 1536), Image.Resampling.BICUBIC))
    assert np.abs(np.asarray(big.box) / 3 - face.box).max() < 1.5
    assert np.abs(np.asarray(big.landmarks) / 3 - face.landmarks).max() < 1.5


def test_no_face_in_scenes(detector):
    scenes = {name: skimage_photo(name) for name in SCENES} | sklearn_photos()
    assert {name: detector(image) for name, image in scenes.items()} == {name: [] for name in scenes}


def test_exif_rotated_copy_gives_the_same_face(detector, astronaut, tmp_path):
    upright = tmp_path / "upright.jpg"
    astronaut.save(upright, quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display": the pixels are stored turned left
    astronaut.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "rotated.jpg", quality=95, exif=exif)
    (a,) = detector(read_image(upright))
    (b,) = detector(read_image(tmp_path / "rotated.jpg"))
    assert np.abs(np.subtract(a.box, b.box)).max() < 4
    assert np.abs(np.subtract(a.landmarks, b.landmarks)).max() < 3


def test_several_faces_largest_first(detector, astronaut):
    canvas = Image.new("RGB", (1200, 560), (120, 120, 120))
    canvas.paste(astronaut, (0, 0))
    canvas.paste(skimage_photo("camera"), (660, 20))
    canvas.paste(astronaut.resize((256, 256)), (520, 300))
    faces = detector(canvas)
    assert len(faces) == 3
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    centres = sorted((f.box[0] + f.box[2] / 2) for f in faces)
    assert centres[0] < 300 and 520 < centres[1] < 776 and centres[2] > 800
    for face in faces:
        _check_face(face, canvas)


def test_generated_faces_landmarks_within_a_few_pixels(detector):
    """MTCNN finds about 60 % of the drawn faces (they are cartoons); those it finds are placed well."""
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


def test_detection_record():
    face = Detection((1.234, 2, 3, 4), 0.9999991, ((1, 2),) * 5)
    assert face.to_dict() == {"box": [1.23, 2, 3, 4], "score": 0.999999, "landmarks": [[1, 2]] * 5}
