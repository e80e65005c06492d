"""Builders on generated data in every layout: splits, features, labels, crops, 7 vs 8 classes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import datasets
import numpy as np
import pytest
import timm
from PIL import Image

import faer_hub  # noqa: F401  (registers the FAER models)
from faer_hub.data import load_dataset, load_task_dataset
from faer_hub.data.load import get_builder
from faer_hub.tasks import AFFECTNET7_LABELS, AFFECTNET8_LABELS, AFFECTNET_VA_LABELS, CELEBA_ATTRIBUTES, RAFDB_LABELS
from faer_hub.data.synthetic.write import LAYOUTS
from faer_hub.tasks import TASKS

LAYOUT_CASES = [(dataset, layout) for dataset, layouts in LAYOUTS.items() for layout in layouts]


def affectnet_codes(root: Path, layout: str, split: str) -> list[int]:
    """Expression codes per annotation row, read independently of the builder."""
    if layout == "official":
        name = "training.csv" if split == "train" else "validation.csv"
        rows = list(csv.reader((root / "Manually_Annotated_file_lists" / name).open()))
        if rows[0][0] == "subDirectory_filePath":
            rows = rows[1:]
        return [int(r[6]) for r in rows]
    if layout == "new":
        folder = root / ("train_set" if split == "train" else "val_set") / "annotations"
        return [int(np.load(p).item()) for p in folder.glob("*_exp.npy")]
    names = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
    folder = root / ("train" if split == "train" else "val")
    return [names.index(p.parent.name) for p in folder.glob("*/*.jpg")]


@pytest.mark.parametrize("dataset,layout", LAYOUT_CASES)
def test_every_layout_loads_with_expected_splits_and_features(synth_root, synth_sizes, cache, dataset, layout):
    root = synth_root(dataset, layout)
    dd = load_dataset(dataset, root, cache_dir=cache)
    assert list(dd) == ["train", "validation", "test"]
    assert isinstance(dd["train"].features["image"], datasets.Image)
    assert dd["train"].features["image_id"] == datasets.Value("string")
    n_train, n_test, n_val = synth_sizes[dataset]
    if dataset == "celeba":
        assert {k: len(v) for k, v in dd.items()} == {"train": n_train, "validation": n_val, "test": n_test}
        attrs = dd["train"].features["attributes"]
        assert attrs.length == 40 and attrs.feature == datasets.Value("int8")
        assert ("identity" in dd["train"].features) == (layout != "kaggle")
        assert "landmarks" in dd["train"].features
        assert set(np.unique(np.array(dd["test"]["attributes"]))) <= {0, 1}
    else:
        label = dd["train"].features["label"]
        assert isinstance(label, datasets.ClassLabel)
        # AffectNet's valence/arousal columns exist exactly where the layout has them
        va = {"valence", "arousal"} if dataset == "affectnet" and layout != "folders" else set()
        assert set(dd["train"].features) == {"image", "image_id", "label", *va}
        for name in va:
            assert dd["train"].features[name] == datasets.Value("float32")
        if dataset == "rafdb":
            expected_train, expected_test = n_train, n_test
        else:
            expected_train = sum(c <= 6 for c in affectnet_codes(root, layout, "train"))
            expected_test = sum(c <= 6 for c in affectnet_codes(root, layout, "test"))
        assert len(dd["train"]) + len(dd["validation"]) == expected_train
        assert len(dd["test"]) == expected_test
    image = dd["test"][0]["image"]
    assert isinstance(image, Image.Image) and image.size[0] > 0


@pytest.mark.parametrize("task_name", list(TASKS))
def test_label_names_equal_the_task_model_label_names(synth_root, cache, task_name):
    task = TASKS[task_name]
    dd = load_task_dataset(task_name, synth_root(task.dataset, "official"), cache_dir=cache)
    model_names = tuple(timm.models.get_pretrained_cfg(task.model_name).label_names)  # what create_model uses
    assert dd["train"].info.homepage == task.data.url  # the builder's homepage is the task table's
    if task.multi_label:
        assert model_names == CELEBA_ATTRIBUTES
        assert " ".join(CELEBA_ATTRIBUTES) in dd["train"].info.description
    elif task.regression:  # the outputs are the dataset's columns of the same names
        assert model_names == task.label_names == AFFECTNET_VA_LABELS
        assert all(dd["train"].features[name] == datasets.Value("float32") for name in model_names)
    else:
        assert tuple(dd["train"].features["label"].names) == model_names == task.label_names


def test_rafdb_ids_1_to_7_map_to_0_to_6(synth_root, cache):
    root = synth_root("rafdb", "official")
    file_ids = dict(
        line.split() for line in (root / "basic/EmoLabel/list_patition_label.txt").read_text().splitlines()
    )
    dd = load_dataset("rafdb", root, cache_dir=cache)
    for split in dd:
        for image_id, label in zip(dd[split]["image_id"], dd[split]["label"]):
            assert label == int(file_ids[image_id]) - 1
    assert dd["train"].features["label"].names == list(RAFDB_LABELS)
    assert all(i.startswith("test_") for i in dd["test"]["image_id"])
    assert all(i.startswith("train_") for i in list(dd["train"]["image_id"]) + list(dd["validation"]["image_id"]))


def test_rafdb_folder_layout_matches_its_csv(synth_root, cache):
    root = synth_root("rafdb", "folders")
    rows = dict(csv.reader((root / "train_labels.csv").open()))
    dd = load_dataset("rafdb", root, cache_dir=cache)
    for image_id, label in zip(dd["train"]["image_id"], dd["train"]["label"]):
        assert label == int(rows[image_id]) - 1


def test_rafdb_original_config_reads_original_images(synth_root, cache):
    root = synth_root("rafdb", "official")
    aligned = load_dataset("rafdb", root, cache_dir=cache)["test"][0]["image"]
    original = load_dataset("rafdb", root, "original", cache_dir=cache)["test"][0]["image"]
    assert aligned.size == (100, 100)
    assert original.size != (100, 100)


def test_rafdb_original_landmarks_are_the_manual_points_that_cut_the_aligned_crop(synth_root, cache):
    """The ``original`` config's landmarks are the files' five points, and ``align_face`` fed them
    cuts the dataset's own aligned image (up to JPEG noise); points a few pixels off do not."""
    from faer_hub.faces.align import align_face

    root = synth_root("rafdb", "official")
    original = load_dataset("rafdb", root, "original", cache_dir=cache)["test"]
    aligned = load_dataset("rafdb", root, cache_dir=cache)["test"]
    assert "landmarks" not in aligned.features
    assert original.features["landmarks"].feature.dtype == "float32"
    manual = root / "basic/Annotation/manual"
    for row, crop in zip(original.select(range(4)), aligned.select(range(4))):
        lines = (manual / row["image_id"].replace(".jpg", "_manu_attri.txt")).read_text().splitlines()[:5]
        expected = [float(v) for line in lines for v in line.split("\t")]
        assert row["landmarks"] == pytest.approx(expected, abs=1e-3)
        points = np.asarray(row["landmarks"]).reshape(5, 2)
        target = np.asarray(crop["image"].convert("RGB"), np.float32)
        for shift, close in ((0.0, True), (4.0, False)):
            cut = np.asarray(align_face(row["image"], points + shift, "rafdb"), np.float32)
            assert (np.abs(cut - target).mean() < 6) == close, (row["image_id"], shift)


