"""Measuring models: the evaluation loop (:mod:`.loop`, shared by training and the CLI), the
``faer-hub evaluate`` report (:mod:`.report`) and the packaged ``evaluate`` metrics (:mod:`.metrics`).
"""

from .loop import evaluate_model
from .report import evaluate_source

__all__ = ["evaluate_model", "evaluate_source"]
