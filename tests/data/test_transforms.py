"""Transforms from the model config, the one loader (collation, flips, class weights) and the carve."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from torchvision import transforms as T

import faer_hub  # noqa: F401
from helpers import rafdb_split
from faer_hub.data import load_dataset
from faer_hub.data.load import stratified_split_indices
from faer_hub.data.loader import RandomSimilarity, SplitImages, build_dataloader, class_balanced_weights, collate
from faer_hub.data.transforms import BatchNormalizer, build_transform, resolve_data_config
from faer_hub.training.data import build_train_loader


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
    transform = build_transform(config)
    image = Image.new("RGB", (178, 218), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 178, 12))  # a black band at the top must survive (no centre crop)
    out = transform(image)
    assert out.shape == (3, 32, 32)
    mean, std = torch.tensor(config["mean"]), torch.tensor(config["std"])
    assert torch.allclose(out[:, -1, -1], (1 - mean) / std, atol=1e-3)
    assert torch.allclose(out[:, 0, 0], (0 - mean) / std, atol=1e-3)


def test_timms_own_transform_from_the_models_config_resizes_as_faer_hub_does(model):
    """The README's and the cards' ``timm.data.create_transform(**resolve_data_config(...))``
    stretches a non-square face crop as training and prediction do (no centre crop)."""
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8))
    config = timm.data.resolve_data_config({}, model=model)
    assert config["crop_mode"] == "squash"
    torch.testing.assert_close(timm.data.create_transform(**config)(image), build_transform(config)(image),
                               rtol=0, atol=0)


def _labelled(labels, images=None):
    return rafdb_split(images or [Image.new("RGB", (8, 8))] * len(labels), labels)


def test_the_flip_is_drawn_by_each_examples_seed_and_leaves_global_rng_alone(model):
    image = Image.new("RGB", (16, 16), (255, 255, 255))
    image.paste((0, 0, 0), (0, 0, 8, 16))  # left half black
    config = resolve_data_config(model, image_size=16)
    resize = build_transform(config, normalize=False)
    dataset = SplitImages(_labelled([3], [image]), resize, hflip=0.5)
    torch_state = torch.get_rng_state()
    first = [dataset[(0, seed)]["pixel_values"] for seed in range(20)]
    assert torch.equal(torch.get_rng_state(), torch_state)
    again = dataset.__getitems__([(0, seed) for seed in range(20)])
    assert all(torch.equal(a, b["pixel_values"]) for a, b in zip(first, again))
    left_dark = [bool(out[0, 8, 0] < out[0, 8, 15]) for out in first]
    assert 0 < sum(left_dark) < 20  # both orientations occur

    def random_horizontal_flip(seed):  # how training drew its flips before the loaders were merged
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return resize(T.RandomHorizontalFlip(0.5)(image))

    assert all(torch.equal(out, random_horizontal_flip(seed)) for seed, out in enumerate(first))
    assert dataset[(0, 0)]["labels"] == 3
    with pytest.raises(ValueError, match="seed"):
        dataset[0]
    with pytest.raises(ValueError, match="sampler"):
        build_dataloader(_labelled([3]), config, batch_size=1, hflip=0.5)


def test_the_jitter_moves_each_crop_by_its_own_seed_within_its_bounds(model):
    image = Image.new("RGB", (40, 40), (0, 0, 0))
    image.paste((255, 255, 255), (16, 16, 24, 24))  # a white square in the centre
    resize = build_transform(resolve_data_config(model, image_size=40), normalize=False)
    jitter = RandomSimilarity(degrees=0.0, translate=0.1, scale=0.0)
    dataset = SplitImages(_labelled([3], [image]), resize, jitter=jitter)

    def centre(pixels):
        ys, xs = torch.nonzero(pixels[0] > 127, as_tuple=True)
        return xs.float().mean().item(), ys.float().mean().item()

    torch_state = torch.get_rng_state()
    centres = [centre(dataset[(0, seed)]["pixel_values"]) for seed in range(30)]
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert centres == [centre(dataset[(0, seed)]["pixel_values"]) for seed in range(30)]  # the seed decides
    shifts = np.array(centres) - 19.5
    assert np.abs(shifts).max() <= 4.0 + 0.5 and len({tuple(c) for c in centres}) > 5  # up to 10 % of 40 px
    spread = RandomSimilarity(degrees=10.0, scale=0.2)(image, torch.Generator().manual_seed(1))
    assert spread.size == image.size and np.asarray(spread).any()
    assert not RandomSimilarity() and SplitImages(_labelled([3], [image]), resize, jitter=RandomSimilarity()).jitter is None
    with pytest.raises(ValueError, match="sampler"):
        build_dataloader(_labelled([3]), resolve_data_config(model, image_size=16), batch_size=1, jitter=jitter)


def test_collate_types():
    fer = collate([{"pixel_values": torch.zeros(3, 4, 4, dtype=torch.uint8), "labels": 3}] * 2)
    assert fer["labels"].dtype == torch.long and fer["labels"].shape == (2,)
    assert fer["pixel_values"].dtype == torch.uint8 and fer["pixel_values"].shape == (2, 3, 4, 4)
    fae = collate([{"pixel_values": torch.zeros(3, 4, 4), "labels": [0, 1] * 20}] * 2)
    assert fae["labels"].dtype == torch.float32 and fae["labels"].shape == (2, 40)
    va = collate([{"pixel_values": torch.zeros(3, 4, 4), "labels": np.array([0.5, -0.25], np.float32)}] * 3)
    assert va["labels"].dtype == torch.float32 and va["labels"].tolist() == [[0.5, -0.25]] * 3


def test_class_balanced_weights_are_one_over_the_class_count_and_drive_training_sampling(model):
    labels = [0] * 90 + [1] * 10
    split = _labelled(labels)
    weights = class_balanced_weights(split)
    assert weights.dtype == torch.float64 and len(weights) == 100
    assert weights[0].item() == pytest.approx(1 / 90) and weights[-1].item() == pytest.approx(1 / 10)
    assert weights.sum().item() == pytest.approx(2.0)  # each present class weighs 1 in all
    _, sampler = build_train_loader(split, resolve_data_config(model, image_size=8), batch_size=10, seed=0,
                                    balanced=True)
    assert torch.equal(sampler.weights, weights)  # training samples with exactly these weights
    counts = Counter(labels[i] for epoch in range(10) for i, _ in (sampler.set_epoch(epoch) or sampler))
    assert 0.4 < counts[1] / 1000 < 0.6
    _, plain = build_train_loader(split, resolve_data_config(model, image_size=8), batch_size=10, seed=0)
    assert plain.weights is None


def test_loaders_for_fer_and_celeba(synth_root, cache, model):
    raf = load_dataset("rafdb", synth_root("rafdb", "official"), cache_dir=cache)
    config = resolve_data_config(model, image_size=32)
    loader, sampler = build_train_loader(raf["train"], config, batch_size=8, seed=5)
    batches = list(loader)
    assert sum(len(b["labels"]) for b in batches) == len(raf["train"]) // 8 * 8  # drop_last
    assert batches[0]["pixel_values"].shape == (8, 3, 32, 32) and batches[0]["pixel_values"].dtype == torch.uint8
    assert batches[0]["labels"].dtype == torch.long
    again, _ = build_train_loader(raf["train"], config, batch_size=8, seed=5)
    assert all(torch.equal(a["pixel_values"], b["pixel_values"]) and torch.equal(a["labels"], b["labels"])
               for a, b in zip(batches, again))
    evaluation = list(build_dataloader(raf["test"], config, batch_size=5))
    assert torch.cat([b["labels"] for b in evaluation]).tolist() == list(raf["test"]["label"])

    celeba = load_dataset("celeba", synth_root("celeba", "official"), cache_dir=cache)
    batch = next(iter(build_dataloader(celeba["test"], config, batch_size=4)))
    assert batch["labels"].dtype == torch.float32 and batch["labels"].shape == (4, 40)
    assert batch["labels"].tolist() == [[float(v) for v in row] for row in celeba["test"]["attributes"][:4]]
    with pytest.raises(ValueError, match="balanced"):
        build_train_loader(celeba["train"], config, batch_size=4, seed=0, balanced=True)


@pytest.mark.slow
def test_loader_with_worker_processes(synth_root, cache, model):
    raf = load_dataset("rafdb", synth_root("rafdb", "official"), cache_dir=cache)
    config = resolve_data_config(model, image_size=32)
    loader, _ = build_train_loader(raf["train"], config, batch_size=6, num_workers=2, seed=0, balanced=True)
    labels = torch.cat([b["labels"] for b in loader])
    assert len(labels) == len(raf["train"]) // 6 * 6 and set(labels.tolist()) <= set(range(7))
    single, _ = build_train_loader(raf["train"], config, batch_size=6, seed=0, balanced=True)
    assert all(torch.equal(a["pixel_values"], b["pixel_values"]) for a, b in zip(loader, single))


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


def test_normalised_loader_batches_equal_the_per_image_transform(synth_root, cache, model):
    celeba = load_dataset("celeba", synth_root("celeba", "official"), cache_dir=cache)
    config = resolve_data_config(model, image_size=48)
    batch = next(iter(build_dataloader(celeba["test"], config, batch_size=4)))
    per_image = build_transform(config)
    expected = torch.stack([per_image(celeba["test"][i]["image"].convert("RGB")) for i in range(4)])
    assert torch.equal(BatchNormalizer(config)(batch["pixel_values"]), expected)
