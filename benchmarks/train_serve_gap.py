"""The train/serve gap, measured: the demo model on its dataset's original photos vs on the aligned crops.

For each dataset (RAF-DB, CelebA, AffectNet) this trains the demo-size model on generated data
(``training/configs/demo.yaml``, with ``--set task=...``), then runs ``faer-hub predict`` twice
on the generated test split: on the in-the-wild photos (detect, align with the model's
face-crop protocol, classify) and with ``--no-detect`` on the dataset's own crops (RAF-DB's and
CelebA's aligned images; for AffectNet, which ships no crops, the face boxes cut as its
builder cuts them). It reports accuracy (CelebA: mean accuracy over the 40 attributes at 0.5),
both ways, and the share of photos in which a face was found. A photo without a face counts as
wrong. For RAF-DB and CelebA it also cuts the photos at their *annotated* landmarks with the
model's protocol (``align_face``) and classifies those: the crop geometry without the detector's
landmark error. For RAF-DB it also reads the browser demo's example photos (``faer-hub app``)
and counts the faces read as the expression they were drawn with. Trainings are skipped when ``<output-dir>/<task>/export`` exists (``--retrain`` redoes them).

    OMP_NUM_THREADS=1 python benchmarks/train_serve_gap.py --output-dir runs/gap
    python benchmarks/train_serve_gap.py --output-dir runs/gap --datasets rafdb   # one dataset
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TASKS = {"rafdb": "rafdb", "celeba": "celeba", "affectnet": "affectnet7"}
"""The task trained per dataset."""


def train(task: str, run_dir: Path, retrain: bool) -> Path:
    """Train the demo-size model for ``task`` into ``run_dir`` (generating its data there)."""
    export = run_dir / "export"
    if export.is_dir() and not retrain:
        return export
    command = [sys.executable, str(ROOT / "training/train.py"), "--config", str(ROOT / "training/configs/demo.yaml"),
               "--output-dir", str(run_dir), "--overwrite", "--set", f"task={task}"]
    subprocess.run(command, check=True)
    return export


def predict_records(export: Path, files: list[Path], *, detect: bool) -> list[dict]:
    """``faer-hub predict`` on ``files``: every record (one per face, or per file without one)."""
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "out.jsonl"
        command = [sys.executable, "-m", "faer_hub.cli", "predict", "--model", str(export), "--format", "jsonl",
                   "--output", str(listing), "--top-k", "1", *([] if detect else ["--no-detect"]),
                   *map(str, files)]
        subprocess.run(command, check=False, stderr=subprocess.DEVNULL)  # exit 1 when a photo has no face
        return [json.loads(line) for line in listing.read_text().splitlines()]


def predict(export: Path, files: list[Path], *, detect: bool) -> dict[str, dict]:
    """``faer-hub predict`` on ``files``: the first (largest) face's record per file path."""
    records: dict[str, dict] = {}
    for record in predict_records(export, files, detect=detect):
        if record.get("face_index", 0) in (0, None) and record["path"] not in records:
            records[record["path"]] = record
    return records


def _class_correct(record: dict | None, label: str) -> float:
    if not record or not record.get("top_k"):
        return 0.0
    return float(record["top_k"][0]["label"] == label)


def _attribute_accuracy(record: dict | None, attributes: dict[str, int]) -> float:
    if not record or not record.get("probabilities"):
        return 0.0
    probabilities = record["probabilities"]
    return sum((probabilities[name] >= 0.5) == (value == 1) for name, value in attributes.items()) / len(attributes)


def rafdb_cases(data: Path) -> tuple[list[Path], list[Path], list[str]]:
    from faer_hub.tasks import RAFDB_LABELS

    basic = data / "basic"
    rows = [line.split() for line in (basic / "EmoLabel/list_patition_label.txt").read_text().splitlines()]
    test = [(name, int(label)) for name, label in rows if name.startswith("test_")]
    photos = [basic / "Image/original" / name for name, _ in test]
    crops = [basic / "Image/aligned" / name.replace(".jpg", "_aligned.jpg") for name, _ in test]
    return photos, crops, [RAFDB_LABELS[label - 1] for _, label in test]


def celeba_cases(data: Path) -> tuple[list[Path], list[Path], list[dict[str, int]]]:
    partition = dict(line.split() for line in (data / "Eval/list_eval_partition.txt").read_text().splitlines())
    lines = (data / "Anno/list_attr_celeba.txt").read_text().splitlines()
    names = lines[1].split()
    attributes = {fields[0]: dict(zip(names, map(int, fields[1:]))) for fields in map(str.split, lines[2:])}
    test = [name for name, split in partition.items() if split == "2"]
    return ([data / "Img/img_celeba" / n for n in test], [data / "Img/img_align_celeba" / n for n in test],
            [attributes[n] for n in test])


def affectnet_cases(data: Path, crop_dir: Path) -> tuple[list[Path], list[Path], list[str]]:
    """Validation rows with codes 0-6; their crops cut as the AffectNet builder cuts them."""
    from PIL import Image

    from faer_hub.data.affectnet import dataset_box
    from faer_hub.faces.align import align_face
    from faer_hub.tasks import AFFECTNET7_LABELS

    rows = list(csv.reader((data / "Manually_Annotated_file_lists/validation.csv").open()))
    photos, crops, labels = [], [], []
    for i, row in enumerate(r for r in rows if int(r[6]) <= 6):
        photo = data / "Manually_Annotated_Images" / row[0]
        with Image.open(photo) as image:
            crop = align_face(image.convert("RGB"), None, "affectnet",
                              box=dataset_box(tuple(float(v) for v in row[1:5])))  # type: ignore[arg-type]
        crops.append(crop_dir / f"{i:04d}.png")
        crop.save(crops[-1])
        photos.append(photo)
        labels.append(AFFECTNET7_LABELS[int(row[6])])
    return photos, crops, labels


