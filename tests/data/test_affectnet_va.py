"""AffectNet's valence and arousal: read exactly from both official formats, bad values named."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import datasets
import numpy as np
import pytest

from faer_hub.data import AnnotationError, DatasetNotFoundError, load_dataset
from faer_hub.data.synthetic.write import AFFECTNET_VA_CENTRES
from faer_hub.tasks import AFFECTNET_VA_EXPRESSIONS

LISTS = "Manually_Annotated_file_lists"


def official_rows(root: Path, split: str) -> list[tuple[str, int, str, str]]:
    """(image id, code, valence text, arousal text) per CSV row, read without the builder."""
    name = "training.csv" if split == "train" else "validation.csv"
    rows = list(csv.reader((root / LISTS / name).open()))
    if rows[0][0] == "subDirectory_filePath":
        rows = rows[1:]
    return [(r[0], int(r[6]), r[7], r[8]) for r in rows]


def new_rows(root: Path, split: str) -> list[tuple[str, int, str, str]]:
    folder = root / ("train_set" if split == "train" else "val_set") / "annotations"
    out = []
    for exp in folder.glob("*_exp.npy"):
        stem = exp.name[: -len("_exp.npy")]
        out.append((f"{stem}.jpg", int(np.load(exp).item()), str(np.load(folder / f"{stem}_val.npy").item()),
                    str(np.load(folder / f"{stem}_aro.npy").item())))
    return out


READERS = {"official": official_rows, "new": new_rows}


def by_split(dd: datasets.DatasetDict) -> dict[str, dict[str, tuple[int, float, float]]]:
    """image id -> (class, valence, arousal) per file split (train = train + carved validation)."""
    out: dict[str, dict] = {"train": {}, "test": {}}
    for split, ds in dd.items():
        column = "expression" if "expression" in ds.features else "label"
        rows = ds.select_columns(["image_id", column, "valence", "arousal"])
        for r in rows:
            out["test" if split == "test" else "train"][r["image_id"]] = (r[column], r["valence"], r["arousal"])
    return out


@pytest.mark.parametrize("layout", ["official", "new"])
def test_va_config_reads_every_value_exactly(synth_root, cache, layout):
    """Config 'va' keeps codes 0-8 (None too) with their exact values; 9-10 are filtered by design."""
    root = synth_root("affectnet", layout)
    dd = load_dataset("affectnet", root, "va", cache_dir=cache)
    assert dd["train"].features == datasets.Features({
        "image": datasets.Image(), "image_id": datasets.Value("string"),
        "expression": datasets.ClassLabel(names=list(AFFECTNET_VA_EXPRESSIONS)),
        "valence": datasets.Value("float32"), "arousal": datasets.Value("float32"),
    })
    loaded = by_split(dd)
    for split in ("train", "test"):
        rows = READERS[layout](root, split)
        expected = {i: (c, np.float32(v), np.float32(a)) for i, c, v, a in rows if c <= 8}
        assert len(loaded[split]) == len(expected) > 0
        assert loaded[split] == expected  # float32 of the file's text, value for value
        filtered = dd.build_report.filtered.get(split, {})
        assert sum(filtered.values()) == sum(c >= 9 for _, c, _, _ in rows)
        assert set(filtered) <= {"code 9 (uncertain)", "code 10 (no-face)"}
    if layout == "official":  # the generated files include None (8) and Uncertain/No-Face rows
        assert any(c == 8 for c, _, _ in loaded["train"].values())
        assert any(c >= 9 for _, c, _, _ in official_rows(root, "train"))


@pytest.mark.parametrize("layout", ["official", "new"])
def test_expression_configs_carry_valence_and_arousal(synth_root, cache, layout):
    root = synth_root("affectnet", layout)
    dd = load_dataset("affectnet", root, "8", cache_dir=cache)
    assert dd["test"].features["valence"] == datasets.Value("float32") == dd["test"].features["arousal"]
    loaded = by_split(dd)
    for split in ("train", "test"):
        expected = {i: (c, np.float32(v), np.float32(a)) for i, c, v, a in READERS[layout](root, split) if c <= 7}
        assert loaded[split] == expected


def test_folder_layout_has_no_valence_arousal_and_the_va_config_says_why(synth_root, cache):
    root = synth_root("affectnet", "folders")
    assert set(load_dataset("affectnet", root, cache_dir=cache)["train"].features) == {"image", "image_id", "label"}
    with pytest.raises(DatasetNotFoundError, match="no valence/arousal annotations"):
        load_dataset("affectnet", root, "va", cache_dir=cache)


def test_newer_release_copy_without_va_files_loads_expressions_only(synth_copy, cache):
    root = synth_copy("affectnet", "new")
    for npy in [*root.glob("*_set/annotations/*_val.npy"), *root.glob("*_set/annotations/*_aro.npy")]:
        npy.unlink()
    dd = load_dataset("affectnet", root, "8", cache_dir=cache)
    assert set(dd["train"].features) == {"image", "image_id", "label"} and dd.build_report.skipped == []
    assert len(dd["test"]) == sum(c <= 7 for c in (int(np.load(p).item()) for p in root.glob("val_set/annotations/*_exp.npy")))
    with pytest.raises(DatasetNotFoundError, match="no <n>_val.npy / <n>_aro.npy files"):
        load_dataset("affectnet", root, "va", cache_dir=cache)


def test_generated_values_follow_the_drawn_expression(synth_root):
    rows = [r for split in ("train", "test") for r in official_rows(synth_root("affectnet", "official"), split)]
    for _, code, valence, arousal in rows:
        if code >= 9:
            assert (valence, arousal) == ("-2", "-2")
        else:  # noise sd 0.12: 5 sd from the expression's centre at most
            assert np.hypot(*(np.array([float(valence), float(arousal)]) - AFFECTNET_VA_CENTRES[code])) < 0.6


def _first_row_with_code(path: Path, codes: range) -> tuple[int, list[str]]:
    lines = path.read_text().split("\n")
    for number, text in enumerate(lines, start=1):
        fields = next(csv.reader([text])) if text else []
        if len(fields) == 9 and fields[6].isdigit() and int(fields[6]) in codes:
            return number, fields
    raise AssertionError("no such row")


def _write_line(path: Path, number: int, fields: list[str]) -> None:
    lines = path.read_text().split("\n")
    lines[number - 1] = ",".join(f'"{f}"' if "," in f else f for f in fields)
    path.write_text("\n".join(lines))


@pytest.mark.parametrize("column,value,reason", [
    (7, "-2", "valence is '-2', AffectNet's 'no value' code"),
    (8, "1.5", "arousal '1.5' is not a number in [-1, 1]"),
    (7, "abc", "valence 'abc' is not a number in [-1, 1]"),
    (8, "nan", "arousal 'nan' is not a number in [-1, 1]"),
])
@pytest.mark.parametrize("config", ["7", "va"])
def test_bad_value_names_file_line_and_value_or_is_skipped(synth_copy, cache, column, value, reason, config):
    root = synth_copy("affectnet", "official")
    path = root / LISTS / "validation.csv"
    number, fields = _first_row_with_code(path, range(0, 7))
    fields[column] = value
    _write_line(path, number, fields)
    with pytest.raises(AnnotationError, match=re.escape(f"{path}:{number}: {reason}")):
        load_dataset("affectnet", root, config, cache_dir=cache)
    dd = load_dataset("affectnet", root, config, cache_dir=cache, skip_bad_rows=True)
    (skipped,) = dd.build_report.skipped
    assert (skipped.split, skipped.line, skipped.image_id) == ("test", number, fields[0])
    kept = [r for r in official_rows(root, "test") if r[1] <= (8 if config == "va" else 6)]
    assert len(dd["test"]) == len(kept) - 1 and fields[0] not in dd["test"]["image_id"]


def test_uncertain_rows_keep_their_no_value_code_without_error(synth_root, cache):
    """Rows with codes 9-10 hold -2 by design: filtered, never reported as bad."""
    dd = load_dataset("affectnet", synth_root("affectnet", "official"), "va", cache_dir=cache)
    assert dd.build_report.skipped == []


def test_new_layout_bad_value_names_the_npy_file(synth_copy, cache):
    root = synth_copy("affectnet", "new")
    bad = root / "val_set" / "annotations" / "3_aro.npy"
    np.save(bad, np.array("3.0"))
    with pytest.raises(AnnotationError, match=re.escape(f"{bad}: arousal '3.0' is not a number in [-1, 1]")):
        load_dataset("affectnet", root, "va", cache_dir=cache)
    missing = root / "train_set" / "annotations" / "5_val.npy"
    missing.unlink()
    dd = load_dataset("affectnet", root, "va", cache_dir=cache, skip_bad_rows=True)
    reasons = {Path(r.file).name: r.reason for r in dd.build_report.skipped}
    assert reasons == {"3_aro.npy": "arousal '3.0' is not a number in [-1, 1]",
                       "5_val.npy": "valence annotation file is missing"}
    assert len(dd["test"]) == 17 and len(dd["train"]) + len(dd["validation"]) == 35
