"""Packaged evaluate module (loaded from this folder by faer_hub.evaluation.metrics.load_metric)."""
