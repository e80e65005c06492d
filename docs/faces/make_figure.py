"""Draw docs/faces/crops.png: a packaged photo, its detected box and landmarks, and each protocol's crop.

    python docs/faces/make_figure.py            # needs scikit-image (the photo ships in its wheel)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

import faer_hub

OUT = Path(__file__).with_name("crops.png")
HEIGHT = 224
LANDMARK_COLOURS = [(255, 60, 60), (60, 200, 60), (70, 130, 255), (255, 200, 0), (230, 60, 230)]


def main() -> None:
    photo = faer_hub.read_image(Image.fromarray(data.astronaut()))
    (face,) = faer_hub.detect_faces(photo)
    scale = HEIGHT / photo.height
    shown = photo.resize((round(photo.width * scale), HEIGHT), Image.Resampling.LANCZOS)
    ImageDraw.Draw(shown).rectangle([v * scale for v in (face.box[0], face.box[1], face.box[0] + face.box[2],
                                                          face.box[1] + face.box[3])], outline=(255, 255, 255))
    # a zoom on the face, 2.4 box sides wide, with the box and the five landmarks
    x, y, w, h = face.box
    side = 2.4 * max(w, h)
    left = min(max(0.0, x + w / 2 - side / 2), photo.width - side)
    top = min(max(0.0, y + h / 2 - side / 2), photo.height - side)
    zoom_scale = HEIGHT / side
    zoom = photo.resize((HEIGHT, HEIGHT), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side))
    draw = ImageDraw.Draw(zoom)

    def z(px: float, py: float) -> tuple[float, float]:
        return (px - left) * zoom_scale, (py - top) * zoom_scale

    draw.rectangle([*z(x, y), *z(x + w, y + h)], outline=(255, 255, 255), width=2)
    dots = [z(px, py) for px, py in face.landmarks]  # drawn after quantising, so their colours survive
    panels = [("photo", shown), ("detected box + 5 landmarks", zoom)]
    for name in ("celeba", "rafdb", "affectnet"):
        crop = faer_hub.align_face(photo, face, name)
        crop = crop.resize((round(crop.width * (HEIGHT - 40) / crop.height), HEIGHT - 40), Image.Resampling.LANCZOS)
        panels.append((f"{name} {faer_hub.faces.PROTOCOLS[name].size or 'box'}".replace(" None", ""), crop))
    gap = 8
    width = sum(p.width for _, p in panels) + gap * (len(panels) + 1)
    canvas = Image.new("RGB", (width, HEIGHT + 2 * gap + 16), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    left = gap
    offsets = []
    for title, panel in panels:
        offsets.append((left, gap + 16 + (HEIGHT - panel.height) // 2))
        canvas.paste(panel, offsets[-1])
        draw.text((left, gap), title, fill=(0, 0, 0))
        left += panel.width + gap
    out = canvas.quantize(256 - len(LANDMARK_COLOURS) - 1, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette = out.getpalette()[: 3 * (256 - len(LANDMARK_COLOURS) - 1)]
    first = len(palette) // 3
    out.putpalette(palette + [0, 0, 0] + [c for colour in LANDMARK_COLOURS for c in colour])
    pen = ImageDraw.Draw(out)
    ox, oy = offsets[1]
    for k, (cx, cy) in enumerate(dots):
        pen.ellipse([ox + cx - 4, oy + cy - 4, ox + cx + 4, oy + cy + 4], fill=first + 1 + k, outline=first)
    out.save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB); face box {np.round(face.box, 1).tolist()}", file=sys.stderr)


if __name__ == "__main__":
    main()
