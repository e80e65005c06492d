"""The app's analysis without a browser (messages, order, pictures, Grad-CAM)."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import timm
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.app import FaceDemo, ordered_labels, write_example_faces
from faer_hub.cli import main
from faer_hub.faces.detect import Detection

from conftest import SMALL_INPUT


def _face(x, y, w, h):
    return Detection((x, y, w, h), 0.99, ((x + 0.3 * w, y + 0.4 * h), (x + 0.7 * w, y + 0.4 * h),
                                          (x + 0.5 * w, y + 0.6 * h), (x + 0.35 * w, y + 0.8 * h),
                                          (x + 0.65 * w, y + 0.8 * h)))


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("app") / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(path)
    return path


def test_faces_are_boxed_numbered_and_match_predict(raf_export, photo):
    from faer_hub.inference.predict import Predictor

    def two_faces(image):
        return [_face(80, 10, 60, 80), _face(5, 20, 40, 50)]

    demo = FaceDemo([str(raf_export)], detector=two_faces, device="cpu")
    a = demo.analyse(photo)
    assert a.kind == "ok" and "2 faces" in a.message
    expected = Predictor(str(raf_export), detector=two_faces, device="cpu", top_k=7).predict([photo]).predictions
    assert [p.probabilities for p in a.report.predictions] == [p.probabilities for p in expected]
    assert a.html.count('class="faer-face"') == 2 and a.html.count("faer-row") == 14
    first = max(expected[0].probabilities, key=expected[0].probabilities.get)
    assert a.html.index(f'data-label="{first}"') < a.html.index('data-face="2"')
    assert f"{expected[0].probabilities[first]:.4f}" in a.html
    assert a.picture.size == (160, 120) and not np.array_equal(np.asarray(a.picture), np.asarray(Image.open(photo)))
    assert [caption for _, caption in a.views] == ["Face 1: the model's input", "Face 2: the model's input"]
    assert a.views[0][0].size == (64, 64)
    cam = demo.analyse(photo, cam=True, cam_target="anger")
    assert [c for _, c in cam.views][1].startswith("Face 2: Grad-CAM for anger (")
    assert "Grad-CAM for " + first in demo.analyse(photo, cam=True).views[0][1]  # default: the predicted class
    big = photo.parent / "big.png"
    Image.open(photo).resize((3200, 2400)).save(big)
    assert demo.analyse(big).picture.size == (1600, 1200)  # shown smaller; found at full size
    whole = demo.analyse(photo, whole_image=True)
    assert "whole image" in whole.message.lower() and whole.report.predictions[0].box is None


def test_page_messages(raf_export, photo, tmp_path):
    demo = FaceDemo([str(raf_export), str(tmp_path / "gone")], detector=lambda image: [], device="cpu")
    (tmp_path / "notes.txt").write_text("not a photo")
    a = demo.analyse(tmp_path / "notes.txt")
    assert a.kind == "not-image" and a.message.startswith("**notes.txt is not an image**")
    a = demo.analyse(photo)
    assert a.kind == "no-face" and "No face found in photo.png" in a.message and a.picture is not None
    a = demo.analyse(photo, str(tmp_path / "gone"))
    assert a.kind == "model-error" and "could not be loaded" in a.message and "gone" in a.message
    assert list(demo.load_all()) == [str(tmp_path / "gone")]
    assert demo.analyse(None).kind == "empty"


def test_attribute_models_list_positives_first(photo, tmp_path):
    from faer_hub.hub.export import save_export

    export = save_export(timm.create_model("faer_atto.celeba", **SMALL_INPUT), tmp_path / "celeba", task="celeba")
    demo = FaceDemo([str(export)], detector=lambda image: [_face(10, 10, 100, 100)], device="cpu")
    a = demo.analyse(photo)  # untrained: sigmoids near 0.5, some above
    (p,) = a.report.predictions
    order = ordered_labels(p.probabilities, p.positive)
    assert len(order) == 40 and p.positive
    flags = [pos for _, _, pos in order]
    assert flags == sorted(flags, reverse=True)  # every positive before every negative
    assert [label for label, _, pos in order if pos] == sorted(p.positive, key=lambda k: -p.probabilities[k])
    assert "Positive (p &ge; 0.50): " + ", ".join(p.positive) in a.html
    assert a.html.index(f'data-label="{order[0][0]}"') < a.html.index(f'data-label="{order[-1][0]}"')


def test_valence_arousal_models_show_their_values(photo, tmp_path):
    import torch

    from faer_hub.hub.export import save_export

    model = timm.create_model("faer_atto.affectnet_va", **SMALL_INPUT).eval()
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.bias.copy_(torch.tensor([0.5, -0.25]))
    export = save_export(model, tmp_path / "va", task="affectnet_va")
    demo = FaceDemo([str(export)], detector=lambda image: [_face(10, 10, 100, 100)], device="cpu")
    a = demo.analyse(photo)
    (p,) = a.report.predictions
    assert p.values == pytest.approx({"valence": 0.5, "arousal": -0.25})
    assert a.html.index('data-label="valence"') < a.html.index('data-label="arousal"')
    assert "+0.5000" in a.html and "-0.2500" in a.html and "width:75.00%" in a.html and "width:37.50%" in a.html


def test_example_faces_are_found_by_the_detector(tmp_path):
    from faer_hub.faces.detect import detect_faces

    paths = write_example_faces(tmp_path)
    assert [p.name for p in paths][-1] == "two_faces.png"
    found = {p.stem: len(detect_faces(Image.open(p).convert("RGB"))) for p in paths}
    assert found == {"happiness": 1, "surprise": 1, "sadness": 1, "anger": 1, "neutral": 1, "two_faces": 2}


def test_cards_link_the_space():
    from faer_hub.hub.cards import render_all_cards

    card = render_all_cards()["faer_raf.md"]
    assert "https://huggingface.co/spaces/faer-hub/faer_base.rafdb" in card
    assert "faer-hub app --model hf-hub:faer-hub/faer_base.rafdb" in card
