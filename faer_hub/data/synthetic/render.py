"""Drawing simple synthetic faces whose expression and attributes are visible.

A :class:`FaceSpec` says what to draw (mouth, brows and eyes, which together make the
expression; hair, glasses, hat, beard...; plus nuisance: skin tone, pose, scale, background,
noise). :func:`render_face` draws it and returns the image with the box of every drawn part,
so tests can check that an explanation map points at the glasses or the hat.
Expressions use distinct mouth + brow + eye combinations so that a tiny CNN separates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Box = tuple[int, int, int, int]
"""(x0, y0, x1, y1) in pixels, x1/y1 exclusive."""

EXPRESSION_PARTS: dict[str, tuple[str, str, str]] = {
    # expression: (mouth, brows, eyes)
    "neutral": ("line", "flat", "normal"),
    "happiness": ("open_smile", "flat", "smiling"),
    "sadness": ("frown", "inner_up", "droopy"),
    "surprise": ("o", "raised", "wide"),
    "fear": ("wide_open", "inner_up_high", "wide"),
    "disgust": ("wavy", "lowered", "narrow"),
    "anger": ("clenched", "v", "normal"),
    "contempt": ("smirk", "one_raised", "normal"),
}
"""How each expression is drawn: every pair differs in the mouth and in brows or eyes."""

HAIR_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (25, 22, 22),
    "brown": (100, 62, 30),
    "blond": (225, 195, 110),
    "gray": (160, 160, 165),
}

CELEBA_MOUTHS = ("line", "smile", "open_smile", "slightly_open")
"""Mouths used for CelebA faces: independent Smiling / Mouth_Slightly_Open."""


@dataclass(frozen=True)
class FaceSpec:
    """Everything :func:`render_face` draws. Build one with :func:`random_face_spec`."""

    mouth: str = "line"
    brows: str = "flat"
    eyes: str = "normal"
    skin: tuple[int, int, int] = (220, 180, 150)
    hair: str | None = "brown"
    """Key of :data:`HAIR_COLORS`, or ``None`` for bald."""
    bangs: bool = False
    glasses: bool = False
    hat: bool = False
    hat_color: tuple[int, int, int] = (40, 60, 140)
    mustache: bool = False
    goatee: bool = False
    lipstick: bool = False
    rosy_cheeks: bool = False
    bushy_brows: bool = False
    earrings: bool = False
    necktie: bool = False
    blurry: bool = False
    show_face: bool = True
    """False draws background only (AffectNet's No-Face)."""
    angle: float = 0.0
    """Head roll in degrees, counter-clockwise."""
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    """Offset of the head, as fractions of the face box size."""
    jitter: tuple[float, ...] = field(default=(1.0,) * 6)
    """Per-part size factors (eyes, brows, mouth width, mouth height, eye spacing, thickness)."""
    background: tuple[tuple[int, int, int], tuple[int, int, int]] = ((90, 110, 130), (30, 40, 50))
    clutter_seed: int = 0
    clutter: int = 5
    """Most background shapes drawn."""
    noise: float = 3.0
    """Standard deviation of the Gaussian pixel noise."""
    brightness: float = 1.0
    iris: tuple[int, int, int] = (95, 62, 35)
    """Iris colour."""
    light: float = 0.0
    """Side the key light comes from, -1 (image left) to 1 (image right): shades the skin."""


IRIS_COLORS = ((95, 62, 35), (60, 40, 25), (70, 110, 150), (90, 120, 70), (120, 90, 50))


def random_face_spec(rng: np.random.Generator, *, expression: str | None = None,
                     mouth: str | None = None, brows: str | None = None, eyes: str | None = None,
                     accessories: float = 1.0, **overrides: object) -> FaceSpec:
    """A face with random nuisance (skin, hair, accessories, pose, background, noise).

    ``expression`` (a key of :data:`EXPRESSION_PARTS`) sets mouth, brows and eyes; they can
    also be given one by one. ``accessories`` scales the probability of glasses, hat, beard
    and the like. ``overrides`` set any other :class:`FaceSpec` field.
    """
    acc = accessories
    if expression is not None:
        mouth, brows, eyes = EXPRESSION_PARTS[expression]
    tone = rng.uniform(0, 1)
    skin = tuple(int(v) for v in np.array([250, 220, 195]) * (1 - tone) + np.array([115, 76, 52]) * tone)
    bg_a = tuple(int(v) for v in rng.integers(20, 235, 3))
    bg_b = tuple(int(v) for v in rng.integers(20, 235, 3))
    spec = FaceSpec(
        mouth=mouth or "line",
        brows=brows or "flat",
        eyes=eyes or "normal",
        skin=skin,  # type: ignore[arg-type]
        hair=None if rng.random() < 0.1 else ["black", "brown", "blond", "gray"][int(rng.integers(0, 4))],
        bangs=bool(rng.random() < 0.25 * acc),
        glasses=bool(rng.random() < 0.25 * acc),
        hat=bool(rng.random() < 0.2 * acc),
        hat_color=tuple(int(v) for v in rng.integers(0, 256, 3)),  # type: ignore[arg-type]
        mustache=bool(rng.random() < 0.2 * acc),
        goatee=bool(rng.random() < 0.2 * acc),
        lipstick=bool(rng.random() < 0.2 * acc),
        rosy_cheeks=bool(rng.random() < 0.2 * acc),
        bushy_brows=bool(rng.random() < 0.25 * acc),
        earrings=bool(rng.random() < 0.2 * acc),
        necktie=bool(rng.random() < 0.2 * acc),
        blurry=bool(rng.random() < 0.08 * acc),
        angle=float(rng.uniform(-8, 8)),
        scale=float(rng.uniform(0.92, 1.08)),
        shift=(float(rng.uniform(-0.04, 0.04)), float(rng.uniform(-0.04, 0.04))),
        jitter=tuple(float(v) for v in rng.uniform(0.88, 1.12, 6)),
        background=(bg_a, bg_b),  # type: ignore[arg-type]
        clutter_seed=int(rng.integers(0, 2**31)),
        noise=float(rng.uniform(0, 6)),
        brightness=float(rng.uniform(0.85, 1.12)),
        iris=IRIS_COLORS[int(rng.integers(0, len(IRIS_COLORS)))],
        light=float(rng.uniform(-1, 1)),
    )
    return replace(spec, **overrides)  # type: ignore[arg-type]


def is_pale(skin: tuple[int, int, int]) -> bool:
    return sum(skin) / 3 > 215


def default_face_box(size: tuple[int, int], aligned: str = "celeba") -> tuple[float, float, float, float]:
    """Face (head ellipse) box (x, y, w, h) for an aligned image of ``size`` = (width, height)."""
    w, h = size
    if aligned == "celeba":  # CelebA: eyes near y=111 of 218, face about half the width
        fw, fh = 0.52 * w, 0.55 * h
        return (w - fw) / 2, 0.30 * h, fw, fh
    fw, fh = 0.78 * w, 0.86 * h  # RAF-DB aligned / AffectNet crops: the face fills the image
    return (w - fw) / 2, 0.10 * h, fw, fh


@dataclass
class Rendered:
    image: Image.Image
    regions: dict[str, Box]
    landmarks5: list[tuple[float, float]]
    """Left eye, right eye, nose, left and right mouth corner (CelebA's order)."""
    landmarks68: list[tuple[float, float]]
    """The 68-point (iBUG) scheme, approximated from the drawn parts."""
    head_box: tuple[float, float, float, float] | None = None
    """(x, y, w, h) of the drawn head ellipse, unrotated (roll turns it about its centre)."""


class _Painter:
    """Draws on a supersampled canvas in face coordinates and tracks part boxes."""

    def __init__(self, draw: ImageDraw.ImageDraw, ss: int) -> None:
        self.draw, self.ss = draw, ss
        self.boxes: dict[str, list[float]] = {}

    def _track(self, part: str | None, pts: list[tuple[float, float]]) -> None:
        if part is None:
            return
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        box = self.boxes.setdefault(part, [math.inf, math.inf, -math.inf, -math.inf])
        box[0], box[1] = min(box[0], *xs), min(box[1], *ys)
        box[2], box[3] = max(box[2], *xs), max(box[3], *ys)

    def _s(self, pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * self.ss, y * self.ss) for x, y in pts]

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=0.0, part=None):
        pts = [(cx - rx, cy - ry), (cx + rx, cy + ry)]
        self.draw.ellipse(self._s(pts), fill=fill, outline=outline, width=max(1, round(width * self.ss)))
        self._track(part, pts)

    def polygon(self, pts, fill=None, outline=None, width=0.0, part=None):
        self.draw.polygon(self._s(pts), fill=fill, outline=outline, width=max(1, round(width * self.ss)))
        self._track(part, pts)

    def line(self, pts, fill, width, part=None):
        self.draw.line(self._s(pts), fill=fill, width=max(1, round(width * self.ss)), joint="curve")
        half = width / 2  # the stroke reaches half its width past the points
        self._track(part, [(x + dx, y + dy) for x, y in pts for dx, dy in ((-half, -half), (half, half))])

    def rect(self, x0, y0, x1, y1, fill=None, outline=None, width=0.0, part=None):
        pts = [(x0, y0), (x1, y1)]
        self.draw.rectangle(self._s(pts), fill=fill, outline=outline, width=max(1, round(width * self.ss)))
        self._track(part, pts)


