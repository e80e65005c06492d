"""Shared fixtures. Helpers that tests import by name live in helpers.py beside this file."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import SMALL_INPUT


@pytest.fixture
def hf_cache(tmp_path: Path) -> Path:
    path = tmp_path / "hf_cache"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def raf_export(tmp_path_factory) -> Path:
    """A read-only export folder of an untrained faer_atto for RAF-DB with a 64 px data config."""
    import timm
    import torch

    from faer_hub.hub.export import save_export

    torch.manual_seed(0)
    model = timm.create_model("faer_atto.rafdb", **SMALL_INPUT)
    return save_export(model, tmp_path_factory.mktemp("exports") / "raf", task="rafdb")
