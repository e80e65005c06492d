"""faer_hub: FAER (ConvNeXt + Contextual Channel Attention) for facial attributes and expressions.

``import faer_hub`` registers the FAER models with timm::

    import faer_hub, timm
    model = timm.create_model("faer_raf", pretrained=False)
"""

from . import models  # noqa: F401  (registers faer_* with timm)
from .labels import AFFECTNET7_LABELS, AFFECTNET8_LABELS, AFFECTNET_VA_LABELS, CELEBA_ATTRIBUTES, RAFDB_LABELS
from .models import FAER, ContextualChannelAttention, FAERWeightsNotFoundError
from .tasks import TASKS, Task, get_task

__version__ = "0.1.0"

__all__ = [
    "AFFECTNET7_LABELS", "AFFECTNET8_LABELS", "AFFECTNET_VA_LABELS", "CELEBA_ATTRIBUTES", "RAFDB_LABELS",
    "FAER", "ContextualChannelAttention", "FAERWeightsNotFoundError",
    "TASKS", "Task", "get_task", "__version__",
]
