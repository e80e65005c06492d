"""ONNX export: dynamic batch, parity with PyTorch within 1e-4, metadata, no half-written files."""

from __future__ import annotations

import json

import pytest
import timm
import torch

import faer_hub  # noqa: F401
from faer_hub.inference.onnx_export import check_onnx_parity, export_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = timm.create_model("faer_atto.rafdb", pretrained_cfg_overlay=dict(input_size=(3, 64, 64))).eval()
    # non-trivial CC Attention / head weights so parity is not checked on near-constant outputs
    with torch.no_grad():
        for p in m.cca.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_onnx(model, tmp_path_factory.mktemp("onnx") / "faer.onnx", check_batch_size=3)


def test_export_dynamic_batch_and_parity(model, exported):
    result = exported
    assert result.path.is_file() and result.max_abs_diff <= 1e-4
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    batch_dim = session.get_inputs()[0].shape[0]
    assert isinstance(batch_dim, str)  # symbolic, i.e. dynamic
    for n in (1, 5):
        x = torch.randn(n, 3, 64, 64)
        (out,) = session.run(None, {"pixel_values": x.numpy()})
        with torch.inference_mode():
            ref = model(x).numpy()
        assert out.shape == (n, 7) and abs(out - ref).max() <= 1e-4
    meta = {p.key: p.value for p in onnx.load(str(result.path)).metadata_props}
    assert json.loads(meta["faer_hub.label_names"])[0] == "surprise"
    assert json.loads(meta["faer_hub.face_crop"]) == "rafdb"
    assert json.loads(meta["faer_hub.input_size"]) == [3, 64, 64]
    assert meta["faer_hub.crop_mode"] == "squash"  # the face crop stretched to input_size, as in training
    assert json.loads(meta["faer_hub.multi_label"]) is False
    assert meta["faer_hub.problem_type"] == "single_label_classification"
    assert not list(result.path.parent.glob(".*.tmp"))


def test_parity_check_detects_a_different_model(exported):
    path = exported.path
    other = timm.create_model("faer_atto.rafdb", pretrained_cfg_overlay=dict(input_size=(3, 64, 64))).eval()
    with torch.no_grad():
        other.head.fc.bias.add_(1.0)
    assert check_onnx_parity(other, path, input_size=(3, 64, 64)) > 0.5
