"""faer_hub.io.read_image: the one decoder, every mode, EXIF, clear errors naming the file."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from faer_hub.io import ImageReadError, read_image, to_rgb


def _noise(size=(80, 96), mode="RGB", seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def test_every_mode_becomes_8_bit_rgb(tmp_path):
    _noise(mode="L").save(tmp_path / "gray.png")
    _noise(mode="RGBA").save(tmp_path / "rgba.png")
    _noise(mode="CMYK").save(tmp_path / "cmyk.jpg")
    _noise(mode="P").save(tmp_path / "palette.gif")
    _noise(mode="1").save(tmp_path / "bw.png")
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(tmp_path / "deep16.png")
    for name in ("gray.png", "rgba.png", "cmyk.jpg", "palette.gif", "bw.png", "deep16.png"):
        assert read_image(tmp_path / name).mode == "RGB", name
    deep = np.asarray(read_image(tmp_path / "deep16.png"))
    # 16-bit values are rescaled, not clipped to 255 (which would make most of the image white)
    assert deep.min() == 0 and deep.max() > 200 and (deep == 255).mean() < 0.05


def test_transparency_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([10, 20, 30] * 256)
    palette.save(tmp_path / "clear.png", transparency=0)
    assert read_image(tmp_path / "clear.png").getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied_for_paths_bytes_and_opened_images(tmp_path):
    img = Image.new("RGB", (60, 30), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    data = (tmp_path / "rot.jpg").read_bytes()
    with Image.open(tmp_path / "rot.jpg") as opened:
        opened.load()
        from_pil = read_image(opened)
    for source in (tmp_path / "rot.jpg", str(tmp_path / "rot.jpg"), data, {"bytes": data, "path": None}):
        assert read_image(source).size == (30, 60)
    assert from_pil.size == (30, 60)
    assert read_image(read_image(data)).size == (30, 60)  # idempotent


def test_same_pixels_from_every_source(tmp_path):
    _noise(mode="RGBA").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    arrays = [np.asarray(read_image(s)) for s in (tmp_path / "a.png", data, {"bytes": None, "path": str(tmp_path / "a.png")},
                                                  Image.open(io.BytesIO(data)))]
    assert all(np.array_equal(arrays[0], a) for a in arrays[1:])


def test_errors_name_the_file_and_the_problem(tmp_path):
    (tmp_path / "fake.jpg").write_text("this is not a jpeg")
    _noise().save(tmp_path / "rgb.jpg")
    data = (tmp_path / "rgb.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError, match=r"fake\.jpg: not an image") as err:
        read_image(tmp_path / "fake.jpg")
    assert err.value.path == str(tmp_path / "fake.jpg") and err.value.reason.startswith("not an image")
    with pytest.raises(ImageReadError, match=r"missing\.png: file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match=r"rgb\.jpg: image too large"):
        read_image(tmp_path / "rgb.jpg", max_pixels=100)
    with pytest.raises(ImageReadError, match=r"truncated\.jpg: unreadable image"):
        read_image(tmp_path / "truncated.jpg")
    with pytest.raises(ImageReadError, match="folder holds no image files"):
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match="<bytes>: not an image"):
        read_image(b"nope")
