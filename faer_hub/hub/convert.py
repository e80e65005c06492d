"""Convert checkpoints of the authors' training code into FAER export folders."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
from typing import Optional, Union

import timm
import torch
from safetensors import safe_open

from ..errors import CHECKPOINT_LOAD_ERRORS, checkpoint_problem
from ..tasks import get_task
from .export import save_export


def convert_checkpoint(
    checkpoint: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    task: str,
    model_name: Optional[str] = None,
    overwrite: bool = False,
    allow_missing_weights: bool = False,
) -> Path:
    """Load ``checkpoint`` into a FAER model for ``task`` and write it as an export folder.

    Accepts the authors' layout (official ConvNeXt keys plus ``attention.*``, optionally wrapped
    in ``{'state_dict': ...}`` and prefixed with ``module.``) and FAER's own timm layout. Pickle
    files are read with ``weights_only=True``. A checkpoint without CC Attention weights (a plain
    ConvNeXt) is refused, since its export would hold that layer at random initialisation; with
    ``allow_missing_weights`` it is exported with a warning. ``output_dir`` follows
    :func:`faer_hub.io.check_destination` (``overwrite`` replaces an earlier export).
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    spec = get_task(task)
    try:
        if not _has_attention_weights(checkpoint):
            message = (f"{checkpoint} holds no CC Attention weights (no 'cca.*' or the authors' 'attention.*' keys): "
                       "a plain ConvNeXt checkpoint, not a trained FAER")
            if not allow_missing_weights:
                raise ValueError(f"{message}. Pass a FAER checkpoint, or --allow-missing-weights "
                                 "(allow_missing_weights=True) to export it with CC Attention at random initialisation")
            warnings.warn(f"{message}; its export keeps CC Attention at random initialisation", stacklevel=2)
        model = timm.create_model(
            model_name or spec.model_name,
            pretrained=True,
            num_classes=spec.num_classes,
            pretrained_cfg_overlay=dict(file=str(checkpoint), num_classes=spec.num_classes,
                                        label_names=spec.label_names),
        )
    except CHECKPOINT_LOAD_ERRORS as err:
        raise ValueError(f"{checkpoint} is not a loadable FAER or ConvNeXt checkpoint: {checkpoint_problem(err)}. "
                         "Pass the .pth/.pt/.safetensors file the training code saved.") from None
    return save_export(model.eval(), output_dir, task=spec, overwrite=overwrite)


def _has_attention_weights(checkpoint: Path) -> bool:
    """Whether ``checkpoint`` holds CC Attention weights under FAER's or the authors' names."""
    if checkpoint.suffix == ".safetensors":
        with safe_open(str(checkpoint), framework="pt") as f:
            keys = list(f.keys())
    else:
        state = torch.load(checkpoint, map_location="cpu", weights_only=True,
                           mmap=zipfile.is_zipfile(checkpoint))  # torch.save's format: mapped, not read twice
        for wrapper in ("state_dict", "model"):
            if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                state = state[wrapper]
        keys = list(state) if isinstance(state, dict) else []
    names = {str(k).removeprefix("module.") for k in keys}
    return any(name.startswith(("cca.", "attention.")) for name in names)

