"""Try FAER models in the browser: a Gradio app for ``faer-hub app`` and for a Hugging Face Space.

One module serves both: ``faer-hub app --model <source>`` runs it on this machine, and the
``app.py`` that ``faer-hub space`` writes for a Space (:mod:`faer_hub.hub.space`) imports
:func:`launch` from here (no second copy). A photo goes through exactly what ``faer-hub predict`` does
(:class:`faer_hub.inference.predict.Predictor`: :func:`faer_hub.io.read_image`, MTCNN, each model's face
crop), so the page shows the same labels and numbers as the command line.

Offline by design: Gradio's analytics and version check are turned off
(``GRADIO_ANALYTICS_ENABLED=False``), no share link is opened, the theme uses fonts shipped
inside gradio, and the example images are drawn at start-up (generated faces, no downloads).

Uploads are kept no longer than the server runs: :func:`launch` gives Gradio the app's own temp
folder (mode 0700, :func:`app_folder`), removed when the server exits or gets SIGTERM; uploads
above ``max_upload_mb`` are refused.

    faer-hub app --model runs/demo/export --model faer_atto.rafdb --port 7860
"""

from __future__ import annotations

import atexit
import html
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import one_line
from .io import ImageReadError, atomic_path, read_image, write_text

__all__ = [
    "Analysis", "EXAMPLE_FACES", "FaceDemo", "build_app", "launch", "offline_environment", "write_example_faces",
]

OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no telemetry and no version check (api.gradio.app)
    "HF_HUB_DISABLE_TELEMETRY": "1",
}

# Generated faces that the MTCNN detector finds (checked once; seeds of random_face_spec).
EXAMPLE_FACES: tuple[tuple[str, tuple[tuple[str, int], ...]], ...] = (
    ("happiness", (("happiness", 6),)),
    ("surprise", (("surprise", 0),)),
    ("sadness", (("sadness", 6),)),
    ("anger", (("anger", 1),)),
    ("neutral", (("neutral", 1),)),
    ("two_faces", (("happiness", 3), ("anger", 6))),
)
DEFAULT_MAX_UPLOAD_MB = 20
"""Largest upload the page takes (``faer-hub app --max-upload-mb``); a phone photo is 3-10 MB."""
EXAMPLE_SIZE = (240, 288)
SHOWN_SIDE = 1600
"""The boxed picture is shown at most this many pixels wide or high (a phone photo is 4000)."""
CAM_PREDICTED = "predicted class"
BOX_COLOURS = ((255, 196, 0), (0, 200, 255), (255, 64, 160), (120, 255, 80), (255, 120, 40), (170, 120, 255))


GENERATED_NOTICE = (
    "**This model was trained on generated faces, not on real photos** (its `config.json` says so): "
    "its answers on real faces mean nothing; it shows the pipeline at work."
)


