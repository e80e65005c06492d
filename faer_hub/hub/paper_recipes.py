"""The paper's training recipes as the committed zoo cards describe them (data, no logic).

Each entry is the part of ``training/configs/<task>.yaml`` that a card tells (the same keys as a
run's resolved configuration, :class:`faer_hub.hub.cards.RunFacts`), so ``faer_hub.hub`` never
reads the training package or its files. ``tests/hub/test_cards.py`` checks every value against
the recipe file. The recipe: Xu et al. 2024, section 3.2 (the paper does not address valence and
arousal; that recipe keeps the expression one with a regression loss).
"""

from __future__ import annotations

from typing import Any


def _recipe(*, lr: float, epochs: int, balanced_sampling: bool = False, select_metric: str | None = None) -> dict:
    return {
        "model": {"name": "faer_base", "pretrained": True, "img_size": 224},
        "data": {"hflip": 0.5, "balanced_sampling": balanced_sampling},
        "optim": {"optimizer": "adamw", "lr": lr, "scheduler": "exponential", "gamma": 0.95},
        "loss": {"focal_gamma": 2.0, "center_weight": 0.01, "mse_weight": 1.0},
        "train": {"epochs": epochs, "global_batch_size": 256},
        "eval": {"select_metric": select_metric},
    }


PAPER_RECIPES: dict[str, dict[str, Any]] = {
    "celeba": _recipe(lr=1e-3, epochs=60),
    "rafdb": _recipe(lr=2.5e-4, epochs=120),
    "affectnet7": _recipe(lr=2.5e-4, epochs=60, balanced_sampling=True),
    "affectnet8": _recipe(lr=2.5e-4, epochs=60, balanced_sampling=True),
    "affectnet_va": _recipe(lr=2.5e-4, epochs=60, select_metric="ccc"),
}
"""Task name -> the recipe's configuration facts (section -> key -> value)."""


def paper_recipe_file(task: str) -> str:
    """Where the recipe lives in a checkout of faer_hub (``training/configs/<task>.yaml``)."""
    return f"training/configs/{task}.yaml"
