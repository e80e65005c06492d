from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def detector():
    """MTCNN at its default settings, as ``faer-hub predict`` builds it."""
    from faer_hub.faces.detect import MTCNNDetector

    return MTCNNDetector()
