"""Grad-CAM at CC Attention: on generated faces, a model that learned "hat" looks at the hat.

A tiny FAER is trained for a few dozen steps on generated faces in which the only difference
between classes is a hat drawn by the generator (glasses appear at random as a distractor).
Grad-CAM at the default layer (``model.cca``) must then peak inside the generator's hat box for
most test faces (at least 9 of 16; the seeded run here gets 11). The box covers under a quarter
of the image, so 9 chance hits are improbable (p < 0.01), and the same network before training
must score clearly lower (it gets 0-5 of 16 for different initialisations).
"""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F

import faer_hub  # noqa: F401
from faer_hub.data.synthetic.render import random_face_spec, render_face
from faer_hub.viz.gradcam import _transforms, cam_grid, compute_cams, get_layer, save_overlays, target_index

SIZE = 96

pytestmark = pytest.mark.slow  # trains a tiny model for 40 steps (about 30 s on 2 CPU cores)


def _faces(n: int, seed: int):
    rng = np.random.default_rng(seed)
    images, labels, regions = [], [], []
    for i in range(n):
        spec = random_face_spec(
            rng, hat=bool(i % 2), glasses=bool((i // 2) % 2), hair="brown", hat_color=(40, 60, 140),
            background=((120, 120, 120), (120, 120, 120)), skin=(220, 180, 150), angle=0.0, scale=1.0,
            jitter=(1.0,) * 6, brightness=1.0, noise=2.0, bangs=False, mustache=False, goatee=False,
            earrings=False, necktie=False, blurry=False, lipstick=False, rosy_cheeks=False, bushy_brows=False,
            expression="neutral", light=0.0, clutter=0,
        )
        image, boxes = render_face(spec, size=(SIZE, SIZE))
        images.append(image)
        labels.append([float(spec.hat)])
        regions.append(boxes)
    return images, torch.tensor(labels), regions


def _untrained_model():
    torch.manual_seed(0)
    return timm.create_model(
        "faer_atto", num_classes=1, depths=(1, 1, 1, 1), dims=(16, 32, 64, 128), output_stride=16,
        pretrained_cfg_overlay=dict(input_size=(3, SIZE, SIZE), label_names=["Wearing_Hat"]),
    )


@pytest.fixture(scope="module")
def hat_model():
    import timm.data

    model = _untrained_model()
    images, labels, _ = _faces(64, seed=0)
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))
    x = torch.stack([transform(im) for im in images])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(40):
        idx = torch.randint(0, len(x), (32,), generator=generator)
        loss = F.binary_cross_entropy_with_logits(model(x[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def _hat_hits(model, images, labels, regions) -> int:
    with_hat = [i for i in range(len(images)) if labels[i, 0] == 1]
    results = compute_cams(model, [images[i] for i in with_hat], targets="Wearing_Hat", multi_label=True)
    hits = 0
    for i, result in zip(with_hat, results):
        x0, y0, x1, y1 = regions[i]["hat"]
        assert (x1 - x0) * (y1 - y0) < 0.25 * SIZE * SIZE
        assert result.layer == "cca" and result.cam.shape == (SIZE, SIZE)
        px, py = result.peak()
        hits += x0 <= px < x1 and y0 <= py < y1
    return hits


def test_cam_peak_falls_on_the_drawn_hat(hat_model):
    images, labels, regions = _faces(32, seed=1)
    normalise, _ = _transforms(hat_model)
    with torch.no_grad():
        scores = torch.sigmoid(hat_model(torch.stack([normalise(im) for im in images])))[:, 0]
    assert ((scores > 0.5).float() == labels[:, 0]).float().mean() >= 0.9  # it did learn "hat"
    trained = _hat_hits(hat_model, images, labels, regions)
    untrained = _hat_hits(_untrained_model().eval(), images, labels, regions)
    assert trained >= 9, f"Grad-CAM peak on the hat in only {trained}/16 faces"
    assert trained >= untrained + 4, f"training did not move the map onto the hat ({untrained} -> {trained})"


def test_targets_layers_and_errors(hat_model):
    images, _, _ = _faces(2, seed=2)
    assert target_index(hat_model, "wearing_hat") == 0 and target_index(hat_model, 0) == 0
    with pytest.raises(ValueError, match="Wearing_Hat"):
        target_index(hat_model, "Smiling")
    with pytest.raises(ValueError, match="out of range"):
        target_index(hat_model, 3)
    with pytest.raises(ValueError, match="no layer 'stages.9'"):
        get_layer(hat_model, "stages.9")
    (res,) = compute_cams(hat_model, images[:1], layer="stages.2")  # any layer by dotted name
    assert res.layer == "stages.2" and 0.0 <= res.cam.min() and res.cam.max() <= 1.0


def test_overlays_and_grid(hat_model, tmp_path):
    images, _, _ = _faces(3, seed=3)
    results = compute_cams(hat_model, images, targets=None)  # predicted class
    paths = save_overlays(results, tmp_path / "cams", ["a", "b", "c"])
    assert [p.name for p in paths] == ["a.png", "b.png", "c.png"]
    other = compute_cams(hat_model, images, layer="stages.3")
    fig = cam_grid({"FAER @ cca": results, "FAER @ stages.3": other}, column_titles=["1", "2", "3"],
                   path=tmp_path / "grid.png")
    assert len(fig.axes) == 9 and (tmp_path / "grid.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="one result per column"):
        cam_grid({"x": results, "y": other[:2]})


def test_cam_report_explains_the_aligned_face(raf_export, tmp_path):
    from photos import skimage_photo

    from faer_hub.viz.gradcam import cam_report, face_crops

    skimage_photo("astronaut").save(tmp_path / "portrait.png")
    model = timm.create_model(f"local-dir:{raf_export}", pretrained=True)
    (crop,) = face_crops(model, [tmp_path / "portrait.png"])
    assert crop.size == (100, 100)  # the RAF-DB protocol named in the export's config.json
    grid = cam_report([str(raf_export)], [tmp_path / "portrait.png"], tmp_path / "cams")
    overlays = sorted(p.name for p in (tmp_path / "cams").glob("portrait__*.png"))
    assert grid.is_file() and len(overlays) == 1
    # the overlay explains the aligned face, exactly as compute_cams does on the crop itself
    (direct,) = compute_cams(model, [crop])
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(tmp_path / "cams" / overlays[0])), direct.overlay)


def test_inputs_sharing_a_file_name_get_an_overlay_each(raf_export, tmp_path):
    """a/face.png and b/face.png: two overlays, each the explanation of its own picture."""
    from PIL import Image

    from faer_hub.io import output_name
    from faer_hub.viz.gradcam import cam_report

    rng = np.random.default_rng(0)
    faces = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        faces.append(tmp_path / folder / "face.png")
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(faces[-1])
    cam_report([str(raf_export)], faces, tmp_path / "cams", detect_faces=False)
    overlays = sorted(p.name for p in (tmp_path / "cams").glob("face*.png"))
    assert overlays == sorted(f"{output_name(str(face), None, '')}__" + str(raf_export).replace("/", "_") + ".png"
                              for face in faces)
    a, b = (np.asarray(Image.open(tmp_path / "cams" / name)) for name in overlays)
    assert not np.array_equal(a, b)


def test_a_layer_without_a_feature_map_is_named(raf_export):
    model = timm.create_model(f"local-dir:{raf_export}", pretrained=True)
    (face,), _, _ = _faces(1, seed=0)
    with pytest.raises(ValueError, match=r"layer 'head.fc' gives outputs of shape \[1, 7\], not a feature map"):
        compute_cams(model, [face], layer="head.fc")