def test_celeba_attributes_identity_landmarks_follow_the_files(synth_root, cache):
    root = synth_root("celeba", "official")
    lines = (root / "Anno/list_attr_celeba.txt").read_text().splitlines()[2:]
    attrs = {p[0]: [(int(v) + 1) // 2 for v in p[1:]] for p in (line.split() for line in lines)}
    ids = dict(line.split() for line in (root / "Anno/identity_CelebA.txt").read_text().splitlines())
    partition = dict(line.split() for line in (root / "Eval/list_eval_partition.txt").read_text().splitlines())
    dd = load_dataset("celeba", root, cache_dir=cache)
    for split, code in (("train", "0"), ("validation", "1"), ("test", "2")):
        assert sorted(dd[split]["image_id"]) == sorted(k for k, v in partition.items() if v == code)
        for row in dd[split]:
            assert row["attributes"] == attrs[row["image_id"]]
            assert row["identity"] == int(ids[row["image_id"]])
            assert len(row["landmarks"]) == 10


def test_celeba_layouts_agree(synth_root, cache):
    """The same seed writes the same faces in every layout; all three loads give equal data."""
    loaded = [load_dataset("celeba", synth_root("celeba", layout), cache_dir=cache) for layout in
              ("official", "torchvision", "kaggle")]
    for other in loaded[1:]:
        assert other["test"]["attributes"] == loaded[0]["test"]["attributes"]
        assert other["test"]["image_id"] == loaded[0]["test"]["image_id"]


def test_affectnet_official_crops_the_squared_face_box_clamped_to_the_image(synth_root, cache):
    """The builder cuts what the ``affectnet`` protocol cuts: the CSV box squared about its centre."""
    root = synth_root("affectnet", "official")
    rows = list(csv.reader((root / "Manually_Annotated_file_lists/validation.csv").open()))
    boxes = {r[0]: tuple(int(v) for v in r[1:5]) for r in rows}
    dd = load_dataset("affectnet", root, "8", cache_dir=cache)
    clamped = 0
    for row in dd["test"]:
        x, y, w, h = boxes[row["image_id"]]
        side = max(w, h)
        x, y, w, h = x + (w - side) / 2, y + (h - side) / 2, side, side
        with Image.open(root / "Manually_Annotated_Images" / row["image_id"]) as full:
            full = full.convert("RGB")
            box = (max(0, round(x)), max(0, round(y)), min(full.width, round(x + w)), min(full.height, round(y + h)))
            expected = np.asarray(full.crop(box), dtype=np.float32)
        clamped += box != (round(x), round(y), round(x + w), round(y + h))
        crop = np.asarray(row["image"].convert("RGB"), dtype=np.float32)
        assert crop.shape == expected.shape
        assert np.abs(crop - expected).mean() < 4.0  # only JPEG re-encoding differs
    assert clamped >= 1  # the generated files include boxes past the border


@pytest.mark.parametrize("layout", ["official", "new", "folders"])
def test_affectnet_7_and_8_classes(synth_root, cache, layout):
    root = synth_root("affectnet", layout)
    seven = load_dataset("affectnet", root, "7", cache_dir=cache)
    eight = load_dataset("affectnet", root, "8", cache_dir=cache)
    assert seven["train"].features["label"].names == list(AFFECTNET7_LABELS)
    assert eight["train"].features["label"].names == list(AFFECTNET8_LABELS)
    for split in ("train", "test"):
        codes = Counter(affectnet_codes(root, layout, split))
        labels8 = Counter(eight[split]["label"])
        if split == "train":
            labels8 += Counter(eight["validation"]["label"])
        assert labels8 == Counter({c: n for c, n in codes.items() if c <= 7})
        report = seven.build_report
        assert report.filtered.get(split, {}).get("code 7 (contempt)", 0) == codes[7]
        for code, name in ((8, "none"), (9, "uncertain"), (10, "no-face")):
            assert report.filtered.get(split, {}).get(f"code {code} ({name})", 0) == codes[code]
    assert 7 not in list(seven["train"]["label"]) + list(seven["test"]["label"])


@pytest.mark.parametrize("dataset,layout", LAYOUT_CASES)
def test_row_counts_equal_annotation_rows_minus_reported(synth_root, cache, dataset, layout):
    builder = get_builder(dataset, synth_root(dataset, layout), cache_dir=cache)
    builder.download_and_prepare()
    report = builder.build_report()
    for split, info in builder.info.splits.items():
        assert info.num_examples == report.expected_rows(split) > 0


def test_cache_is_rebuilt_when_the_annotation_file_changes(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    label_file = root / "basic/EmoLabel/list_patition_label.txt"
    first = load_dataset("rafdb", root, cache_dir=cache)
    lines = label_file.read_text().splitlines()
    label_file.write_text("\n".join(lines[:-1]) + "\n")  # drop the last test row
    second = load_dataset("rafdb", root, cache_dir=cache)
    assert len(second["test"]) == len(first["test"]) - 1


@pytest.mark.parametrize("dataset,layout", [("rafdb", "official"), ("celeba", "official"), ("affectnet", "official")])
def test_the_cache_holds_image_bytes_and_outlives_the_download(synth_copy, cache, dataset, layout):
    root = synth_copy(dataset, layout)
    test = load_dataset(dataset, root, cache_dir=cache)["test"]
    stored = test.cast_column("image", datasets.Image(decode=False))
    assert all(im["bytes"] and im["path"] is None for im in stored["image"])
    if dataset != "affectnet":  # plain images: the files' own bytes, decoded later exactly as predict decodes the file
        files = {p.read_bytes() for p in root.rglob("*.jpg")}  # CelebA's aligned and in-the-wild files share names
        assert all(im["bytes"] in files for im in stored["image"])
    pixels = [np.asarray(im) for im in test["image"]]
    import shutil
    shutil.rmtree(root)  # another machine with only the cache
    assert all(np.array_equal(np.asarray(im), p) for im, p in zip(test["image"], pixels))


def test_affectnet_crops_are_stored_with_their_short_side_bounded(synth_root, cache):
    root = synth_root("affectnet", "official")
    native = load_dataset("affectnet", root, "8", cache_dir=cache, crop_short_side=0)["test"]
    bounded = load_dataset("affectnet", root, "8", cache_dir=cache, crop_short_side=20)["test"]
    assert bounded["image_id"] == native["image_id"]
    shrunk = 0
    for small, full in zip(bounded["image"], native["image"]):
        if min(full.size) <= 20:
            assert small.size == full.size
            continue
        shrunk += 1
        assert min(small.size) == 20
        assert abs(small.width / small.height - full.width / full.height) < 0.1  # aspect kept
    assert shrunk >= 1


def test_num_proc_builds_the_same_dataset_and_the_same_report(synth_copy, tmp_path):
    root = synth_copy("rafdb", "official")
    broken = next((root / "basic/Image/aligned").glob("test_*.jpg"))
    broken.write_bytes(b"not a jpeg")
    one = load_dataset("rafdb", root, cache_dir=tmp_path / "one", skip_bad_rows=True)
    two = load_dataset("rafdb", root, cache_dir=tmp_path / "two", skip_bad_rows=True, num_proc=2)
    for split in ("train", "validation", "test"):
        assert two[split]["image_id"] == one[split]["image_id"] and two[split]["label"] == one[split]["label"]
        raw = lambda d: d[split].cast_column("image", datasets.Image(decode=False))["image"]  # noqa: E731
        assert [im["bytes"] for im in raw(two)] == [im["bytes"] for im in raw(one)]
    assert [r.image_id for r in two.build_report.skipped] == [broken.name.replace("_aligned", "")]
    assert two.build_report.summary() == one.build_report.summary()
