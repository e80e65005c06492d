"""The Hugging Face Hub side: export folders (:mod:`.export`), loading a model from a timm name, an
``hf-hub:`` repo or an export folder (:mod:`.sources`), converting the authors' checkpoints
(:mod:`.convert`), model cards (:mod:`.cards` and ``templates/``, the paper's recipes in
:mod:`.paper_recipes`), publishing (:mod:`.publish`) and demo Space folders (:mod:`.space`).

>>> from faer_hub.hub import save_export, push_export
>>> save_export(model, "runs/raf/export", task="rafdb")          # doctest: +SKIP
>>> push_export("runs/raf/export", "me/faer-raf")                # doctest: +SKIP
"""

from .cards import RunFacts
from .convert import convert_checkpoint
from .export import ExportError, export_problems, export_state_dict, read_export_config, save_export
from .publish import ExportFolderError, HubUploadError, check_export_folder, push_dataset, push_export
from .sources import create_model_from_source, resolve_source

__all__ = [
    "ExportError", "ExportFolderError", "HubUploadError", "RunFacts", "check_export_folder", "convert_checkpoint",
    "create_model_from_source", "export_problems", "export_state_dict", "push_dataset", "push_export",
    "read_export_config", "resolve_source", "save_export",
]
