"""Transforms from the model config, collation, the balanced sampler, the DataLoader and the carve."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import timm
import torch
from PIL import Image

import faer_hub  # noqa: F401
from faer_hub.data import load_dataset
from faer_hub.data.load import stratified_split_indices
from faer_hub.data.transforms import (
    balanced_sampler,
    build_dataloader,
    build_transform,
    collate,
    resolve_data_config,
)


@pytest.fixture(scope="module")
def model():
    return timm.create_model("faer_atto", num_classes=7)


def test_data_config_comes_from_the_model(model):
    config = resolve_data_config(model, image_size=64)
    assert config["input_size"] == (3, 64, 64)
    assert config["mean"] == model.pretrained_cfg["mean"] and config["std"] == model.pretrained_cfg["std"]
    assert resolve_data_config(model)["input_size"] == model.pretrained_cfg["input_size"]


def test_eval_transform_resizes_whole_image_and_normalises(model):
    config = resolve_data_config(model, image_size=32)
    transform = build_transform(config, training=False)
    image = Image.new("RGB", (178, 218), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 178, 12))  # a black band at the top must survive (no centre crop)
    out = transform(image)
    assert out.shape == (3, 32, 32)
    mean, std = torch.tensor(config["mean"]), torch.tensor(config["std"])
    assert torch.allclose(out[:, -1, -1], (1 - mean) / std, atol=1e-3)
    assert torch.allclose(out[:, 0, 0], (0 - mean) / std, atol=1e-3)


def test_training_transform_flips_horizontally_at_random(model):
    transform = build_transform(resolve_data_config(model, image_size=16), training=True)
    image = Image.new("RGB", (16, 16), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 8, 16))  # left half black
    torch.manual_seed(0)
    outputs = [transform(image) for _ in range(20)]
    left_dark = [bool(out[0, 8, 0] < out[0, 8, 15]) for out in outputs]
    assert 0 < sum(left_dark) < 20  # both orientations occur


def test_training_augment_uses_timms_pipeline(model):
    config = resolve_data_config(model, image_size=32)
    transform = build_transform(config, training=True, augment=dict(scale=(0.5, 1.0), color_jitter=0.3))
    assert "RandomResizedCrop" in repr(transform)
    assert transform(Image.new("RGB", (50, 60))).shape == (3, 32, 32)


def test_collate_types():
    fer = collate([{"pixel_values": torch.zeros(3, 4, 4), "labels": 3}] * 2)
    assert fer["labels"].dtype == torch.long and fer["labels"].shape == (2,)
    fae = collate({"pixel_values": [torch.zeros(3, 4, 4)] * 2, "labels": [[0, 1] * 20] * 2})
    assert fae["labels"].dtype == torch.float32 and fae["labels"].shape == (2, 40)
    assert fae["pixel_values"].shape == (2, 3, 4, 4)


def test_balanced_sampler_evens_out_classes():
    labels = [0] * 90 + [1] * 10
    sampler = balanced_sampler(labels, num_samples=4000, seed=1)
    assert torch.allclose(sampler.weights[:1] * 90, sampler.weights[-1:] * 10)
    counts = Counter(labels[i] for i in sampler)
    assert 0.45 < counts[1] / 4000 < 0.55
    assert list(balanced_sampler(labels, seed=3)) == list(balanced_sampler(labels, seed=3))
    assert sampler.replacement


def test_dataloaders_for_fer_and_celeba(synth_root, cache, model):
    raf = load_dataset("rafdb", synth_root("rafdb", "official"), cache_dir=cache)
    loader = build_dataloader(raf["train"], model, training=True, batch_size=8, image_size=32, seed=5)
    batches = list(loader)
    assert sum(len(b["labels"]) for b in batches) == len(raf["train"])
    assert batches[0]["pixel_values"].shape == (8, 3, 32, 32) and batches[0]["labels"].dtype == torch.long
    again = list(build_dataloader(raf["train"], model, training=True, batch_size=8, image_size=32, seed=5))
    assert all(torch.equal(a["labels"], b["labels"]) for a, b in zip(batches, again))
    evaluation = list(build_dataloader(raf["test"], model, training=False, batch_size=5, image_size=32))
    assert torch.cat([b["labels"] for b in evaluation]).tolist() == list(raf["test"]["label"])

    celeba = load_dataset("celeba", synth_root("celeba", "official"), cache_dir=cache)
    batch = next(iter(build_dataloader(celeba["test"], model, training=False, batch_size=4, image_size=32)))
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (4, 40)
    assert batch["labels"].tolist() == [[float(v) for v in row] for row in celeba["test"]["attributes"][:4]]
    with pytest.raises(ValueError, match="balanced"):
        build_dataloader(celeba["train"], model, training=True, batch_size=4, balanced=True)


@pytest.mark.slow
def test_dataloader_with_worker_processes(synth_root, cache, model):
    raf = load_dataset("rafdb", synth_root("rafdb", "official"), cache_dir=cache)
    loader = build_dataloader(raf["train"], model, training=True, batch_size=6, num_workers=2,
                              balanced=True, image_size=32)
    labels = torch.cat([b["labels"] for b in loader])
    assert len(labels) == len(raf["train"]) and set(labels.tolist()) <= set(range(7))


def test_validation_carve_is_seeded_stratified_and_disjoint(synth_root, cache):
    root = synth_root("rafdb", "official")
    a = load_dataset("rafdb", root, cache_dir=cache, validation_size=0.25, seed=1)
    b = load_dataset("rafdb", root, cache_dir=cache, validation_size=0.25, seed=1)
    c = load_dataset("rafdb", root, cache_dir=cache, validation_size=0.25, seed=2)
    assert list(a["validation"]["image_id"]) == list(b["validation"]["image_id"])
    assert list(a["validation"]["image_id"]) != list(c["validation"]["image_id"])
    val, train, test = (set(a[s]["image_id"]) for s in ("validation", "train", "test"))
    assert not val & train and not val & test and len(val | train) == 28
    per_class = Counter(a["validation"]["label"])
    assert per_class == Counter({k: 1 for k in range(7)})  # 4 per class * 0.25


def test_stratified_split_indices_proportions():
    labels = np.array([0] * 100 + [1] * 40 + [2] * 3)
    keep, held = stratified_split_indices(labels, 0.1, seed=0)
    assert Counter(labels[held].tolist()) == Counter({0: 10, 1: 4, 2: 1})
    assert sorted(np.concatenate([keep, held]).tolist()) == list(range(len(labels)))
    with pytest.raises(ValueError):
        stratified_split_indices(labels, 1.0, seed=0)


def test_batched_loader_equals_the_per_image_transform(synth_root, cache, model):
    celeba = load_dataset("celeba", synth_root("celeba", "official"), cache_dir=cache)
    config = resolve_data_config(model, image_size=48)
    batch = next(iter(build_dataloader(celeba["test"], config, training=False, batch_size=4)))
    per_image = build_transform(config, training=False)
    expected = torch.stack([per_image(celeba["test"][i]["image"].convert("RGB")) for i in range(4)])
    assert torch.allclose(batch["pixel_values"], expected, atol=1e-5)
