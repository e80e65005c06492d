"""The batched MTCNN cascade gives facenet-pytorch's ``detect_face`` answers bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from faer_hub.faces.cascade import _crops, pyramid_scales, run_cascade
from photos import skimage_photo


@pytest.fixture(scope="module")
def mtcnn():
    pytest.importorskip("facenet_pytorch")
    from faer_hub.faces.detect import MTCNNDetector

    return MTCNNDetector()._mtcnn


def _facenet(batch: np.ndarray, min_face: float, mtcnn) -> list[tuple[np.ndarray, np.ndarray]]:
    from facenet_pytorch.models.utils.detect_face import detect_face

    with torch.no_grad():
        boxes, points = detect_face(batch, min_face, mtcnn.pnet, mtcnn.rnet, mtcnn.onet, mtcnn.thresholds,
                                    mtcnn.factor, "cpu")
    return [(np.asarray(b).reshape(-1, 5), np.asarray(p).reshape(-1, 5, 2)) for b, p in zip(boxes, points)]


def _batches() -> dict[str, np.ndarray]:
    astronaut, camera = skimage_photo("astronaut"), skimage_photo("camera")
    # a face cut by the top-left edge, so that boxes are clamped to the picture
    cut = astronaut.crop((180, 80, 436, 336))
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8))
    small = [im.resize((256, 256)) for im in (astronaut, camera)]
    return {
        "several faces and none": np.stack([np.asarray(im) for im in (*small, cut, noise)]),
        "one, not square": np.asarray(astronaut.resize((320, 224)))[None],
    }


@pytest.mark.parametrize("name", list(_batches()))
def test_cascade_gives_facenet_pytorchs_boxes_and_points_bit_for_bit(mtcnn, name):
    batch = _batches()[name]
    with torch.no_grad():
        ours = run_cascade(batch, 20, (mtcnn.pnet, mtcnn.rnet, mtcnn.onet), mtcnn.thresholds, mtcnn.factor)
    theirs = _facenet(batch, 20, mtcnn)
    assert len(ours) == len(theirs) == len(batch)
    assert sum(len(boxes) for boxes, _ in ours) >= len(batch) - 1  # faces were found, not just nothing
    for (boxes, points), (their_boxes, their_points) in zip(ours, theirs):
        np.testing.assert_array_equal(boxes, their_boxes)
        np.testing.assert_array_equal(points, their_points)


def test_a_picture_smaller_than_the_smallest_face_has_none(mtcnn):
    tiny = np.zeros((2, 15, 40, 3), dtype=np.uint8)
    found = run_cascade(tiny, 20, (mtcnn.pnet, mtcnn.rnet, mtcnn.onet), mtcnn.thresholds, mtcnn.factor)
    assert [(boxes.shape, points.shape) for boxes, points in found] == [((0, 5), (0, 5, 2))] * 2


def test_pyramid_starts_at_the_smallest_face_and_stops_at_the_window():
    scales = pyramid_scales(200, 300, 20, 0.709)
    assert scales[0] == pytest.approx(0.6) and np.allclose(np.diff(np.log(scales)), np.log(0.709))
    assert 200 * scales[-1] >= 12 > 200 * scales[-1] * 0.709


def test_a_box_with_no_pixel_in_its_picture_is_dropped_with_its_crop():
    pixels = torch.arange(2 * 3 * 40 * 40, dtype=torch.float32).reshape(2, 3, 40, 40) % 256
    boxes = torch.tensor([[4.0, 4.0, 19.0, 19.0, 0.9], [50.0, 50.0, 70.0, 70.0, 0.8], [0.0, 10.0, 15.0, 25.0, 0.7]])
    owners = torch.tensor([0, 0, 1])
    crops, kept, kept_owners = _crops(pixels, boxes, owners, 24)
    assert crops.shape == (2, 3, 24, 24) and crops.is_contiguous(memory_format=torch.channels_last)
    assert kept[:, 4].tolist() == pytest.approx([0.9, 0.7]) and kept_owners.tolist() == [0, 1]
    # each crop is its own box's pixels, area-resampled (1-based inclusive box -> rows 3..18, columns 3..18)
    expected = torch.nn.functional.interpolate(pixels[0:1, :, 3:19, 3:19], size=(24, 24), mode="area")
    torch.testing.assert_close(crops[0:1], (expected - 127.5) * 0.0078125, rtol=0, atol=0)
