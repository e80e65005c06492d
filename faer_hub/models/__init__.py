"""FAER models; importing this module registers them with timm."""

from .cca import ContextualChannelAttention
from .faer import FAER, FAERWeightsNotFoundError, checkpoint_filter_fn, hub_repo_id

__all__ = ["ContextualChannelAttention", "FAER", "FAERWeightsNotFoundError", "checkpoint_filter_fn", "hub_repo_id"]