def _curve(x0: float, x1: float, y: float, bend: float, n: int = 12) -> list[tuple[float, float]]:
    """Points of a parabola from (x0, y) to (x1, y) whose middle is ``bend`` lower."""
    return [
        (x0 + (x1 - x0) * t, y + bend * (1 - (2 * t - 1) ** 2)) for t in np.linspace(0, 1, n)
    ]


EYE_X, EYE_Y = 0.38, -0.1
"""Eye centres at (cx -/+ EYE_X * a, cy + EYE_Y * b) of a head ellipse with half-axes (a, b)."""
NOSE_Y, MOUTH_Y = 0.24, 0.52
"""Nose base and mouth line heights, as fractions of b below the head centre."""


def _gauss(x: np.ndarray, y: np.ndarray, sx: float, sy: float) -> np.ndarray:
    return np.exp(-0.5 * ((x / sx) ** 2 + (y / sy) ** 2))


def _shade_skin(layer: Image.Image, s: FaceSpec, cx: float, cy: float, a: float, b: float, ss: int) -> Image.Image:
    """Skin shading of the head (darker toward its rim and on the unlit side, shadows of the eye
    sockets, the nose and under the lips, lit nose bridge and cheekbones): the light-and-shadow
    pattern of a face that detectors key on. Multiplies the drawn head, features included."""
    x0, x1 = max(0, int((cx - a) * ss)), int(math.ceil((cx + a) * ss)) + 1
    y0, y1 = max(0, int((cy - b) * ss)), int(math.ceil((cy + b) * ss)) + 1
    arr = np.asarray(layer).copy()
    x1, y1 = min(x1, arr.shape[1]), min(y1, arr.shape[0])
    if x1 <= x0 or y1 <= y0:
        return layer
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    x, y = (xs + 0.5) / ss - cx, (ys + 0.5) / ss - cy
    r2 = (x / a) ** 2 + (y / b) ** 2
    inside = r2 <= 1.0
    ex, ey, ny, my = EYE_X * a * s.jitter[4], EYE_Y * b, NOSE_Y * b, MOUTH_Y * b
    m = 1.05 - 0.24 * r2 ** 1.5 + 0.09 * s.light * x / a
    for side in (-1, 1):
        m -= 0.2 * _gauss(x - side * ex, y - ey + 0.04 * b, 0.21 * a, 0.12 * b)  # eye sockets
        m -= (0.07 - 0.04 * side * s.light) * _gauss(x - side * 0.11 * a, y - 0.1 * b, 0.045 * a, 0.1 * b)
        m += 0.05 * _gauss(x - side * 0.5 * a, y - 0.08 * b, 0.14 * a, 0.08 * b)  # cheekbones
    m += 0.06 * _gauss(x, y - 0.02 * b, 0.045 * a, 0.16 * b)  # nose bridge
    m -= 0.08 * _gauss(x, y - ny - 0.05 * b, 0.1 * a, 0.025 * b)  # under the nose
    m -= 0.07 * _gauss(x, y - my - 0.17 * b, 0.2 * a, 0.05 * b)  # under the lower lip
    m -= 0.08 * _gauss(x, y - 0.95 * b, 0.5 * a, 0.06 * b)  # under the chin
    # sheen on forehead, nose and cheekbones: added, so that dark skin keeps its light pattern too
    sheen = 0.9 * _gauss(x, y + 0.55 * b, 0.3 * a, 0.15 * b) + _gauss(x, y - 0.1 * b, 0.04 * a, 0.1 * b)
    for side in (-1, 1):
        sheen += 0.7 * _gauss(x - side * 0.45 * a, y - 0.12 * b, 0.1 * a, 0.06 * b)
    region = arr[y0:y1, x0:x1, :3].astype(np.float32)
    factor = np.where(inside, np.clip(m, 0.5, 1.2), 1.0)[..., None]
    lift = np.where(inside, sheen * 28.0 * (1 - sum(s.skin) / 765), 0.0)[..., None]
    arr[y0:y1, x0:x1, :3] = np.clip(region * factor + lift, 0, 255).astype(np.uint8)
    return Image.fromarray(arr, "RGBA")