def annotated_crops(dataset: str, data: Path, photos: list[Path], crop_dir: Path) -> list[Path]:
    """The photos cut with the dataset's protocol at their annotated landmarks (RAF-DB's manual
    five points, CelebA's in-the-wild landmarks)."""
    from PIL import Image

    from faer_hub.faces.align import align_face

    if dataset == "celeba":
        rows = (data / "Anno/list_landmarks_celeba.txt").read_text().splitlines()[2:]
        points = {f[0]: [float(v) for v in f[1:]] for f in map(str.split, rows)}
    out = []
    for i, photo in enumerate(photos):
        if dataset == "rafdb":
            manual = data / "basic/Annotation/manual" / photo.name.replace(".jpg", "_manu_attri.txt")
            five = [[float(v) for v in line.split()] for line in manual.read_text().splitlines()[:5]]
        else:
            five = [points[photo.name][k:k + 2] for k in range(0, 10, 2)]
        with Image.open(photo) as image:
            crop = align_face(image.convert("RGB"), five, dataset)
        out.append(crop_dir / f"annotated_{i:04d}.png")
        crop.save(out[-1])
    return out


def app_examples(export: Path, folder: Path) -> tuple[int, int]:
    """(read as drawn, faces drawn) on the browser demo's example photos (``faer-hub app``)."""
    from faer_hub.app import EXAMPLE_FACES, write_example_faces

    paths = write_example_faces(folder)
    drawn = {str(path): [expression for expression, _ in faces] for path, (_, faces) in zip(paths, EXAMPLE_FACES)}
    records = predict_records(export, paths, detect=True)
    # faces left to right, as the example images place them (predict numbers them largest first)
    read: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda r: (r["path"], (r.get("box") or [0])[0])):
        read.setdefault(record["path"], []).append(record["top_k"][0]["label"] if record.get("top_k") else "")
    right = sum(a == b for path, labels in drawn.items() for a, b in zip(labels, read.get(path, [])))
    return right, sum(map(len, drawn.values()))


def measure(dataset: str, run_dir: Path, retrain: bool) -> dict:
    export = train(TASKS[dataset], run_dir, retrain)
    data = run_dir / "data" / dataset
    with tempfile.TemporaryDirectory() as tmp:
        if dataset == "rafdb":
            photos, crops, truth = rafdb_cases(data)
        elif dataset == "celeba":
            photos, crops, truth = celeba_cases(data)  # type: ignore[assignment]
        else:
            photos, crops, truth = affectnet_cases(data, Path(tmp))
        on_photos = predict(export, photos, detect=True)
        on_crops = predict(export, crops, detect=False)
        annotated = annotated_crops(dataset, data, photos, Path(tmp)) if dataset != "affectnet" else []
        on_annotated = predict(export, annotated, detect=False) if annotated else {}
        examples = app_examples(export, Path(tmp) / "examples") if dataset == "rafdb" else None
    score = _attribute_accuracy if dataset == "celeba" else _class_correct
    n = len(photos)
    extra = {"annotated": sum(score(on_annotated.get(str(c)), t) for c, t in zip(annotated, truth)) / n} \
        if annotated else {}  # type: ignore[arg-type]
    if examples:
        extra["app_examples"] = examples
    return {**extra,
        "dataset": dataset, "task": TASKS[dataset], "images": n,
        "faces_found": sum(bool(on_photos.get(str(p), {}).get("top_k")) for p in photos) / n,
        "photos": sum(score(on_photos.get(str(p)), t) for p, t in zip(photos, truth)) / n,  # type: ignore[arg-type]
        "aligned": sum(score(on_crops.get(str(c)), t) for c, t in zip(crops, truth)) / n,  # type: ignore[arg-type]
    }


def table(results: list[dict]) -> str:
    lines = ["| dataset (task) | test images | accuracy on photos | accuracy on aligned crops | gap | faces found "
             "| photos cut at annotated landmarks |", "|---|---|---|---|---|---|---|"]
    for r in results:
        annotated = f"{100 * r['annotated']:.1f} %" if "annotated" in r else "n/a"
        lines.append(f"| {r['dataset']} ({r['task']}) | {r['images']} | {100 * r['photos']:.1f} % | "
                     f"{100 * r['aligned']:.1f} % | {100 * (r['aligned'] - r['photos']):+.1f} pts | "
                     f"{100 * r['faces_found']:.1f} % | {annotated} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", type=Path, default=Path("runs/gap"))
    parser.add_argument("--datasets", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--retrain", action="store_true", help="train again even when an export exists")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for dataset in args.datasets:
        result = measure(dataset, args.output_dir / dataset, args.retrain)
        (args.output_dir / dataset / "gap.json").write_text(json.dumps(result, indent=2))
    results = [json.loads((args.output_dir / d / "gap.json").read_text())
               for d in TASKS if (args.output_dir / d / "gap.json").is_file()]
    print(table(results))
    for r in results:
        if "app_examples" in r:
            print("The browser demo's example faces (faer-hub app), read as drawn by the %s model: %d of %d"
                  % (r["dataset"], *r["app_examples"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