def app_folder() -> Path:
    """A new temp folder for one app (mode 0700: only this user can read what people upload),
    removed when the process exits, SIGTERM included."""
    folder = Path(tempfile.mkdtemp(prefix="faer_app_"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    _exit_on_sigterm()
    return folder


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into a normal exit so ``atexit`` cleanups run (Python's default just dies)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def offline_environment() -> None:
    """Turn off everything in Gradio that would reach the network on its own (call before launch)."""
    os.environ.update(OFFLINE_ENV)


def write_example_faces(folder: str | os.PathLike) -> list[Path]:
    """Draw the example photos (generated faces, one or two per image) into ``folder`` as PNG."""
    from .data.synthetic.render import random_face_spec, render

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, faces in EXAMPLE_FACES:
        tiles = [render(random_face_spec(np.random.default_rng(seed), expression=expression, accessories=0.5),
                        EXAMPLE_SIZE).image for expression, seed in faces]
        image = Image.new("RGB", (EXAMPLE_SIZE[0] * len(tiles), EXAMPLE_SIZE[1]))
        for k, tile in enumerate(tiles):
            image.paste(tile, (k * EXAMPLE_SIZE[0], 0))
        path = folder / f"{name}.png"
        with atomic_path(path) as tmp:
            image.save(tmp, format="PNG")
        paths.append(path)
    return paths


# --- the analysis, independent of Gradio ---------------------------------------------------------

@dataclass
class Analysis:
    """What the page shows for one photo and one model."""

    message: str
    """Markdown: what was found, or why nothing could be shown."""
    kind: str = "ok"
    """``ok``, ``not-image``, ``too-large``, ``too-small``, ``no-face``, ``model-error`` or ``empty``."""
    picture: Image.Image | None = None
    """The photo with each face boxed and numbered (1, 2, ... = face_index 0, 1, ... of predict)."""
    html: str = ""
    """Per face: every label's probability as a bar (attribute models: positives first)."""
    views: list[tuple[Image.Image, str]] = field(default_factory=list)
    """Per face: the model's input (or its Grad-CAM overlay) and a caption."""
    report: Any = None
    """The :class:`faer_hub.inference.predict.PredictionReport` behind it."""
    notice: str = ""
    """Markdown shown above everything: what the model's own files say about it (e.g. trained on
    generated faces); empty when there is nothing to say."""
    downloads: list[Path] = field(default_factory=list)
    """The results as ``results.csv`` and ``results.json`` (the columns and records of
    ``faer-hub predict --format csv/jsonl``), for the page's download links."""


class _Loaded:
    def __init__(self, source: str, predictor: Any, whole: Any, notice: str = "") -> None:
        self.source, self.predictor, self.whole, self.notice = source, predictor, whole, notice


def model_notice(model: Any) -> str:
    """What the page must say about ``model`` from its export's own ``config.json``."""
    from .hub.cards import TRAINING_DATA_KEY
    from .hub.export import model_export_config

    config = model_export_config(model) or {}
    return GENERATED_NOTICE if config.get(TRAINING_DATA_KEY) == "generated" else ""


class FaceDemo:
    """The models of one app and the analysis of a photo; every method works without Gradio.

    Models are loaded once, on first use (:meth:`load_all` loads them up front); a model that
    fails to load is remembered with its error, which the page shows when it is picked.
    """

    def __init__(self, sources: Sequence[str], *, pretrained: bool = False, device: str | None = None,
                 threshold: float = 0.5, detector: Callable[[Image.Image], list] | None = None,
                 max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB, work_dir: str | os.PathLike | None = None) -> None:
        if not sources:
            raise ValueError("the app needs at least one model (--model)")
        if not max_upload_mb > 0:
            raise ValueError(f"--max-upload-mb {max_upload_mb}: must be a positive number of megabytes")
        self.sources = list(dict.fromkeys(sources))
        self.pretrained, self.device, self.threshold = pretrained, device, threshold
        self.max_upload_mb = max_upload_mb
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._results = 0
        self._detector = detector
        self._models: dict[str, _Loaded | str] = {}
        self._lock = threading.RLock()  # Gradio runs events in threads; Grad-CAM hooks the shared model

    @property
    def detector(self) -> Callable[[Image.Image], list]:
        if self._detector is None:
            from .faces.detect import MTCNNDetector

            self._detector = MTCNNDetector()  # one detector shared by every model
        return self._detector

    def load(self, source: str) -> _Loaded | str:
        """The loaded model, or the one-line reason it could not be loaded."""
        with self._lock:
            return self._load(source)

    def _load(self, source: str) -> _Loaded | str:
        if source not in self._models:
            from .inference.predict import Predictor
            from .hub.sources import create_model_from_source

            try:
                model = create_model_from_source(source, pretrained=self.pretrained)
                num = getattr(model, "num_classes", 0)
                predictor = Predictor(model, top_k=max(1, num), threshold=self.threshold, detector=self.detector,
                                      device=self.device)
                whole = Predictor(predictor.model, top_k=max(1, num), threshold=self.threshold, detect_faces=False,
                                  device=self.device)
                self._models[source] = _Loaded(source, predictor, whole, model_notice(model))
            except Exception as err:  # noqa: BLE001  (shown in the page, one line)
                self._models[source] = one_line(err)
        return self._models[source]

    def load_all(self) -> dict[str, str]:
        """Load every model now; returns ``{source: error}`` for those that failed."""
        return {s: r for s in self.sources if isinstance(r := self.load(s), str)}

    def labels(self, source: str) -> list[str]:
        loaded = self.load(source)
        return [] if isinstance(loaded, str) else list(loaded.predictor.labels)

    def notice(self, source: str | None = None) -> str:
        """What the page says about the model ``source`` before any photo (see :func:`model_notice`)."""
        loaded = self.load(source or self.sources[0])
        return "" if isinstance(loaded, str) else loaded.notice

    @property
    def work_dir(self) -> Path:
        """Where the results offered for download are written (the app's folder, else a new temp one)."""
        if self._work_dir is None:
            self._work_dir = app_folder()
        return self._work_dir

    def analyse(self, path: str | os.PathLike | None, source: str | None = None, *, whole_image: bool = False,
                cam: bool = False, cam_target: str | None = None) -> Analysis:
        """Everything the page shows for the photo at ``path`` with model ``source``."""
        with self._lock:
            return self._analyse(path, source, whole_image, cam, cam_target)

    def _analyse(self, path: str | os.PathLike | None, source: str | None, whole_image: bool, cam: bool,
                 cam_target: str | None) -> Analysis:
        source = source or self.sources[0]
        if not path:
            return Analysis("Upload a photo, take a webcam snapshot, or click one of the generated faces.", "empty")
        name = Path(path).name
        loaded = self.load(source)
        if isinstance(loaded, str):
            return Analysis(f"**The model {_md(source)} could not be loaded**: {_md(loaded)}. "
                            "Pick another model, or check the source (`faer-hub predict --model ...` says the same).",
                            "model-error")
        notice = loaded.notice
        size_mb = os.path.getsize(path) / 1e6
        if size_mb > self.max_upload_mb:
            return Analysis(f"**{_md(name)} is too large** ({size_mb:.1f} MB; this page takes at most "
                            f"{self.max_upload_mb:g} MB, set with `faer-hub app --max-upload-mb`).", "too-large",
                            notice=notice)
        try:
            image = read_image(path)
        except ImageReadError as err:
            return Analysis(f"**{_md(name)} is not an image**: {_md(err.reason)}.", "not-image", notice=notice)
        predictor = loaded.whole if whole_image else loaded.predictor
        if not whole_image:
            from .inference.predict import too_small_reason  # the words `faer-hub predict` uses

            reason = too_small_reason(image, predictor.detector)
            if reason is not None:
                return Analysis(f"**{_md(name)} is too small for face detection**: {_md(reason)} (here: tick "
                                "*already an aligned face crop*).", "too-small", picture=image, notice=notice)
        report = predictor.predict([path])
        if report.errors:  # read_image accepted it above, so this is unexpected; show it all the same
            return Analysis(f"**{_md(name)} could not be read**: {_md(report.errors[0].error)}.", "not-image",
                            notice=notice)
        if not report.predictions:
            return Analysis(
                f"**No face found in {_md(name)}.** The face detector (MTCNN) found none: try a photo with a "
                "larger, frontal, well-lit face, or tick *already an aligned face crop* to classify the whole "
                "image.", "no-face", picture=_shown(image), report=report, notice=notice)
        predictions = report.predictions
        crops = [image if p.box is None else predictor.crop(image, _detection(p)) for p in predictions]
        views = self._views(predictor, crops, predictions, cam, cam_target)
        n = len(predictions)
        what = "the whole image (no face detection)" if whole_image else f"{n} face{'s' * (n != 1)}"
        message = f"**{what[0].upper() + what[1:]}** in {_md(name)}, model {_md(source)}."
        return Analysis(message, "ok", picture=_shown(draw_faces(image, predictions)),
                        html=results_html(predictions, predictor.multi_label, predictor.threshold), views=views,
                        report=report, notice=notice,
                        downloads=self._write_downloads(report, name, predictor.multi_label))

    def _write_downloads(self, report: Any, name: str, multi_label: bool) -> list[Path]:
        """``results.csv`` and ``results.json`` of one analysis, in a new subfolder of
        :attr:`work_dir`, with the upload's own file name (not the server's temp path)."""
        from .inference.predict import write_report

        shown = replace(report, rows=[replace(row, path=name) for row in report.rows])
        self._results += 1
        folder = self.work_dir / "results" / f"{self._results:06d}"
        folder.mkdir(parents=True, exist_ok=True)
        csv_text, jsonl = io.StringIO(), io.StringIO()
        write_report(shown, "csv", csv_text, multi_label=multi_label)
        write_report(shown, "jsonl", jsonl, multi_label=multi_label)
        records = [json.loads(line) for line in jsonl.getvalue().splitlines()]
        return [write_text(folder / "results.csv", csv_text.getvalue()),
                write_text(folder / "results.json", json.dumps(records, indent=2) + "\n")]

    def _views(self, predictor: Any, crops: list[Image.Image], predictions: list, cam: bool,
               cam_target: str | None) -> list[tuple[Image.Image, str]]:
        if not cam:
            return [(predictor.model_view(crop), f"Face {k + 1}: the model's input") for k, crop in enumerate(crops)]
        from .viz.gradcam import compute_cams

        target = None if cam_target in (None, "", CAM_PREDICTED) else cam_target
        results = compute_cams(predictor.model, crops, targets=target, device=predictor.device)
        return [(Image.fromarray(r.overlay), f"Face {k + 1}: Grad-CAM for {r.target_label} ({r.score:.4f})")
                for k, r in enumerate(results)]


def _shown(image: Image.Image) -> Image.Image:
    """The picture at most :data:`SHOWN_SIDE` pixels a side (faces were found at full size)."""
    if max(image.size) > SHOWN_SIDE:
        image = image.copy()
        image.thumbnail((SHOWN_SIDE, SHOWN_SIDE), Image.Resampling.LANCZOS)
    return image


def _detection(p: Any) -> Any:
    from .faces.detect import Detection

    return Detection(tuple(p.box), p.score or 0.0, tuple(tuple(pt) for pt in p.landmarks or ()))


def _md(text: str) -> str:
    """Text shown as itself in the page's Markdown."""
    text = str(text)
    for c in "\\`*_[]<>#|~&":
        text = text.replace(c, "\\" + c)
    return text


def draw_faces(image: Image.Image, predictions: Sequence[Any]) -> Image.Image:
    """A copy of ``image`` with every face boxed and numbered 1, 2, ... (largest first)."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    side = max(out.size)
    width = max(2, round(side / 200))
    font = ImageFont.load_default(size=max(12, round(side / 22)))
    for k, p in enumerate(predictions):
        if p.box is None:
            continue
        x, y, w, h = p.box
        colour = BOX_COLOURS[k % len(BOX_COLOURS)]
        draw.rectangle((x, y, x + w, y + h), outline=colour, width=width)
        label = str(k + 1)
        x0, y0, x1, y1 = draw.textbbox((0, 0), label, font=font)
        pad = width + 1
        tx, ty = max(0.0, x), max(0.0, y - (y1 - y0) - 2 * pad)
        draw.rectangle((tx, ty, tx + (x1 - x0) + 2 * pad, ty + (y1 - y0) + 2 * pad), fill=colour)
        draw.text((tx + pad - x0, ty + pad - y0), label, fill=(0, 0, 0), font=font)
    return out


def ordered_labels(probabilities: dict[str, float], positive: Sequence[str] | None) -> list[tuple[str, float, bool]]:
    """``(label, probability, positive)`` most likely first; attribute models: positives first."""
    chosen = set(positive or ())
    return sorted(((label, p, label in chosen) for label, p in probabilities.items()), key=lambda t: (not t[2], -t[1]))


def results_html(predictions: Sequence[Any], multi_label: bool, threshold: float = 0.5) -> str:
    """One card per face: a horizontal bar per label with its probability (4 decimals); for
    valence/arousal models a bar per dimension, its value in [-1, 1] drawn across the bar."""
    cards = []
    for k, p in enumerate(predictions):
        rows = []
        if p.values is not None:
            items = [(label, value, False) for label, value in p.values.items()]
        else:
            items = ordered_labels(p.probabilities, p.positive if multi_label else None)
        for label, prob, pos in items:
            width = (prob + 1) / 2 if p.values is not None else prob
            shown = f"{prob:+.4f}" if p.values is not None else f"{prob:.4f}"
            colour = "#2e9d5b" if (pos or not multi_label) else "#9aa3ad"
            rows.append(
                f'<div class="faer-row{" faer-positive" if pos else ""}" data-label="{html.escape(label)}" '
                'style="display:flex;align-items:center;gap:8px;margin:1px 0">'
                f'<span class="faer-label" style="flex:0 0 11em;overflow:hidden;text-overflow:ellipsis;'
                f'white-space:nowrap">{html.escape(label)}</span>'
                '<span style="flex:1 1 auto;background:#e5e7eb;border-radius:3px;height:14px">'
                f'<span style="display:block;width:{100 * width:.2f}%;background:{colour};height:14px;'
                'border-radius:3px"></span></span>'
                f'<span class="faer-value" style="flex:0 0 4.5em;text-align:right;font-family:monospace">'
                f"{shown}</span></div>")
        where = "whole image" if p.box is None else "box {:.0f},{:.0f} {:.0f}x{:.0f}".format(*p.box)
        score = "" if p.score is None else f", detector score {p.score:.3f}"
        head = f"Face {k + 1}" if p.face_index is not None else "Whole image"
        note = ""
        if multi_label:
            positives = ", ".join(p.positive or []) or "none"
            note = (f'<div class="faer-positives" style="margin:2px 0 4px">Positive (p &ge; {threshold:.2f}): '
                    f"{html.escape(positives)}</div>")
        cards.append(
            f'<div class="faer-face" data-face="{k + 1}" style="margin:0 0 12px">'
            f'<div class="faer-face-title" style="font-weight:600">{head} <span style="font-weight:400">'
            f"({where}{score})</span></div>{note}"
            f'<div class="faer-bars" style="font-size:13px">{"".join(rows)}</div></div>')
    return '<div class="faer-results">' + "".join(cards) + "</div>"


# --- the Gradio page -----------------------------------------------------------------------------

INTRO = """# FAER: facial expressions and attributes
Drop a photo (or take a webcam snapshot): every face is found, boxed and numbered, cut the way
the model's training faces were cut, and classified. Generated example faces below work with one
click. **Research demo: not for any decision about a person.**"""


def _import_gradio() -> Any:
    offline_environment()
    try:
        import gradio as gr
    except ImportError as err:
        raise ImportError("the app needs gradio: pip install 'faer_hub[app]'") from err
    return gr


def build_app(sources: Sequence[str] | FaceDemo, *, examples_dir: str | os.PathLike | None = None,
              title: str = "FAER demo") -> Any:
    """The Gradio ``Blocks`` of the demo for one or more model sources (not launched)."""
    gr = _import_gradio()
    demo = sources if isinstance(sources, FaceDemo) else FaceDemo(sources)
    examples_dir = Path(examples_dir) if examples_dir is not None else demo.work_dir / "examples"
    examples = write_example_faces(examples_dir)
    first = demo.sources[0]

    def run(path, source, whole, cam, target):
        try:
            a = demo.analyse(path, source, whole_image=bool(whole), cam=bool(cam), cam_target=target)
        except Exception as err:  # noqa: BLE001  (a bug: said in the page, not as a bare "Error")
            print(f"faer-hub app: internal error on {path}: {type(err).__name__}: {err}", file=sys.stderr)
            a = Analysis(f"**Something went wrong** ({_md(type(err).__name__)}: {_md(err)}). This is a bug in "
                         "faer\\_hub: please report it with the photo and the model.", "error")
        downloads = [str(p) for p in a.downloads] or None
        return (a.notice or demo.notice(source), a.message, a.picture, a.html,
                [(im, caption) for im, caption in a.views], gr.update(value=downloads, visible=bool(downloads)))

    def cam_choices(source):
        return gr.update(choices=[CAM_PREDICTED, *demo.labels(source)], value=CAM_PREDICTED)

    with gr.Blocks(title=title, analytics_enabled=False) as blocks:
        gr.Markdown(INTRO)
        notice = gr.Markdown(demo.notice(first), elem_id="faer-notice")
        current = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2):
                model = gr.Dropdown(choices=demo.sources, value=first, label="Model", elem_id="faer-model",
                                    visible=len(demo.sources) > 1, interactive=True)
                photo = gr.File(label=f"Photo (at most {demo.max_upload_mb:g} MB)", type="filepath",
                                elem_id="faer-photo")
                with gr.Accordion("Webcam snapshot", open=False):
                    webcam = gr.Image(sources=["webcam"], type="filepath", label="Webcam", elem_id="faer-webcam")
                whole = gr.Checkbox(value=False, elem_id="faer-whole",
                                    label="The photo already is an aligned face crop (classify the whole image)")
                cam = gr.Checkbox(value=False, label="Grad-CAM: show where the model looked", elem_id="faer-cam")
                target = gr.Dropdown(choices=[CAM_PREDICTED, *demo.labels(first)], value=CAM_PREDICTED,
                                     label="Grad-CAM class", elem_id="faer-cam-target", interactive=True)
                gr.Examples(examples=[[str(p)] for p in examples], inputs=[photo], label="Generated faces (click one)",
                            example_labels=[p.stem.replace("_", " ") for p in examples])
            with gr.Column(scale=3):
                message = gr.Markdown(demo.analyse(None).message, elem_id="faer-message")
                picture = gr.Image(label="Faces found (numbered)", type="pil", interactive=False,
                                   elem_id="faer-picture", format="png")
                results = gr.HTML(elem_id="faer-results")
                # fit_columns=False: one face would be stretched to the full width of the gallery and
                # cut at its height (the mouth and its Grad-CAM fell outside); each view is shown whole
                views = gr.Gallery(label="Each face as the model saw it", elem_id="faer-views", columns=4,
                                   fit_columns=False, height="auto", object_fit="contain", format="png")
                downloads = gr.File(label="Download the results (CSV, JSON)", file_count="multiple",
                                    interactive=False, visible=False, elem_id="faer-downloads")
        outputs = [notice, message, picture, results, views, downloads]
        options = [model, whole, cam, target]
        photo.change(lambda p: p, photo, current, queue=False).then(run, [current, *options], outputs)
        webcam.change(lambda p: p, webcam, current, queue=False).then(run, [current, *options], outputs)
        model.change(cam_choices, model, target).then(run, [current, *options], outputs)
        for option in (whole, cam, target):
            option.change(run, [current, *options], outputs)
    blocks.faer_examples_dir = examples_dir
    return blocks


def launch(sources: Sequence[str], *, host: str | None = None, port: int | None = None,
           pretrained: bool = False, device: str | None = None, block: bool = True, quiet: bool = False,
           max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> Any:
    """Load the models, build the page and serve it (offline; no share link).

    ``host``/``port`` default to ``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT`` (as a Space sets
    them), else 127.0.0.1 and the first free port from 7860. Uploads larger than ``max_upload_mb``
    are refused; uploads, the pictures shown and the results offered for download live in the app's
    own folder (:func:`app_folder`), gone when the server stops.
    """
    folder = app_folder()
    os.environ["GRADIO_TEMP_DIR"] = str(folder / "gradio")  # uploads and shown pictures: here, not /tmp/gradio
    gr = _import_gradio()
    demo = FaceDemo(sources, pretrained=pretrained, device=device, max_upload_mb=max_upload_mb, work_dir=folder)
    failed = demo.load_all()
    if len(failed) == len(demo.sources):  # a page where nothing works helps no one
        raise ValueError("no model could be loaded: " + "; ".join(f"{source}: {error}" for source, error in failed.items()))
    for source, error in failed.items():
        print(f"faer-hub app: warning: model {source} could not be loaded ({error}); "
              "the page says so when it is picked", file=sys.stderr)
    blocks = build_app(demo, examples_dir=folder / "examples")
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    try:
        blocks.launch(server_name=host, server_port=port, share=False, inbrowser=False, quiet=quiet,
                      allowed_paths=[str(folder / "examples")], prevent_thread_lock=not block, theme=theme,
                      show_error=True, enable_monitoring=False, max_file_size=int(max_upload_mb * 1e6))
    except OSError as err:
        if "empty port" not in str(err):
            raise
        where = f"{host or '127.0.0.1'}:{port if port is not None else '7860 and up'}"
        raise OSError(f"cannot listen on {where}: the port is taken, or the address is not one of this "
                      "machine's; pass another --port (or --host)") from None
    return blocks
