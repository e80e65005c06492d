"""Packaged evaluate module (loaded from this folder by faer_hub.metrics.load_metric)."""
