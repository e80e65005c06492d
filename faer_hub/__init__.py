"""faer_hub: FAER (ConvNeXt + Contextual Channel Attention) for facial attributes and expressions.

``import faer_hub`` registers the FAER models with timm::

    import faer_hub, timm
    model = timm.create_model("faer_raf", pretrained=False)

``faer_hub.read_image(path)``, ``faer_hub.detect_faces(image)`` and ``faer_hub.align_face(image,
face, protocol)`` give the face crop a model expects (``model.pretrained_cfg["face_crop"]``) for your own pipelines.
"""

from . import models  # noqa: F401  (registers faer_* with timm)
from .faces import align_face, detect_faces
from .io import read_image
from .labels import AFFECTNET7_LABELS, AFFECTNET8_LABELS, AFFECTNET_VA_LABELS, CELEBA_ATTRIBUTES, RAFDB_LABELS
from .models import FAER, ContextualChannelAttention, FAERWeightsNotFoundError
from .tasks import TASKS, Task, get_task

__version__ = "0.1.0"

__all__ = [
    "AFFECTNET7_LABELS", "AFFECTNET8_LABELS", "AFFECTNET_VA_LABELS", "CELEBA_ATTRIBUTES", "RAFDB_LABELS",
    "FAER", "ContextualChannelAttention", "FAERWeightsNotFoundError",
    "TASKS", "Task", "get_task", "__version__", "align_face", "detect_faces", "read_image",
]
