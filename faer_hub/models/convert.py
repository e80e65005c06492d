"""Convert checkpoints of the authors' training code into FAER export folders."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Optional, Union

import timm
from safetensors import SafetensorError

from ..errors import one_line
from ..hub.export import save_export
from ..tasks import get_task


def convert_checkpoint(
    checkpoint: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    task: str,
    model_name: Optional[str] = None,
) -> Path:
    """Load ``checkpoint`` into a FAER model for ``task`` and write it as an export folder.

    Accepts the authors' layout (official ConvNeXt keys plus ``attention.*``, optionally wrapped
    in ``{'state_dict': ...}`` and prefixed with ``module.``) and FAER's own timm layout. Pickle
    files are read with ``weights_only=True``.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    spec = get_task(task)
    try:
        model = timm.create_model(
            model_name or spec.model_name,
            pretrained=True,
            num_classes=spec.num_classes,
            pretrained_cfg_overlay=dict(file=str(checkpoint), num_classes=spec.num_classes,
                                        label_names=spec.label_names),
        )
    except (pickle.UnpicklingError, SafetensorError, EOFError, RuntimeError, IndexError, KeyError,
            zipfile.BadZipFile) as err:
        if isinstance(err, pickle.UnpicklingError) or "weights_only" in str(err):
            reason = "it holds Python objects beyond tensors, which weights_only loading refuses to run"
        else:
            reason = one_line(err, limit=300)
        raise ValueError(f"{checkpoint} is not a loadable FAER or ConvNeXt checkpoint: {reason}. "
                         "Pass the .pth/.pt/.safetensors file the training code saved.") from None
    return save_export(model.eval(), output_dir, task=spec)
