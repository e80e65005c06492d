"""Export a FAER model to ONNX with a dynamic batch dimension, checked against onnxruntime.

The graph takes ``pixel_values`` ``(batch, 3, H, W)`` (normalised as in the model's
``pretrained_cfg``) and returns ``logits`` ``(batch, num_classes)``. Label names and
preprocessing are stored in the ONNX metadata (``faer_hub.*`` keys) so a runtime needs
nothing else.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..hub.export import face_crop_config
from ..io import atomic_path
from ..tasks import Task, kind_of_model, label_names_of_model

INPUT_NAME = "pixel_values"
OUTPUT_NAME = "logits"


@dataclass
class OnnxExportResult:
    path: Path
    max_abs_diff: float
    """Largest |PyTorch - onnxruntime| over the check batch."""
    check_batch_size: int


def export_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike,
    *,
    input_size: tuple[int, int, int] | None = None,
    opset: int | None = 17,
    check_batch_size: int = 3,
    atol: float = 1e-4,
    seed: int = 0,
    overwrite: bool = False,
) -> OnnxExportResult:
    """Write ``model`` as ONNX at ``path`` and verify it with onnxruntime.

    The export traces with batch 2; the check runs a *different* batch size on random input, so
    it also proves the batch dimension is dynamic. Raises ``AssertionError`` (and leaves no file)
    when outputs differ by more than ``atol``. An existing ``path`` is replaced (atomically) only
    when it is an earlier ONNX export of faer_hub and ``overwrite`` is set (:func:`check_onnx_output`).
    """
    check_onnx_output(path, overwrite=overwrite)
    try:
        import onnx
        from timm.utils.onnx import onnx_export
    except ImportError as err:  # pragma: no cover - declared extra
        raise ImportError("ONNX export needs: pip install 'faer_hub[onnx]'") from err

    model = model.eval().cpu()
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    input_size = tuple(input_size or cfg.get("input_size", (3, 224, 224)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with warnings.catch_warnings():  # timm uses the TorchScript exporter (no onnxscript needed)
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx.*")
            onnx_export(
                model, str(tmp), batch_size=2, input_size=input_size, opset=opset, check=True,
                input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            )
        proto = onnx.load(str(tmp))
        onnx.helper.set_model_props(proto, _metadata(model, input_size))
        onnx.save(proto, str(tmp))
        diff = check_onnx_parity(model, tmp, input_size=input_size, batch_size=check_batch_size, seed=seed)
        if not diff <= atol:
            raise AssertionError(
                f"ONNX output differs from PyTorch by {diff:.3g} (> {atol:g}) at batch size {check_batch_size}"
            )
    return OnnxExportResult(path=path, max_abs_diff=diff, check_batch_size=check_batch_size)


def check_onnx_parity(
    model: torch.nn.Module,
    onnx_path: str | os.PathLike,
    *,
    input_size: tuple[int, int, int],
    batch_size: int = 3,
    seed: int = 0,
) -> float:
    """Max absolute difference between PyTorch and onnxruntime outputs on random input."""
    import onnxruntime as ort

    x = torch.randn((batch_size, *input_size), generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = model.eval()(x).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
    if got.shape != expected.shape:
        raise AssertionError(f"ONNX output shape {got.shape} != PyTorch {expected.shape}")
    return float(np.abs(got - expected).max())


def check_onnx_output(path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Refuse an existing ``path`` unless it is an ONNX export of faer_hub (its ``faer_hub.*``
    metadata) and ``overwrite`` is set: anything else is someone's file, left as it is."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name ending in .onnx")
    if not path.exists():
        return
    if not _is_faer_onnx(path):
        raise FileExistsError(f"{path} exists and is not an ONNX export of faer_hub; it is left as it is: "
                              "choose another file name")
    if not overwrite:
        raise FileExistsError(f"{path} holds an earlier ONNX export; pass --overwrite (overwrite=True in "
                              "Python) to replace it, or choose another file name")


def _is_faer_onnx(path: Path) -> bool:
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  (not ONNX at all: a protobuf decode error of any kind)
        return False
    return any(prop.key.startswith("faer_hub.") for prop in proto.metadata_props)


def _metadata(model: torch.nn.Module, input_size: tuple[int, ...]) -> dict[str, str]:
    from ..models.faer import FACE_CROP_MODE

    cfg = getattr(model, "pretrained_cfg", {}) or {}
    return {
        "faer_hub.architecture": str(cfg.get("architecture", type(model).__name__)),
        "faer_hub.label_names": json.dumps(label_names_of_model(model)),
        "faer_hub.multi_label": json.dumps(kind_of_model(model).multi_label),
        "faer_hub.problem_type": kind_of_model(model).problem_type,  # regression: values, not logits
        "faer_hub.input_size": json.dumps(list(input_size)),
        "faer_hub.mean": json.dumps(list(cfg.get("mean", (0.485, 0.456, 0.406)))),
        "faer_hub.std": json.dumps(list(cfg.get("std", (0.229, 0.224, 0.225)))),
        "faer_hub.interpolation": str(cfg.get("interpolation", "bilinear")),
        "faer_hub.crop_mode": FACE_CROP_MODE,  # timm's name: the face crop stretched to input_size, not cropped
        # the face crop to feed it (faer_hub.align_face(image, face, <this>)); null: the detected box
        "faer_hub.face_crop": json.dumps(face_crop_config(model, Task.from_model(model))),
    }
