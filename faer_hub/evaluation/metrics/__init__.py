"""Metrics as Hugging Face ``evaluate`` modules shipped inside the package.

They load from the package folder, never from the Hub::

    from faer_hub.evaluation.metrics import load_metric
    fer = load_metric("fer_accuracy")      # accuracy, per-class, balanced, macro F1, confusion
    fae = load_metric("fae_accuracy")      # mean + per-attribute accuracy
    va = load_metric("va_regression")      # CCC, PCC, RMSE, SAGR per dimension (valence, arousal)
"""

from __future__ import annotations

from pathlib import Path

import evaluate

__all__ = ["METRICS_DIR", "METRIC_NAMES", "load_metric"]

METRICS_DIR = Path(__file__).resolve().parent
METRIC_NAMES = ("fer_accuracy", "fae_accuracy", "va_regression")


def load_metric(name: str) -> evaluate.EvaluationModule:
    """Load a packaged metric by name from its local folder (no network access).

    ``evaluate.load`` on an absolute folder path takes its local-script branch; it copies the
    script into the ``evaluate`` modules cache and imports it, without contacting the Hub.
    """
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; packaged metrics: {', '.join(METRIC_NAMES)}")
    return evaluate.load(str(METRICS_DIR / name), keep_in_memory=True)

