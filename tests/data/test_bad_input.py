"""Bad input gives a message naming the path / line / value; skip_bad_rows counts what it drops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from faer_hub.data import AnnotationError, DatasetNotFoundError, load_dataset
from faer_hub.tasks import TASKS

RAF_LABELS = "basic/EmoLabel/list_patition_label.txt"


def edit_line(path: Path, number: int, new: str) -> str:
    """Replace 1-based line ``number`` of ``path``; returns the old line."""
    lines = path.read_bytes().decode().split("\n")
    old, lines[number - 1] = lines[number - 1], new
    path.write_bytes("\n".join(lines).encode())
    return old


@pytest.mark.parametrize("dataset,task", [("celeba", "celeba"), ("rafdb", "rafdb"), ("affectnet", "affectnet7")])
def test_missing_folder_names_the_path_and_download_page(tmp_path, cache, dataset, task):
    missing = tmp_path / "nowhere"
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(dataset, missing, cache_dir=cache)
    assert str(missing) in str(err.value) and TASKS[task].data.url in str(err.value)


@pytest.mark.parametrize("dataset,expected", [
    ("celeba", ["Img/img_align_celeba", "Anno/list_attr_celeba.txt", "Eval/list_eval_partition.txt",
                "list_attr_celeba.csv"]),
    ("rafdb", ["EmoLabel/list_patition_label.txt", "Image/aligned"]),
    ("affectnet", ["Manually_Annotated_file_lists/training.csv", "train_set/annotations"]),
])
def test_empty_folder_lists_expected_layouts(tmp_path, cache, dataset, expected):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(dataset, tmp_path, cache_dir=cache)
    message = str(err.value)
    for path in expected:
        assert str(tmp_path / path) in message or path in message
    assert "http" in message


def test_missing_annotation_file_is_named(synth_copy, cache):
    root = synth_copy("celeba", "official")
    (root / "Eval/list_eval_partition.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(root / "Eval/list_eval_partition.txt"))):
        load_dataset("celeba", root, cache_dir=cache)


def test_affectnet_missing_validation_csv_is_named(synth_copy, cache):
    root = synth_copy("affectnet", "official")
    target = root / "Manually_Annotated_file_lists/validation.csv"
    target.unlink()
    with pytest.raises(DatasetNotFoundError, match=re.escape(str(target))):
        load_dataset("affectnet", root, cache_dir=cache)


def test_malformed_line_names_file_and_line(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    edit_line(root / RAF_LABELS, 3, "this line is garbage")
    with pytest.raises(AnnotationError, match=r"list_patition_label\.txt:3\b"):
        load_dataset("rafdb", root, cache_dir=cache)


@pytest.mark.parametrize("damage, message", [
    (lambda text: text.replace("\t", " ; ", 1), r"test_0002_manu_attri\.txt:1: expected a landmark 'x<TAB>y'"),
    (lambda text: "\n".join(text.splitlines()[:3]), r"test_0002_manu_attri\.txt: expected 5 landmark lines, got 3"),
    (None, r"test_0002_manu_attri\.txt is missing"),
])
def test_rafdb_bad_manual_landmarks_name_the_file(synth_copy, cache, damage, message):
    root = synth_copy("rafdb", "official")
    manual = root / "basic/Annotation/manual/test_0002_manu_attri.txt"
    if damage is None:
        manual.unlink()
    else:
        manual.write_text(damage(manual.read_text()))
    with pytest.raises(AnnotationError, match=message):
        load_dataset("rafdb", root, "original", cache_dir=cache)
    load_dataset("rafdb", root, cache_dir=cache)  # the aligned config does not read them


def test_label_out_of_range_names_the_value(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    old = edit_line(root / RAF_LABELS, 5, "")
    edit_line(root / RAF_LABELS, 5, old.split()[0] + " 9")
    with pytest.raises(AnnotationError, match=r"list_patition_label\.txt:5: label '9'"):
        load_dataset("rafdb", root, cache_dir=cache)


def test_affectnet_code_out_of_range_names_the_value(synth_copy, cache):
    root = synth_copy("affectnet", "official")
    csv_path = root / "Manually_Annotated_file_lists/training.csv"
    old = edit_line(csv_path, 2, "")
    fields = old.split(",")
    fields[6] = "12"
    edit_line(csv_path, 2, ",".join(fields))
    with pytest.raises(AnnotationError, match=r"training\.csv:2: expression code '12'"):
        load_dataset("affectnet", root, cache_dir=cache)


def test_celeba_attribute_value_outside_minus_one_one(synth_copy, cache):
    root = synth_copy("celeba", "official")
    path = root / "Anno/list_attr_celeba.txt"
    old = edit_line(path, 4, "")
    edit_line(path, 4, old.replace("-1", " 0", 1))
    with pytest.raises(AnnotationError, match=r"list_attr_celeba\.txt:4: value 0 of"):
        load_dataset("celeba", root, cache_dir=cache)


def test_missing_image_names_the_file(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    image = root / "basic/Image/aligned/test_0002_aligned.jpg"
    image.unlink()
    with pytest.raises(AnnotationError, match=re.escape(f"image file not found: {image}")):
        load_dataset("rafdb", root, cache_dir=cache)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_unreadable_image_names_the_file(synth_copy, cache, damage):
    root = synth_copy("celeba", "official")
    image = root / "Img/img_align_celeba/000003.jpg"
    data = image.read_bytes()
    image.write_bytes(b"not a jpeg at all" if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(AnnotationError, match=re.escape(f"unreadable image {image}")):
        load_dataset("celeba", root, cache_dir=cache)


def test_affectnet_unreadable_image_is_named_when_cropping(synth_copy, cache):
    root = synth_copy("affectnet", "official")
    first = (root / "Manually_Annotated_file_lists/validation.csv").read_text().splitlines()[0].split(",")
    image = root / "Manually_Annotated_Images" / first[0]
    image.write_bytes(b"broken")
    with pytest.raises(AnnotationError, match=re.escape(str(image))):
        load_dataset("affectnet", root, "8", cache_dir=cache)


def test_skip_bad_rows_reports_how_many_and_which(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    label_file = root / RAF_LABELS
    n_test = sum(1 for line in label_file.read_text().splitlines() if line.startswith("test_"))
    old = edit_line(label_file, 2, "")
    edit_line(label_file, 2, old.split()[0] + " 0")  # label out of range (train)
    (root / "basic/Image/aligned/test_0001_aligned.jpg").unlink()  # missing image (test)
    with pytest.raises(AnnotationError):
        load_dataset("rafdb", root, cache_dir=cache)
    dd = load_dataset("rafdb", root, cache_dir=cache, skip_bad_rows=True)
    report = dd.build_report
    assert sorted((r.split, r.image_id) for r in report.skipped) == [("test", "test_0001.jpg"),
                                                                     ("train", old.split()[0])]
    assert any(r.line == 2 and r.file.endswith("list_patition_label.txt") for r in report.skipped)
    assert len(dd["test"]) == n_test - 1 == report.expected_rows("test")
    assert len(dd["train"]) + len(dd["validation"]) == report.expected_rows("train")
    again = load_dataset("rafdb", root, cache_dir=cache, skip_bad_rows=True)  # from the cache
    assert again.build_report == report


def test_skip_bad_rows_counts_unassignable_celeba_rows(synth_copy, cache):
    root = synth_copy("celeba", "official")
    partition = root / "Eval/list_eval_partition.txt"
    edit_line(partition, 1, "000001.jpg 7\r")
    dd = load_dataset("celeba", root, cache_dir=cache, skip_bad_rows=True)
    assert [(r.split, r.line) for r in dd.build_report.skipped] == [("unassigned", 1), ("unassigned", 3)]
    assert "000001.jpg" not in dd["train"]["image_id"]


def test_crlf_padding_and_trailing_spaces_are_tolerated(synth_copy, cache):
    root = synth_copy("rafdb", "official")
    label_file = root / RAF_LABELS
    plain = load_dataset("rafdb", root, cache_dir=cache)
    lines = label_file.read_text().splitlines()
    label_file.write_bytes(("\r\n".join("  " + line.replace(" ", "   ") + " " for line in lines) + "\r\n").encode())
    padded = load_dataset("rafdb", root, cache_dir=cache)
    assert list(padded["test"]["label"]) == list(plain["test"]["label"])
    assert list(padded["test"]["image_id"]) == list(plain["test"]["image_id"])


def test_celeba_truncated_attribute_file_is_reported(synth_copy, cache):
    root = synth_copy("celeba", "official")
    path = root / "Anno/list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(AnnotationError, match=r"list_attr_celeba\.txt:1: declares 23 images but lists 22"):
        load_dataset("celeba", root, cache_dir=cache)


def edit_field(path: Path, number: int, index: int, value: str, sep: str | None = None) -> str:
    """Set field ``index`` of line ``number`` (split on ``sep``, whitespace by default); returns the old field."""
    fields = edit_line(path, number, "").split(sep)
    old, fields[index] = fields[index], value
    edit_line(path, number, (sep or " ").join(fields))
    return old


@pytest.mark.parametrize("value", ["--1", "0", "01", "+1", "²", "x"])
def test_celeba_attribute_must_be_exactly_minus_one_or_one(synth_copy, cache, value):
    root = synth_copy("celeba", "official")
    edit_field(root / "Anno/list_attr_celeba.txt", 4, 3, value)
    with pytest.raises(AnnotationError, match=rf"list_attr_celeba\.txt:4: value '?{re.escape(value)}'? of "):
        load_dataset("celeba", root, cache_dir=cache)


@pytest.mark.parametrize("file", ["Anno/list_attr_celeba.txt", "Anno/identity_CelebA.txt",
                                  "Anno/list_landmarks_align_celeba.txt"])
def test_celeba_duplicate_image_id_names_both_lines(synth_copy, cache, file):
    root = synth_copy("celeba", "official")
    path = root / file
    first = 3 if file.startswith("Anno/list_") else 1  # after the count and header lines
    image_id = path.read_text().splitlines()[first - 1].split()[0]
    edit_field(path, first + 2, 0, image_id)
    with pytest.raises(AnnotationError, match=rf"{re.escape(path.name)}:{first + 2}: duplicate of line {first}"):
        load_dataset("celeba", root, cache_dir=cache)
    dd = load_dataset("celeba", root, cache_dir=cache, skip_bad_rows=True)  # the first line is kept
    skipped = [(r.split, r.file, r.line, r.reason) for r in dd.build_report.skipped]
    assert ("unassigned", str(path), first + 2, f"duplicate of line {first}") in skipped


@pytest.mark.parametrize("value", ["--3", "²", "-1", "3.0"])
def test_affectnet_code_not_ascii_digits_names_the_value(synth_copy, cache, value):
    root = synth_copy("affectnet", "official")
    edit_field(root / "Manually_Annotated_file_lists/training.csv", 2, 6, value, ",")
    with pytest.raises(AnnotationError, match=rf"training\.csv:2: expression code {re.escape(repr(value))} is not 0-10"):
        load_dataset("affectnet", root, cache_dir=cache)


@pytest.mark.parametrize("column", [1, 2, 3, 4])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_affectnet_non_finite_face_box_names_the_value(synth_copy, cache, column, value):
    root = synth_copy("affectnet", "official")
    edit_field(root / "Manually_Annotated_file_lists/training.csv", 2, column, value, ",")
    with pytest.raises(AnnotationError, match=rf"training\.csv:2: face box \[.*'{value}'.*\] is not finite"):
        load_dataset("affectnet", root, cache_dir=cache)


@pytest.mark.parametrize("values, reason", [
    ({3: "0"}, "has no area"), ({4: "-5"}, "has no area"),
    ({1: "1.5e308", 3: "1", 4: "1e308"}, "reaches past any image"),  # finite, but its squared edge is not
])
def test_affectnet_unusable_face_box_names_the_value(synth_copy, cache, values, reason):
    root = synth_copy("affectnet", "official")
    for column, value in values.items():
        edit_field(root / "Manually_Annotated_file_lists/training.csv", 2, column, value, ",")
    with pytest.raises(AnnotationError, match=rf"training\.csv:2: face box \[.*\] {reason}") as err:
        load_dataset("affectnet", root, cache_dir=cache)
    assert all(f"'{value}'" in str(err.value) for value in values.values())


@pytest.mark.parametrize("value", ["²", "٣", "-3"])
def test_rafdb_label_not_ascii_digits_names_the_value(synth_copy, cache, value):
    root = synth_copy("rafdb", "official")
    edit_field(root / RAF_LABELS, 5, 1, value)
    with pytest.raises(AnnotationError, match=rf"list_patition_label\.txt:5: label '{value}' is not an id 1-7"):
        load_dataset("rafdb", root, cache_dir=cache)


def test_rafdb_class_folder_not_ascii_digits_is_named(synth_copy, cache):
    root = synth_copy("rafdb", "folders")
    for labels in root.rglob("*_labels.csv"):
        labels.unlink()  # without them the folder names are the labels
    folder = next(root.rglob("train/3"))
    folder.rename(folder.with_name("³"))
    with pytest.raises(AnnotationError, match=re.escape(f"class folder {folder.with_name('³')} is not named 1-7")):
        load_dataset("rafdb", root, cache_dir=cache)
