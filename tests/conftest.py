"""Shared fixtures. Helpers importable by tests live beside this file (tests/ is on the path)."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_INPUT = dict(pretrained_cfg_overlay=dict(input_size=(3, 64, 64)))
"""Overlay that makes a model's data config 64 px, so evaluation and prediction tests stay fast."""


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
