"""--annotate: each picture with numbered boxes and top labels; videos as videos."""

from __future__ import annotations

import numpy as np
from PIL import Image

from faer_hub.inference.annotate import COLOURS, Annotator, annotate
from faer_hub.inference.output import output_name
from faer_hub.inference.predict import Prediction, Unit


def _face(box, labels=(("happiness", 0.8), ("neutral", 0.1))):
    return Prediction(path="p.jpg", face_index=0, box=box, top_k=list(labels))


def test_faces_are_boxed_in_their_colour_with_labels_drawn():
    image = Image.new("RGB", (200, 160), (40, 40, 40))
    out = np.asarray(annotate(image, [_face((20, 20, 60, 60)), _face((120, 30, 50, 50))]))
    assert tuple(out[50, 20]) == COLOURS[0] and tuple(out[50, 120]) == COLOURS[1]  # left edges of the boxes
    assert (out[82:100, 20:80] != 40).any()  # a label strip under the first box
    assert np.array_equal(np.asarray(image)[0, 0], [40, 40, 40])  # the original is untouched


def test_annotator_writes_images_and_videos_named_per_input(tmp_path):
    import cv2

    annotator = Annotator(tmp_path)
    picture = Image.new("RGB", (96, 80), (90, 90, 90))
    annotator.add(Unit(0, "a/photo.jpg", [_face((10, 10, 30, 30))], image=picture))
    annotator.add(Unit(0, "a/photo.jpg", end=True))
    annotator.add(Unit(1, "b/photo.jpg", [], image=picture))
    for frame in range(3):
        annotator.add(Unit(2, "clip.avi", [_face((10, 10, 30, 30))], image=picture, frame=frame, time_s=frame / 10))
    annotator.add(Unit(2, "clip.avi", end=True))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([output_name("a/photo.jpg", None, ".jpg"), output_name("b/photo.jpg", None, ".jpg"),
                            output_name("clip.avi", None, ".avi")])
    video = cv2.VideoCapture(str(tmp_path / output_name("clip.avi", None, ".avi")))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
