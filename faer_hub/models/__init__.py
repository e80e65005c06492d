"""FAER models. They register with timm when timm is imported (see ``faer_hub._timm_registration``);
the names below load :mod:`.faer` on first use, so ``faer_hub.models.zoo`` costs no torch import."""

from .._lazy import lazy_exports

_EXPORTS = {
    "ContextualChannelAttention": "cca", "FAER": "faer", "FAERWeightsNotFoundError": "faer",
    "checkpoint_filter_fn": "faer", "hub_repo_id": "faer",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