def _blend(c1: tuple[int, int, int], c2: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(u * (1 - t) + v * t) for u, v in zip(c1, c2))  # type: ignore[return-value]


def _shade(color: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, c * f))) for c in color)  # type: ignore[return-value]


def _draw_face(p: _Painter, s: FaceSpec, cx: float, cy: float, a: float, b: float,
               img_h: float) -> dict[str, list[tuple[float, float]]]:
    """Draw all parts; returns landmark point groups in face coordinates (unrotated)."""
    j_eye, j_brow, j_mw, j_mh, j_sp, j_th = s.jitter
    th = 0.075 * a * j_th
    dark = (35, 25, 25)
    hair_rgb = HAIR_COLORS[s.hair] if s.hair else None
    pts: dict[str, list[tuple[float, float]]] = {}

    # neck, shoulders and tie
    p.rect(cx - 0.38 * a, cy + 0.6 * b, cx + 0.38 * a, img_h + b, fill=_shade(s.skin, 0.9))
    shirt = (70, 90, 120) if not s.necktie else (235, 235, 240)
    p.polygon([(cx - 1.6 * a, img_h + b), (cx - 1.3 * a, cy + 1.15 * b), (cx + 1.3 * a, cy + 1.15 * b),
               (cx + 1.6 * a, img_h + b)], fill=shirt)
    if s.necktie:
        p.polygon([(cx - 0.12 * a, cy + 1.12 * b), (cx + 0.12 * a, cy + 1.12 * b),
                   (cx + 0.2 * a, cy + 1.9 * b), (cx, cy + 2.05 * b), (cx - 0.2 * a, cy + 1.9 * b)],
                  fill=(170, 20, 30), part="necktie")
    # hair behind the head
    if hair_rgb:
        p.ellipse(cx, cy - 0.12 * b, 1.12 * a, 1.02 * b, fill=hair_rgb, part="hair")
    # ears, earrings
    for side in (-1, 1):
        p.ellipse(cx + side * 0.98 * a, cy - 0.02 * b, 0.14 * a, 0.2 * b, fill=_shade(s.skin, 0.93))
        if s.earrings:
            p.ellipse(cx + side * 1.0 * a, cy + 0.25 * b, 0.07 * a, 0.07 * a, fill=(240, 200, 40),
                      outline=(120, 90, 10), width=0.02 * a, part="earrings")
    # head
    p.ellipse(cx, cy, a, b, fill=s.skin, part="face")
    pts["jaw"] = [(cx + a * math.cos(t), cy + b * math.sin(t)) for t in np.linspace(math.pi, 0, 17)]
    if s.bangs and hair_rgb:
        p.polygon([(cx - 0.9 * a, cy - 0.55 * b), (cx - 0.75 * a, cy - 0.9 * b), (cx, cy - 1.02 * b),
                   (cx + 0.75 * a, cy - 0.9 * b), (cx + 0.9 * a, cy - 0.55 * b), (cx + 0.45 * a, cy - 0.6 * b),
                   (cx, cy - 0.55 * b), (cx - 0.45 * a, cy - 0.6 * b)], fill=hair_rgb, part="bangs")
    if s.rosy_cheeks:
        for side in (-1, 1):
            p.ellipse(cx + side * 0.55 * a, cy + 0.22 * b, 0.17 * a, 0.11 * b, fill=(235, 120, 130),
                      part="cheeks")

    # eyes: white, iris, pupil and a catch light, under a dark upper lid
    ex, ey = EYE_X * a * j_sp, cy + EYE_Y * b
    ew = 0.2 * a * j_eye
    eh = {"normal": 0.1, "wide": 0.14, "narrow": 0.04, "droopy": 0.065, "smiling": 0.06}[s.eyes] * a * j_eye
    pts["eyes"] = []
    for side in (-1, 1):
        x = cx + side * ex
        part = "left_eye" if side < 0 else "right_eye"
        p.ellipse(x, ey, ew, eh, fill=(236, 232, 226), part=part)
        r = min(0.95 * eh, 0.085 * a) if s.eyes != "wide" else 0.09 * a
        p.ellipse(x, ey, r, r, fill=s.iris, outline=_shade(s.iris, 0.5), width=0.15 * r)
        p.ellipse(x, ey, 0.5 * r, 0.5 * r, fill=(12, 10, 10))
        p.ellipse(x + 0.3 * r, ey - 0.3 * r, 0.18 * r, 0.18 * r, fill=(250, 250, 250))
        p.line(_curve(x - ew, x + ew, ey, -eh), fill=dark, width=0.45 * th, part=part)
        p.line(_curve(x - 0.9 * ew, x + 0.9 * ew, ey, eh), fill=_shade(s.skin, 0.6), width=0.2 * th)
        if s.eyes == "smiling":  # cheeks pushed up: a crease under each eye
            p.line(_curve(x - ew, x + ew, ey + 1.9 * eh, -0.9 * eh), fill=_shade(s.skin, 0.55), width=0.5 * th,
                   part=part)
        if s.eyes == "droopy":  # heavy upper lid
            p.polygon([(x - ew * 1.05, ey - eh * 1.3), (x + ew * 1.05, ey - eh * 1.3), (x + ew * 1.05, ey),
                       (x - ew * 1.05, ey - eh * 0.2 * side)], fill=_shade(s.skin, 0.8), part=part)
        pts["eyes"] += [(x - ew, ey), (x - ew / 2, ey - eh), (x + ew / 2, ey - eh), (x + ew, ey),
                        (x + ew / 2, ey + eh), (x - ew / 2, ey + eh)]
    # brows: (inner dy, outer dy) relative to the base height, positive = down
    base = cy - 0.33 * b
    shapes = {
        "flat": (0.0, 0.0), "raised": (-0.14, -0.14), "inner_up": (-0.1, 0.06),
        "inner_up_high": (-0.24, 0.02), "lowered": (0.07, 0.07), "v": (0.14, -0.08),
        "one_raised": (0.0, 0.0),
    }
    inner, outer = shapes[s.brows]
    bw = (0.13 if s.bushy_brows else 0.085) * a * j_brow
    brow_color = _shade(hair_rgb or (60, 45, 35), 0.8)
    pts["brows"] = []
    for side in (-1, 1):
        i_dy, o_dy = inner, outer
        if s.brows == "one_raised" and side > 0:
            i_dy, o_dy = -0.17, -0.26
        xi, xo = cx + side * 0.14 * a, cx + side * 0.64 * a
        yi, yo = base + i_dy * b, base + o_dy * b
        arc = -0.05 * b if s.brows == "raised" else 0.0
        line = [(xi + (xo - xi) * t, yi + (yo - yi) * t + arc * (1 - (2 * t - 1) ** 2)) for t in np.linspace(0, 1, 5)]
        p.line(line, fill=brow_color, width=bw, part="brows")
        pts["brows"] += line if side > 0 else line[::-1]
    # glasses over the eyes
    if s.glasses:
        frame = (15, 15, 20)
        for side in (-1, 1):
            p.ellipse(cx + side * ex, ey, 0.3 * a, 0.22 * a, outline=frame, width=0.07 * a, part="glasses")
        p.line([(cx - ex + 0.3 * a, ey), (cx + ex - 0.3 * a, ey)], fill=frame, width=0.06 * a, part="glasses")
        for side in (-1, 1):
            p.line([(cx + side * (ex + 0.3 * a), ey), (cx + side * 0.97 * a, ey - 0.05 * b)], fill=frame,
                   width=0.05 * a, part="glasses")
    # nose: the sides of the bridge, the wings and the nostrils (shading comes from _shade_skin)
    ny = cy + NOSE_Y * b
    side_tone = _shade(s.skin, 0.72)
    for side in (-1, 1):
        p.line([(cx + side * 0.07 * a, cy - 0.02 * b), (cx + side * 0.09 * a, ny - 0.08 * b)], fill=side_tone,
               width=0.25 * th, part="nose")
        p.line(_curve(cx + side * 0.05 * a, cx + side * 0.17 * a, ny - 0.01 * b, -0.06 * b, 6), fill=side_tone,
               width=0.3 * th, part="nose")
        p.ellipse(cx + side * 0.065 * a, ny, 0.045 * a, 0.022 * b, fill=_shade(s.skin, 0.38), part="nose")
    pts["nose"] = [(cx, cy - 0.02 * b + k * (ny - 0.03 * b - cy) / 3) for k in range(4)] + [
        (cx + dx * a, ny) for dx in (-0.12, -0.06, 0, 0.06, 0.12)]
    if s.mouth == "wavy" or s.brows == "lowered":  # disgust: wrinkled nose
        for side in (-1, 1):
            p.line([(cx + side * 0.08 * a, cy + 0.02 * b), (cx + side * 0.2 * a, cy + 0.08 * b)],
                   fill=_shade(s.skin, 0.6), width=0.4 * th, part="nose")
    # beard
    hair_dark = _shade(hair_rgb or (50, 40, 35), 0.7)
    my = cy + MOUTH_Y * b
    mw = 0.36 * a * j_mw
    if s.mustache:
        p.polygon([(cx - 0.38 * a, my - 0.08 * b), (cx, my - 0.22 * b), (cx + 0.38 * a, my - 0.08 * b),
                   (cx + 0.3 * a, my - 0.04 * b), (cx, my - 0.12 * b), (cx - 0.3 * a, my - 0.04 * b)],
                  fill=hair_dark, part="mustache")
    if s.goatee:
        p.polygon([(cx - 0.2 * a, my + 0.18 * b), (cx + 0.2 * a, my + 0.18 * b), (cx + 0.12 * a, cy + 0.97 * b),
                   (cx - 0.12 * a, cy + 0.97 * b)], fill=hair_dark, part="goatee")
    # mouth
    lip = (190, 30, 60) if s.lipstick else _shade(_blend(s.skin, (185, 75, 85), 0.45), 0.85)
    lip_dark = _shade(lip, 0.55)
    inside = (70, 15, 20)
    teeth = (228, 222, 210)
    mh = 0.12 * b * j_mh
    m = s.mouth
    if m == "line":  # closed lips: upper lip with its bow, fuller lower lip, the dark line between
        p.polygon([(cx - mw, my), (cx - 0.45 * mw, my - 0.55 * mh), (cx - 0.12 * mw, my - 0.6 * mh),
                   (cx, my - 0.45 * mh), (cx + 0.12 * mw, my - 0.6 * mh), (cx + 0.45 * mw, my - 0.55 * mh),
                   (cx + mw, my)], fill=_shade(lip, 0.85), part="mouth")
        p.polygon([(cx - mw, my)] + _curve(cx - 0.9 * mw, cx + 0.9 * mw, my, 0.8 * mh, 8) + [(cx + mw, my)],
                  fill=lip, part="mouth")
        p.line([(cx - mw, my), (cx + mw, my)], fill=lip_dark, width=0.35 * th, part="mouth")
    elif m == "smile":
        p.line(_curve(cx - mw, cx + mw, my - 0.4 * mh, 1.2 * mh), fill=lip, width=th * 2.2, part="mouth")
        p.line(_curve(cx - mw, cx + mw, my - 0.4 * mh, 1.2 * mh), fill=lip_dark, width=th * 0.4)
    elif m == "open_smile":
        top = _curve(cx - mw * 1.1, cx + mw * 1.1, my - 0.7 * mh, 0.4 * mh)
        bottom = _curve(cx + mw * 1.1, cx - mw * 1.1, my - 0.7 * mh, 2.3 * mh)
        p.polygon(top + bottom, fill=inside, outline=lip, width=1.2 * th, part="mouth")
        p.polygon(top + _curve(cx + mw * 1.0, cx - mw * 1.0, my - 0.65 * mh, 0.9 * mh), fill=teeth)
    elif m == "frown":
        p.line(_curve(cx - mw, cx + mw, my + 0.8 * mh, -1.5 * mh), fill=lip, width=th * 2.2, part="mouth")
        p.line(_curve(cx - mw, cx + mw, my + 0.8 * mh, -1.5 * mh), fill=lip_dark, width=th * 0.4)
    elif m == "o":
        p.ellipse(cx, my + 0.2 * mh, 0.4 * mw, 1.5 * mh, fill=inside, outline=lip, width=1.3 * th, part="mouth")
    elif m == "slightly_open":
        p.ellipse(cx, my, 0.7 * mw, 0.6 * mh, fill=inside, outline=lip, width=th * 0.8, part="mouth")
    elif m == "wide_open":
        p.rect(cx - 0.95 * mw, my - 0.7 * mh, cx + 0.95 * mw, my + 0.9 * mh, fill=inside, outline=lip,
               width=1.2 * th, part="mouth")
        p.rect(cx - 0.85 * mw, my - 0.6 * mh, cx + 0.85 * mw, my - 0.3 * mh, fill=teeth)
        p.rect(cx - 0.85 * mw, my + 0.5 * mh, cx + 0.85 * mw, my + 0.8 * mh, fill=teeth)
    elif m == "clenched":
        p.rect(cx - 0.9 * mw, my - 0.7 * mh, cx + 0.9 * mw, my + 0.7 * mh, fill=teeth, outline=(120, 20, 25),
               width=1.3 * th, part="mouth")
        p.line([(cx - 0.9 * mw, my), (cx + 0.9 * mw, my)], fill=(60, 60, 60), width=0.6 * th)
        for k in range(-2, 3):
            p.line([(cx + k * 0.3 * mw, my - 0.7 * mh), (cx + k * 0.3 * mw, my + 0.7 * mh)],
                   fill=(60, 60, 60), width=0.4 * th)
    elif m == "wavy":
        wave = [(cx + mw * t, my + 0.6 * mh * math.sin(t * 3 * math.pi) - (0.6 * mh if t > 0.3 else 0))
                for t in np.linspace(-1, 1, 16)]
        p.line(wave, fill=lip, width=th * 2.2, part="mouth")
        p.line(wave, fill=lip_dark, width=th * 0.4)
    elif m == "smirk":
        smirk = [(cx - mw, my)] + _curve(cx - 0.1 * mw, cx + mw, my, -0.01) + [(cx + 1.1 * mw, my - 1.4 * mh)]
        p.line(smirk, fill=lip, width=th * 2.0, part="mouth")
        p.line(smirk, fill=lip_dark, width=th * 0.6)
        # the one-sided dimple of contempt (AU14) beside the raised corner
        p.line(_curve(cx + 1.2 * mw, cx + 1.35 * mw, my - 1.6 * mh, 0.01), fill=_shade(s.skin, 0.55), width=th * 0.5,
               part="mouth")
        p.line([(cx + 1.3 * mw, my - 1.5 * mh), (cx + 1.4 * mw, my + 0.2 * mh)], fill=_shade(s.skin, 0.6),
               width=th * 0.45, part="mouth")
    else:
        raise ValueError(f"unknown mouth {m!r}")
    # the mouth corners of each drawn mouth, (x, y) in units of (mw, mh): where a face detector
    # trained on human annotations puts them (MTCNN's mean on generated faces, measured once)
    (lx, ly), (rx, ry) = {
        "line": ((-0.9, 0.26), (0.9, 0.26)), "smile": ((-0.95, -0.2), (0.95, -0.2)),
        "open_smile": ((-0.92, -0.15), (0.92, -0.15)), "frown": ((-0.92, 0.38), (0.92, 0.38)),
        "o": ((-0.57, 0.57), (0.57, 0.57)), "slightly_open": ((-0.7, 0.0), (0.7, 0.0)),
        "wide_open": ((-0.95, 0.1), (0.95, 0.1)), "clenched": ((-0.9, 0.48), (0.9, 0.48)),
        "wavy": ((-0.9, 0.0), (0.79, 0.2)), "smirk": ((-1.0, 0.0), (1.1, -0.35)),
    }[m]
    left, right = (cx + lx * mw, my + ly * mh), (cx + rx * mw, my + ry * mh)

    def along(t: float, dy: float) -> tuple[float, float]:
        u = (t + 1) / 2
        return left[0] + (right[0] - left[0]) * u, left[1] + (right[1] - left[1]) * u + dy

    outer = [left] + [along(t, -0.3 * mh) for t in (-0.6, -0.3, 0, 0.3, 0.6)] + [right] + [
        along(t, 0.4 * mh) for t in (0.6, 0.3, 0, -0.3, -0.6)]
    inner = [along(t, -0.1 * mh) for t in (-0.7, -0.35, 0, 0.35)] + [along(t, 0.1 * mh) for t in (0.7, 0.35, 0, -0.35)]
    pts["mouth"] = outer + inner
    # hat on top
    if s.hat:
        hc = s.hat_color
        p.rect(cx - 0.75 * a, cy - 1.45 * b, cx + 0.75 * a, cy - 0.62 * b, fill=hc, part="hat")
        p.rect(cx - 0.75 * a, cy - 0.82 * b, cx + 0.75 * a, cy - 0.7 * b, fill=_shade(hc, 0.6), part="hat")
        p.ellipse(cx, cy - 0.62 * b, 1.3 * a, 0.1 * b, fill=_shade(hc, 0.8), part="hat")
    return pts


