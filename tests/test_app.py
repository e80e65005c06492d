"""The app's analysis without a browser (messages, order, pictures, Grad-CAM)."""

from __future__ import annotations

import numpy as np
import pytest
import timm
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.app import FaceDemo, ordered_labels, write_example_faces
from faer_hub.faces.detect import Detection

from helpers import SMALL_INPUT


def _md_plain(text: str) -> str:
    """Markdown escapes undone (the page shows the text as itself)."""
    return text.replace("\\", "")


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


def test_results_are_offered_as_csv_and_json(raf_export, photo, tmp_path):
    import csv
    import json

    def one_face(image):
        return [_face(40, 10, 80, 100)]

    demo = FaceDemo([str(raf_export)], detector=one_face, device="cpu", work_dir=tmp_path)
    a = demo.analyse(photo)
    assert [p.name for p in a.downloads] == ["results.csv", "results.json"]
    assert all(p.is_relative_to(tmp_path) for p in a.downloads)
    (row,) = csv.DictReader(a.downloads[0].open())
    (record,) = json.loads(a.downloads[1].read_text())
    (p,) = a.report.predictions
    assert row["path"] == record["path"] == "photo.png"  # the upload's name, not the server's temp path
    assert row["status"] == "ok" and float(row["box_w"]) == 80.0
    assert record["probabilities"] == pytest.approx(p.probabilities, abs=1e-6)
    assert {k[2:]: float(v) for k, v in row.items() if k.startswith("p_")} == pytest.approx(p.probabilities, abs=1e-6)
    assert demo.analyse(photo).downloads[0].parent != a.downloads[0].parent  # one folder per analysis


def test_a_model_trained_on_generated_faces_says_so(raf_export, tmp_path):
    """The notice comes from the export's own config.json (written from the run's facts)."""
    from faer_hub.app import GENERATED_NOTICE
    from faer_hub.hub.cards import RunFacts
    from faer_hub.hub.export import save_export

    run = RunFacts(config={"model": {"name": "faer_atto", "img_size": 64}}, generated_data=True)
    demo_export = save_export(timm.create_model("faer_atto.rafdb", **SMALL_INPUT), tmp_path / "demo", task="rafdb",
                              run=run)
    real = save_export(timm.create_model("faer_atto.rafdb", **SMALL_INPUT), tmp_path / "real", task="rafdb",
                       run=RunFacts(config=run.config, generated_data=False))
    demo = FaceDemo([str(demo_export), str(real), str(raf_export)], detector=lambda image: [], device="cpu")
    assert demo.notice(str(demo_export)) == GENERATED_NOTICE and "generated faces" in GENERATED_NOTICE
    assert demo.notice(str(real)) == "" and demo.notice(str(raf_export)) == ""
    Image.new("RGB", (64, 64)).save(tmp_path / "x.png")
    assert demo.analyse(tmp_path / "x.png", str(demo_export)).notice == GENERATED_NOTICE


def test_uploads_too_large_or_too_small_get_a_message_not_a_bug(raf_export, tmp_path):
    demo = FaceDemo([str(raf_export)], device="cpu", max_upload_mb=0.001, detector=lambda image: [])
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)).save(big)
    a = demo.analyse(big)
    assert a.kind == "too-large" and "big.png is too large" in a.message and "--max-upload-mb" in a.message
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 10), (120, 100, 90)).save(tiny)
    a = FaceDemo([str(raf_export)], device="cpu").analyse(tiny)  # the real detector: it used to raise
    assert a.kind == "too-small"
    from faer_hub.inference.predict import too_small_reason

    assert "tiny.png is too small for face detection" in a.message and "12x10 px" in a.message
    assert _md_plain(a.message).count(too_small_reason(Image.open(tiny))) == 1  # the CLI's words
    whole = FaceDemo([str(raf_export)], device="cpu").analyse(tiny, whole_image=True)
    assert whole.kind == "ok"  # a crop needs no detection: any size is resized
    with pytest.raises(ValueError, match="max-upload-mb"):
        FaceDemo([str(raf_export)], max_upload_mb=0)


def test_single_face_views_are_shown_whole(raf_export, tmp_path):
    """One face used to fill the gallery's width and be cut at its height (fit_columns)."""
    pytest.importorskip("gradio")
    from faer_hub.app import build_app

    blocks = build_app(FaceDemo([str(raf_export)], device="cpu", work_dir=tmp_path), examples_dir=tmp_path / "ex")
    by_id = {getattr(b, "elem_id", None): b for b in blocks.blocks.values()}
    views = by_id["faer-views"]
    assert views.fit_columns is False and views.object_fit == "contain" and views.height == "auto"
    assert by_id["faer-downloads"].file_count == "multiple"
    assert "faer-notice" in by_id


def test_the_server_keeps_uploads_in_its_own_folder_and_removes_it_on_sigterm(raf_export, tmp_path, monkeypatch):
    """Issue 17 item 10: a 300 MB upload was accepted, and uploads and the pictures shown stayed in the
    system temp folder, 0644, after the server exited. `faer-hub app` as a process, served over HTTP."""
    import os
    import stat

    import httpx

    from app_browser import serve_app

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # the server's tempfile.gettempdir()
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    with serve_app([str(raf_export)], log=tmp_path / "server.log", options=("--max-upload-mb", "1")) as url:
        (folder,) = tmp.glob("faer_app_*")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        small = httpx.post(f"{url}gradio_api/upload", files={"files": ("face.png", b"x" * 1000)}, timeout=60)
        assert small.status_code == 200, small.text
        (kept,) = small.json()
        assert os.path.realpath(kept).startswith(os.path.realpath(folder))  # not /tmp/gradio
        big = httpx.post(f"{url}gradio_api/upload", files={"files": ("big.png", b"x" * 1_500_000)}, timeout=60)
        assert big.status_code == 413, big.text
    # serve_app stops the server with SIGTERM: the folder, uploads included, is gone
    assert not folder.exists() and list(tmp.iterdir()) == []


def test_a_port_in_use_is_one_line_naming_it(raf_export, capsys):
    import socket

    from faer_hub.cli import main

    pytest.importorskip("gradio")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["app", "--model", str(raf_export), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}: the port is taken" in err and "server_port" not in err
