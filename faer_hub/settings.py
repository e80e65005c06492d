"""Package-wide settings that users may want to point elsewhere."""

from __future__ import annotations

import os

HUB_NAMESPACE: str = os.environ.get("FAER_HUB_NAMESPACE", "faer-hub")
"""Hugging Face Hub organisation (or user) holding published FAER weights.

The ``hf_hub_id`` of every pretrained config is ``f"{HUB_NAMESPACE}/{model}.{tag}"``. Set the
environment variable ``FAER_HUB_NAMESPACE`` before ``import faer_hub`` to use your own
organisation, or override one call with ``pretrained_cfg_overlay=dict(hf_hub_id="org/repo")``.
"""

PUBLISHED_WEIGHTS: frozenset[str] = frozenset()
"""Hub repos that actually hold trained FAER weights. Empty: none are published yet."""
