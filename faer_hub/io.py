"""Reading files the package touches.

:func:`read_image` is *the* image decoder: dataset builders, training and evaluation loaders,
``faer-hub predict``, Grad-CAM and the demo all turn bytes into model pixels through it, so the
same file gives the same pixels everywhere (EXIF orientation applied; palette, grey, 16-bit,
CMYK and alpha converted one way).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "ImageReadError", "ImageSource", "read_image", "to_rgb"]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
DEFAULT_MAX_PIXELS = 80_000_000
"""Images with more pixels than this are refused (decompression-bomb guard)."""

ImageSource = Union[str, os.PathLike, bytes, Image.Image, dict]
"""A path, encoded bytes, a Pillow image, or a Hugging Face ``{"bytes", "path"}`` image dict."""

_EXIF_ORIENTATION = 0x0112


class ImageReadError(ValueError):
    """An input is not a usable image; the message names the file and says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def read_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``source`` to an 8-bit RGB image with its EXIF orientation applied.

    ``source`` is a file path, encoded bytes, an already opened Pillow image (as Hugging Face
    ``datasets`` yields them) or a ``{"bytes": ..., "path": ...}`` dict. Raises
    :class:`ImageReadError` naming the file for anything that is not a readable image.
    """
    if isinstance(source, Image.Image):
        return to_rgb(_oriented(source))
    if isinstance(source, dict):
        data, name = source.get("bytes"), source.get("path")
        source = data if data is not None else name
        if source is None:
            raise ImageReadError("<record>", "image record holds neither bytes nor a path")
        label = str(name or "<bytes>")
    else:
        label = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    if isinstance(source, (bytes, bytearray)):
        return _decode(io.BytesIO(source), label, max_pixels)
    path = Path(source)
    if path.is_dir():
        raise ImageReadError(label, f"folder holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    if not path.is_file():
        raise ImageReadError(label, ("file not found" if not path.exists() else "not a regular file"))
    return _decode(path, label, max_pixels)


def _decode(fp: Any, label: str, max_pixels: int) -> Image.Image:
    try:
        with Image.open(fp) as img:
            if img.width * img.height > max_pixels:
                raise ImageReadError(
                    label, f"image too large: {img.width}x{img.height} = {img.width * img.height:,} pixels "
                    f"(limit {max_pixels:,}; raise --max-pixels if you trust the file)"
                )
            img.load()
            return to_rgb(_oriented(img))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(label, "not an image (unrecognised format); pass a JPEG, PNG, WebP... file") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(label, f"image too large: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(label, f"unreadable image ({err}); re-save or re-download it") from None


def _oriented(img: Image.Image) -> Image.Image:
    """``img`` turned upright by its EXIF orientation tag (unchanged when it has none)."""
    orientation = img.getexif().get(_EXIF_ORIENTATION)
    if orientation in (None, 1):
        return img
    return ImageOps.exif_transpose(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (1, L, P, LA, RGBA, CMYK, I;16, I, F ...) to 8-bit RGB.

    Transparent pixels are composited on white; 16/32-bit grayscale is rescaled, not clipped.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            peak = 1.0
        arr = np.clip(arr / peak * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
