"""Real photos that ship inside installed wheels (scikit-image, scikit-learn, Matplotlib): no downloads."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

FACE_PHOTOS = ("astronaut", "camera")
"""scikit-image photos with one person each (Eileen Collins; the cameraman)."""
SCENES = ("coffee", "rocket", "chelsea", "brick", "grass", "gravel", "hubble_deep_field", "coins", "clock",
          "immunohistochemistry", "cell", "moon")
"""scikit-image photos without a human face: a cup, a launch, a cat, a wall, grass, gravel, galaxies,
coins, a clock, stained tissue, a microscope cell, the Moon."""


def skimage_photo(name: str) -> Image.Image:
    """A photo bundled in scikit-image's wheel, as RGB."""
    data = pytest.importorskip("skimage.data")
    return Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB")


def sklearn_photos() -> dict[str, Image.Image]:
    """scikit-learn's two bundled sample photos (a temple, a flower): no faces."""
    from sklearn.datasets import load_sample_images

    bunch = load_sample_images()
    return {name: Image.fromarray(img) for name, img in zip(bunch.filenames, bunch.images)}


def grace_hopper() -> Image.Image:
    """Matplotlib's bundled portrait of Grace Hopper (600 x 512, one face filling a third of it)."""
    cbook = pytest.importorskip("matplotlib.cbook")
    with cbook.get_sample_data("grace_hopper.jpg") as fp:
        return Image.open(fp).convert("RGB")
