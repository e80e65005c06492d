"""faer_hub: FAER (ConvNeXt + Contextual Channel Attention) for facial attributes and expressions.

``import faer_hub`` registers the FAER models with timm::

    import faer_hub, timm
    model = timm.create_model("faer_raf", pretrained=False)

``faer_hub.analyze(photo_or_folder_or_array, model=export)`` answers for every face in one call
(``faer_hub.Analyzer(export)`` loads the model once for many calls). ``faer_hub.read_image(path)``, ``faer_hub.detect_faces(image)`` and ``faer_hub.align_face(image,
face, protocol)`` give the face crop a model expects (``model.pretrained_cfg["face_crop"]``) for your own pipelines.

The package imports nothing heavy itself (the names below load on first use, and the models
register the moment timm is imported), so ``faer-hub --help`` answers at once.
"""

from __future__ import annotations

from ._lazy import lazy_exports
from ._timm_registration import register_with_timm

__version__ = "0.1.0"

register_with_timm()

_EXPORTS = {
    "AFFECTNET7_LABELS": "tasks", "AFFECTNET8_LABELS": "tasks", "AFFECTNET_VA_LABELS": "tasks",
    "CELEBA_ATTRIBUTES": "tasks", "RAFDB_LABELS": "tasks", "TASKS": "tasks", "Task": "tasks", "get_task": "tasks",
    "FAER": "models", "ContextualChannelAttention": "models", "FAERWeightsNotFoundError": "models",
    "align_face": "faces", "detect_faces": "faces", "read_image": "io",
    "analyze": "inference.predict", "Analyzer": "inference.predict",
}
__all__ = [*_EXPORTS, "__version__"]
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
