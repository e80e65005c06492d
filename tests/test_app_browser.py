"""`faer-hub app` end to end in a real browser (Debian's chromium driven by Playwright), offline.

The app runs as its own process on a free loopback port with a tiny random-weight export; the
server refuses any connection beyond loopback and the browser aborts any request that is not to
the app, and both are asserted empty. Deselect locally with ``-m 'not browser'``; CI runs it.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from app_browser import BLOCKED, open_page, serve_app, upload

pytestmark = pytest.mark.browser
if not os.path.exists("/usr/bin/chromium") and not os.environ.get("CI"):  # CI must run it: no skip there
    pytest.skip("needs Debian's chromium at /usr/bin/chromium: `make chromium` (or apt-get install chromium)",
                allow_module_level=True)


def _page_results(page) -> list[dict[str, float]]:
    """Per face card in the page: {label: shown probability}, in the page's order."""
    faces = []
    for card in page.locator("#faer-results .faer-face").all():
        rows = card.locator(".faer-row")
        labels = [rows.nth(i).get_attribute("data-label") for i in range(rows.count())]
        values = [float(v) for v in card.locator(".faer-value").all_inner_texts()]
        faces.append(dict(zip(labels, values)))
    return faces


def _wait_message(page, pattern: str) -> str:
    message = page.locator("#faer-message")
    message.get_by_text(re.compile(pattern)).first.wait_for()
    return message.inner_text()


def test_app_in_chromium_matches_predict_offline(raf_export, tmp_path):
    from PIL import Image

    from faer_hub.app import write_example_faces
    from faer_hub.cli import main

    faces = {f.stem: f for f in write_example_faces(tmp_path / "faces")}
    face = faces["happiness"]
    notes = tmp_path / "notes.txt"
    notes.write_text("a shopping list, not a photo\n")
    blank = tmp_path / "wall.png"
    Image.new("RGB", (240, 240), (128, 118, 110)).save(blank)
    # what the command line says about the same file
    assert main(["predict", str(face), "--model", str(raf_export), "--format", "jsonl",
                 "--output", str(tmp_path / "predict.jsonl"), "--device", "cpu"]) == 0
    expected = [json.loads(line) for line in (tmp_path / "predict.jsonl").read_text().splitlines()]
    assert [r["face_index"] for r in expected] == [0], "MTCNN must find the generated example face"

    log = tmp_path / "server.log"
    broken = str(tmp_path / "no_such_export")
    with serve_app([str(raf_export), broken], log=log) as url:
        with open_page(url) as (page, outside):
            # a generated face: the labels, their order and the numbers of `faer-hub predict`
            upload(page, face)
            assert "1 face" in _wait_message(page, r"1 face")
            page.locator("#faer-results .faer-face").first.wait_for()
            (shown,) = _page_results(page)
            probabilities = expected[0]["probabilities"]
            assert list(shown) == sorted(probabilities, key=lambda k: -probabilities[k])
            for label, value in shown.items():
                # the page rounds to 4 decimals; the server is another process with its own thread count, whose
                # float sums (MTCNN's landmarks, then the model) can differ from this one's in the 5th decimal
                assert value == pytest.approx(probabilities[label], abs=2e-4), label
            page.locator("#faer-picture img").first.wait_for()  # the boxed, numbered picture
            # the Grad-CAM switch, for the predicted class
            page.locator("#faer-cam input").check()
            top = max(probabilities, key=probabilities.get)
            page.locator("#faer-views").get_by_text(f"Grad-CAM for {top}").first.wait_for()

            # a file that is not an image, then an image without a face
            page.reload()
            upload(page, notes)
            text = _wait_message(page, "is not an image")
            assert "notes.txt is not an image" in text
            assert page.locator("#faer-results .faer-face").count() == 0
            page.reload()
            upload(page, blank)
            assert "No face found in wall.png" in _wait_message(page, "No face found")

            # one click on a generated example; the picker's broken model says so in the page
            page.reload()
            page.locator(".gallery-item, button").filter(has_text=re.compile(r"^\s*two faces\s*$")).first.click()
            assert "2 faces" in _wait_message(page, r"2 faces")
            page.locator("#faer-model input").click()
            page.get_by_role("option", name=broken).click()
            assert "could not be loaded" in _wait_message(page, "could not be loaded")
            assert outside == [], f"the page tried to reach the network: {outside}"
    server_log = log.read_text()
    assert BLOCKED not in server_log, server_log
    assert "could not be loaded" in server_log  # the startup warning for the broken model