def _background(size: tuple[int, int], spec: FaceSpec) -> Image.Image:
    w, h = size
    t = np.linspace(0, 1, h)[:, None, None]
    top, bottom = np.array(spec.background[0], float), np.array(spec.background[1], float)
    arr = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).astype(np.uint8)
    img = Image.fromarray(arr)
    rng = np.random.default_rng(spec.clutter_seed)
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(0, spec.clutter + 1))):
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.1, 0.5) * w, y0 + rng.uniform(0.1, 0.5) * h
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=color)
    return img.filter(ImageFilter.GaussianBlur(radius=max(1.0, w / 160)))


def _rotate_point(x: float, y: float, cx: float, cy: float, angle_deg: float) -> tuple[float, float]:
    """Where PIL's ``rotate(angle, center=(cx, cy))`` moves (x, y)."""
    t = math.radians(angle_deg)
    dx, dy = x - cx, y - cy
    return cx + dx * math.cos(t) + dy * math.sin(t), cy - dx * math.sin(t) + dy * math.cos(t)


def render(spec: FaceSpec, size: tuple[int, int],
           face_box: tuple[float, float, float, float] | None = None, supersample: int = 2) -> Rendered:
    """Draw ``spec`` on an image of ``size`` = (width, height); see :func:`render_face`."""
    w, h = size
    ss = supersample
    bx, by, bw, bh = face_box if face_box is not None else default_face_box(size)
    a, b = bw / 2 * spec.scale, bh / 2 * spec.scale
    cx = bx + bw / 2 + spec.shift[0] * bw
    cy = by + bh / 2 + spec.shift[1] * bh
    canvas = _background((w, h), spec).resize((w * ss, h * ss), Image.Resampling.BILINEAR)
    regions: dict[str, Box] = {}
    lm5: list[tuple[float, float]] = []
    lm68: list[tuple[float, float]] = []
    head_box = (cx - a, cy - b, 2 * a, 2 * b) if spec.show_face else None
    if spec.show_face:
        layer = Image.new("RGBA", (w * ss, h * ss), (0, 0, 0, 0))
        painter = _Painter(ImageDraw.Draw(layer), ss)
        groups = _draw_face(painter, spec, cx, cy, a, b, h)
        layer = _shade_skin(layer, spec, cx, cy, a, b, ss)
        layer = layer.rotate(spec.angle, resample=Image.Resampling.BILINEAR, center=(cx * ss, cy * ss))
        canvas.paste(layer, (0, 0), layer)

        def rot(pt: tuple[float, float]) -> tuple[float, float]:
            return _rotate_point(pt[0], pt[1], cx, cy, spec.angle)

        for part, (x0, y0, x1, y1) in painter.boxes.items():
            corners = [rot(c) for c in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
            xs, ys = [c[0] for c in corners], [c[1] for c in corners]
            box = (max(0, math.floor(min(xs))), max(0, math.floor(min(ys))),
                   min(w, math.ceil(max(xs)) + 1), min(h, math.ceil(max(ys)) + 1))
            if box[2] > box[0] and box[3] > box[1]:
                regions[part] = box
        if "left_eye" in regions and "right_eye" in regions:
            le, re_ = regions["left_eye"], regions["right_eye"]
            regions["eyes"] = (min(le[0], re_[0]), min(le[1], re_[1]), max(le[2], re_[2]), max(le[3], re_[3]))
        eyes = groups["eyes"]
        mouth = groups["mouth"]
        lm5 = [rot(((eyes[0][0] + eyes[3][0]) / 2, eyes[0][1])), rot(((eyes[6][0] + eyes[9][0]) / 2, eyes[6][1])),
               rot(groups["nose"][3]), rot(mouth[0]), rot(mouth[6])]
        lm68 = [rot(q) for q in groups["jaw"] + groups["brows"] + groups["nose"] + eyes + mouth]
    image = canvas.resize((w, h), Image.Resampling.BOX)
    if spec.blurry:
        image = image.filter(ImageFilter.GaussianBlur(radius=max(1.2, w / 90)))
    arr = np.asarray(image, dtype=np.float32) * spec.brightness
    if spec.noise > 0:
        arr = arr + np.random.default_rng(spec.clutter_seed + 1).normal(0, spec.noise, arr.shape)
    image = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    return Rendered(image=image, regions=regions, landmarks5=lm5, landmarks68=lm68, head_box=head_box)


def render_face(spec: FaceSpec, size: tuple[int, int] = (178, 218),
                face_box: tuple[float, float, float, float] | None = None) -> tuple[Image.Image, dict[str, Box]]:
    """Draw a face; returns the RGB image and the pixel box ``(x0, y0, x1, y1)`` of each drawn part.

    Region keys: ``face``, ``left_eye``, ``right_eye``, ``eyes``, ``brows``, ``nose``,
    ``mouth``, and when drawn ``hair``, ``bangs``, ``glasses``, ``hat``, ``mustache``,
    ``goatee``, ``cheeks``, ``earrings``, ``necktie``. ``face_box`` = (x, y, w, h) of the head;
    by default CelebA's aligned framing.
    """
    out = render(spec, size, face_box)
    return out.image, out.regions
