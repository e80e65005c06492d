"""The valence/arousal task after training: export (timm local-dir: and transformers), predict,
evaluate with its figure, Grad-CAM. Outputs are values clipped to [-1, 1], never probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest
import timm
import torch
from PIL import Image

import faer_hub
from faer_hub.hub.export import read_export_config, save_export

from helpers import SMALL_INPUT


@pytest.fixture(scope="module")
def va_model():
    torch.manual_seed(0)
    return timm.create_model("faer_atto.affectnet_va", **SMALL_INPUT).eval()


@pytest.fixture(scope="module")
def va_export(va_model, tmp_path_factory):
    return save_export(va_model, tmp_path_factory.mktemp("export") / "va", task="affectnet_va")


@pytest.fixture(scope="module")
def fixed_export(tmp_path_factory):
    """An export whose outputs are (3.0, -0.2) for every image: clipping and softmax would differ."""
    model = timm.create_model("faer_atto.affectnet_va", **SMALL_INPUT).eval()
    with torch.no_grad():
        model.head.fc.weight.zero_()
        model.head.fc.bias.copy_(torch.tensor([3.0, -0.2]))
    return save_export(model, tmp_path_factory.mktemp("export") / "fixed", task="affectnet_va")


def test_export_declares_regression_and_reloads_with_identical_outputs(va_model, va_export):
    config = read_export_config(va_export)
    assert config["problem_type"] == "regression" and config["faer_task"] == "affectnet_va"
    assert config["label_names"] == ["valence", "arousal"] == list(faer_hub.AFFECTNET_VA_LABELS)
    loaded = timm.create_model(f"local-dir:{va_export}", pretrained=True).eval()
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), va_model(x), rtol=0, atol=0)


@pytest.mark.slow  # imports transformers
def test_transformers_loads_the_regression_export_with_identical_outputs(va_model, va_export):
    transformers = pytest.importorskip("transformers")
    hf_model = transformers.AutoModelForImageClassification.from_pretrained(va_export).eval()
    assert hf_model.config.problem_type == "regression"
    assert hf_model.config.id2label == {0: "valence", 1: "arousal"}
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(hf_model(pixel_values=x).logits, va_model(x), rtol=0, atol=0)

    # the pipeline the card shows: raw values, no softmax, equal to timm's on the same image
    from faer_hub.inference.predict import Predictor

    image = Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    out = transformers.pipeline("image-classification", model=str(va_export))(image, top_k=2)
    ours = Predictor(va_model).classify([image])[0]  # clipped; an untrained head stays well inside [-1, 1]
    assert {r["label"]: r["score"] for r in out} == pytest.approx(dict(zip(["valence", "arousal"], ours.tolist())),
                                                                  abs=1e-5)


def test_predict_reports_clipped_values_not_probabilities(fixed_export, tmp_path):
    from faer_hub.inference.predict import Predictor, write_report

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 60, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    predictor = Predictor(f"local-dir:{fixed_export}", top_k=5, detect_faces=False)  # noise has no face
    (p,) = predictor.predict([tmp_path]).predictions
    assert p.values == pytest.approx({"valence": 1.0, "arousal": -0.2})  # 3.0 clipped to the scale's end
    assert [label for label, _ in p.top_k] == ["valence", "arousal"] and p.probabilities == {}
    record = p.to_dict()
    assert "positive" not in record and record["values"] == {"valence": 1.0, "arousal": -0.2}
    assert "probabilities" not in record  # values instead of probabilities, as the README says
    out = __import__("io").StringIO()
    write_report(predictor.predict([tmp_path]), "table", out)
    assert "valence 1.00, arousal -0.20" in out.getvalue()


def test_evaluate_writes_va_metrics_and_the_scatter_figure(fixed_export, tmp_path, capsys):
    from faer_hub.cli import main
    from faer_hub.data.synthetic.write import write_synthetic

    data = write_synthetic("affectnet", tmp_path / "data", layout="new", num_train=16, num_test=12, image_size=64)
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(fixed_export), "--data-dir", str(data), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "affectnet_va" and metrics["num_samples"] == 12
    assert "predictions" not in metrics and metrics["pcc_valence"] is None  # a constant prediction
    refs = np.array([[float(np.load(data / "val_set/annotations" / f"{i}_{s}.npy").item()) for s in ("val", "aro")]
                     for i in range(12)])
    assert metrics["rmse_arousal"] == pytest.approx(np.sqrt(((refs[:, 1] + 0.2) ** 2).mean()), abs=1e-6)
    assert metrics["sagr_valence"] == pytest.approx((refs[:, 0] > 0).mean())
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "va_scatter.png"]
    with Image.open(out / "va_scatter.png") as figure:
        assert figure.width > 2 * figure.height  # the plane and one panel per dimension
    assert f"ccc {metrics['ccc']:.4f} on 12 images (test)" in capsys.readouterr().out


def test_grad_cam_of_a_valence_output(va_model):
    pytest.importorskip("pytorch_grad_cam")
    from faer_hub.viz.gradcam import compute_cams

    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8))
    (result,) = compute_cams(va_model, [image], targets="valence")
    assert result.target_label == "valence" and result.cam.shape == (64, 64)
    with torch.no_grad():
        from faer_hub.viz.gradcam import _transforms

        expected = va_model(_transforms(va_model)[0](image)[None])[0, 0].clamp(-1, 1).item()
    assert result.score == pytest.approx(expected, abs=1e-5)
