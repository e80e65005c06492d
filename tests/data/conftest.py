"""Generated datasets in every supported layout, written once per session."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from faer_hub.data.synthetic.write import write_synthetic

SIZES = {
    # dataset: (num_train, num_test, num_val)
    "celeba": (12, 6, 5),
    "rafdb": (28, 14, None),
    "affectnet": (36, 18, None),
}


@pytest.fixture(scope="session")
def synth_sizes() -> dict[str, tuple[int, int, int | None]]:
    """(num_train, num_test, num_val) that :func:`synth_root` generated per dataset."""
    return SIZES


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """``synth_root(dataset, layout)``: a generated dataset (read-only, shared by the session)."""
    base = tmp_path_factory.mktemp("synth")
    made: dict[tuple[str, str], Path] = {}

    def get(dataset: str, layout: str) -> Path:
        if (dataset, layout) not in made:
            n_train, n_test, n_val = SIZES[dataset]
            made[dataset, layout] = write_synthetic(
                dataset, base / f"{dataset}_{layout}", layout=layout, num_train=n_train,
                num_test=n_test, num_val=n_val, seed=0, image_size=(64, 64) if dataset == "affectnet" else None,
            )
        return made[dataset, layout]

    return get


@pytest.fixture
def synth_copy(synth_root: Callable[[str, str], Path], tmp_path: Path) -> Callable[[str, str], Path]:
    """``synth_copy(dataset, layout)``: a private copy of a generated dataset, free to damage."""

    def get(dataset: str, layout: str) -> Path:
        dest = tmp_path / f"{dataset}_{layout}"
        shutil.copytree(synth_root(dataset, layout), dest)
        return dest

    return get


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    """A private Hugging Face datasets cache (never the user's home)."""
    path = tmp_path / "hf_cache"
    path.mkdir()
    return path
