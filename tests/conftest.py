"""Shared fixtures. Helpers importable by tests live beside this file (tests/ is on the path)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    path = tmp_path / "hf_cache"
    path.mkdir()
    return path
