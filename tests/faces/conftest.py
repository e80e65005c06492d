from __future__ import annotations

import pytest
from PIL import Image

from photos import skimage_photo


@pytest.fixture(scope="session")
def detector():
    from faer_hub.faces.detect import MTCNNDetector

    return MTCNNDetector()


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    return skimage_photo("astronaut")
