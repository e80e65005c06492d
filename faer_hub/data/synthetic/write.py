"""Generated faces written in the exact on-disk formats of CelebA, RAF-DB and AffectNet.

Made the way each dataset was made: every face is first drawn in an in-the-wild photo
(:func:`draw_photo`), annotated as the dataset annotates (RAF-DB's five manual landmarks,
CelebA's landmarks and boxes, AffectNet's box and 68 landmarks), and the aligned or cropped
images are then cut from the photo by :func:`faer_hub.faces.align.align_face`, the function
prediction cuts detected faces with, fed the annotated points. So a model trained on the crops
sees on the photos, through ``faer-hub predict``, what it was trained on.

Tests, benchmarks and the default job run the real loaders on this data. Everything is
deterministic for a seed. Expressions are balanced across classes; AffectNet files also
hold rows with codes 8-10 (and contempt, 7) that the loaders must filter out. AffectNet's
valence and arousal follow the drawn expression (:data:`AFFECTNET_VA_CENTRES` plus noise), so a
model can learn them from the face; Uncertain and No-Face rows get -2, as in the real files.

>>> from faer_hub.data.synthetic.write import write_synthetic
>>> root = write_synthetic("rafdb", "/tmp/raf", num_train=70, num_test=35)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from ...faces.align import PROTOCOLS, CropProtocol, align_face, crop_geometry
from ...io import atomic_dir
from ...tasks import AFFECTNET8_LABELS, CELEBA_ATTRIBUTES, RAFDB_LABELS
from .render import CELEBA_MOUTHS, FaceSpec, Rendered, is_pale, random_face_spec, render

LAYOUTS: dict[str, tuple[str, ...]] = {
    "celeba": ("official", "torchvision", "kaggle"),
    "rafdb": ("official", "folders"),
    "affectnet": ("official", "new", "folders"),
}
"""Layouts :func:`write_synthetic` can write, per dataset; the first is the official one."""

DEFAULT_SIZES = {"celeba": (178, 218), "rafdb": (100, 100), "affectnet": (224, 224)}
"""Aligned image size per dataset (AffectNet: the newer release's pre-cropped faces)."""

JPEG_QUALITY = 90
FER_ACCESSORIES = 0.5
"""Expression datasets draw glasses, hats, beards... half as often as CelebA does."""
FER_NUISANCE = dict(accessories=FER_ACCESSORIES, clutter=2, blurry=False)
"""Expression datasets: fewer accessories and background shapes, so a tiny CNN learns expressions."""
LANDMARK5_NAMES = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y "
                   "leftmouth_x leftmouth_y rightmouth_x rightmouth_y")
AFFECTNET_HEADER = ("subDirectory_filePath,face_x,face_y,face_width,face_height,"
                    "facial_landmarks,expression,valence,arousal")
AFFECTNET_VA_CENTRES: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0),      # neutral
    1: (0.75, 0.4),     # happiness
    2: (-0.65, -0.35),  # sadness
    3: (0.25, 0.75),    # surprise
    4: (-0.6, 0.7),     # fear
    5: (-0.7, 0.2),     # disgust
    6: (-0.5, 0.6),     # anger
    7: (-0.35, 0.05),   # contempt
    8: (0.0, -0.2),     # None: drawn with a neutral face
}
"""(valence, arousal) around which generated faces of each expression code are annotated: roughly
where the expressions sit on the circumplex (Russell 1980), far enough apart to be learnt."""
AFFECTNET_VA_NOISE = 0.12
"""Standard deviation of the Gaussian noise added to each centre (values then clipped to [-1, 1])."""
AFFECTNET_FOLDER_NAMES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
"""Class folder names of common AffectNet redistributions, by expression code 0-7."""


def celeba_attributes(spec: FaceSpec) -> list[int]:
    """CelebA's 40 values (-1/1) for a drawn face; attributes the drawing cannot show are -1."""
    on = {
        "Arched_Eyebrows": spec.brows == "raised",
        "Bald": spec.hair is None,
        "Bangs": spec.bangs and spec.hair is not None,
        "Black_Hair": spec.hair == "black",
        "Blond_Hair": spec.hair == "blond",
        "Brown_Hair": spec.hair == "brown",
        "Gray_Hair": spec.hair == "gray",
        "Blurry": spec.blurry,
        "Bushy_Eyebrows": spec.bushy_brows,
        "Eyeglasses": spec.glasses,
        "Goatee": spec.goatee,
        "Mouth_Slightly_Open": spec.mouth in ("open_smile", "slightly_open"),
        "Mustache": spec.mustache,
        "Narrow_Eyes": spec.eyes == "narrow",
        "No_Beard": not (spec.goatee or spec.mustache),
        "Pale_Skin": is_pale(spec.skin),
        "Rosy_Cheeks": spec.rosy_cheeks,
        "Smiling": spec.mouth in ("smile", "open_smile"),
        "Wearing_Earrings": spec.earrings,
        "Wearing_Hat": spec.hat,
        "Wearing_Lipstick": spec.lipstick,
        "Wearing_Necktie": spec.necktie,
    }
    return [1 if on.get(name, False) else -1 for name in CELEBA_ATTRIBUTES]


def _rng(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


def _balanced(n: int, k: int, rng: np.random.Generator) -> list[int]:
    """``n`` class ids covering ``0..k-1`` as evenly as possible, in seeded random order."""
    labels = np.arange(n) % k
    rng.shuffle(labels)
    return [int(v) for v in labels]


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _jpeg_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _jpeg(image: Image.Image, path: Path) -> None:
    _write_bytes(path, _jpeg_bytes(image))


def _write_text(path: Path, lines: Iterable[str], newline: str = "\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + newline for line in lines).encode())


def _write_csv(path: Path, header: list[str] | None, rows: Iterable[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue())


# --- in-the-wild photos, and the dataset crops derived from them --------------------------------
@dataclass
class Photo:
    """A generated in-the-wild photo: its JPEG bytes, the decoded pixels (what a reader of the
    file gets) and the drawing's annotations (landmarks, head box) in its pixels."""

    jpeg: bytes
    image: Image.Image
    drawn: Rendered


PHOTO_SIZES = {"celeba": (220, 400), "rafdb": (160, 300), "affectnet": (200, 400)}
"""Range of photo sides in pixels, per dataset."""
PHOTO_FACE = {"celeba": (0.3, 0.45), "rafdb": (0.35, 0.55), "affectnet": (0.35, 0.55)}
"""Range of the head's width as a fraction of the photo's shorter side, per dataset."""
HEAD_ASPECT = 1.2
"""Height / width of the drawn head."""


def draw_photo(spec: FaceSpec, rng: np.random.Generator, dataset: str, *, cut: bool = False) -> Photo:
    """``spec`` drawn somewhere in an in-the-wild photo of random size (:data:`PHOTO_SIZES`,
    :data:`PHOTO_FACE`), whole, or with ``cut`` reaching past the left and bottom borders."""
    low, high = PHOTO_SIZES[dataset]
    w, h = (int(v) for v in rng.integers(low, high, 2))
    fw = rng.uniform(*PHOTO_FACE[dataset]) * min(w, h)
    fh = fw * HEAD_ASPECT
    if cut:
        x, y = -0.2 * fw, h - 0.85 * fh
    else:
        x = rng.uniform(0.05 * fw, max(0.05 * fw, w - 1.05 * fw))
        y = rng.uniform(0.05 * fh, max(0.05 * fh, h - 1.1 * fh))
    drawn = render(spec, (w, h), (x, y, fw, fh))
    data = _jpeg_bytes(drawn.image)
    return Photo(data, Image.open(io.BytesIO(data)).convert("RGB"), drawn)


def protocol_at(name: str, size: tuple[int, int]) -> CropProtocol:
    """The built-in crop protocol ``name`` with its output scaled to ``size`` (width, height)."""
    protocol = PROTOCOLS[name]
    if protocol.kind != "similarity" or protocol.size == tuple(size):
        return protocol
    assert protocol.size is not None
    sx, sy = size[0] / protocol.size[0], size[1] / protocol.size[1]
    template = tuple(((x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5) for x, y in protocol.template)
    return replace(protocol, size=tuple(size), template=template)  # type: ignore[arg-type]


def dataset_crop(photo: Photo, protocol: CropProtocol, size: tuple[int, int], *,
                 landmarks: Iterable[tuple[float, float]] | None = None,
                 box: tuple[float, float, float, float] | None = None) -> tuple[Image.Image, np.ndarray]:
    """The dataset's crop of ``photo``, cut by :func:`faer_hub.faces.align.align_face` from the
    annotated ``landmarks`` as written (default: the drawn ones) or, for box protocols, the
    annotated ``box``, exactly as prediction cuts a detected face, at ``size``; and the 2 x 3
    matrix taking photo pixels to crop pixels."""
    face = None if box is not None else list(landmarks if landmarks is not None else photo.drawn.landmarks5)
    matrix, crop_size = crop_geometry(face, protocol, photo.image.size, box=box)
    crop = align_face(photo.image, face, protocol, box=box)
    if crop.size != tuple(size):
        scale = np.diag([size[0] / crop_size[0], size[1] / crop_size[1]])
        matrix = np.hstack([scale @ matrix[:, :2], scale @ matrix[:, 2:]])
        crop = crop.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return crop, matrix


def _map(matrix: np.ndarray, points: Iterable[tuple[float, float]]) -> np.ndarray:
    return np.asarray(list(points), np.float64).reshape(-1, 2) @ matrix[:, :2].T + matrix[:, 2]


ANNOTATION_NOISE = 0.045
"""Standard deviation of the annotators' landmark error, as a fraction of the distance between the
eyes (per coordinate): manual landmarks are not exact, and neither are a detector's (MTCNN's on
generated faces: sd about 0.035 plus a per-expression bias up to 0.03). Datasets' crops are cut at
the annotated points, so training faces vary in alignment about as much as detected ones do (with
0.03 the demo model scored 7 points lower on the photos than on the crops)."""


BOX_NOISE = (0.02, 0.03)
"""Standard deviations of a generated AffectNet box's centre shift (fraction of its side) and of its
size (relative): AffectNet's boxes come from a face detector, whose boxes jitter about the head."""


def annotate(points: Iterable[tuple[float, float]], rng: np.random.Generator) -> list[tuple[float, float]]:
    """``points`` as an annotator marks them: each moved by Gaussian noise (:data:`ANNOTATION_NOISE`
    times the distance between the first two, the eyes)."""
    array = np.asarray(list(points), np.float64).reshape(-1, 2)
    scale = ANNOTATION_NOISE * float(np.linalg.norm(array[1] - array[0]))
    return [(float(x), float(y)) for x, y in array + rng.normal(0.0, scale, array.shape)]


def _expression_spec(seed: int, keys: tuple[int, ...], expression: str, **overrides) -> FaceSpec:
    return random_face_spec(_rng(seed, *keys), expression=expression, **FER_NUISANCE, **overrides)


# --- CelebA -------------------------------------------------------------------------------
def _write_celeba(root: Path, layout: str, counts: dict[str, int], seed: int, size: tuple[int, int]) -> None:
    total = sum(counts.values())
    names = [f"{i:06d}.jpg" for i in range(1, total + 1)]
    partition = [0] * counts["train"] + [1] * counts["validation"] + [2] * counts["test"]
    attrs, landmarks, wild_landmarks, identities, boxes = [], [], [], [], []
    n_ids = max(2, total // 5)
    wild_dir = None
    if layout == "official":
        img_dir, anno, evald, ext = root / "Img" / "img_align_celeba", root / "Anno", root / "Eval", "txt"
        wild_dir = root / "Img" / "img_celeba"
    elif layout == "torchvision":
        img_dir = root / "celeba" / "img_align_celeba"
        anno = evald = root / "celeba"
        ext = "txt"
    else:
        img_dir, anno, evald, ext = root / "img_align_celeba" / "img_align_celeba", root, root, "csv"
    protocol = protocol_at("celeba", size)
    for i, name in enumerate(names):
        rng = _rng(seed, 1, i)
        spec = random_face_spec(
            rng, mouth=CELEBA_MOUTHS[int(rng.integers(0, 4))],
            brows=["flat", "raised"][int(rng.integers(0, 2))],
            eyes=["normal", "narrow", "normal"][int(rng.integers(0, 3))],
        )
        photo = draw_photo(spec, _rng(seed, 9, i), "celeba")
        if wild_dir is not None:
            _write_bytes(wild_dir / name, photo.jpeg)
        annotated = [(round(x), round(y)) for x, y in annotate(photo.drawn.landmarks5, _rng(seed, 12, i))]  # integers
        crop, matrix = dataset_crop(photo, protocol, size, landmarks=annotated)
        _jpeg(crop, img_dir / name)
        attrs.append(celeba_attributes(spec))
        landmarks.append([round(v) for v in _map(matrix, annotated).ravel()])
        wild_landmarks.append([v for point in annotated for v in point])
        identities.append(int(rng.integers(1, n_ids + 1)))
        boxes.append([round(v) for v in photo.drawn.head_box or (0, 0, 0, 0)])
    if ext == "txt":
        _write_text(anno / "list_attr_celeba.txt", [
            str(total), " ".join(CELEBA_ATTRIBUTES) + " ",
            *(f"{n} " + " ".join(f"{v:2d}" for v in a) for n, a in zip(names, attrs)),
        ])
        _write_text(evald / "list_eval_partition.txt", (f"{n} {p}" for n, p in zip(names, partition)), "\r\n")
        _write_text(anno / "identity_CelebA.txt", (f"{n} {k}" for n, k in zip(names, identities)))
        for file, values in (("list_landmarks_align_celeba.txt", landmarks),
                             *((("list_landmarks_celeba.txt", wild_landmarks),) if wild_dir else ())):
            _write_text(anno / file, [
                str(total), LANDMARK5_NAMES,
                *(f"{n} " + " ".join(f"{v:4d}" for v in lm) for n, lm in zip(names, values)),
            ])
        _write_text(anno / "list_bbox_celeba.txt", [
            str(total), "image_id x_1 y_1 width height",
            *(f"{n} " + " ".join(f"{v:4d}" for v in bx) for n, bx in zip(names, boxes)),
        ])
    else:  # Kaggle's CSV versions (no identity file)
        _write_csv(anno / "list_attr_celeba.csv", ["image_id", *CELEBA_ATTRIBUTES],
                   ([n, *a] for n, a in zip(names, attrs)))
        _write_csv(evald / "list_eval_partition.csv", ["image_id", "partition"], zip(names, partition))
        _write_csv(anno / "list_landmarks_align_celeba.csv", ["image_id", *LANDMARK5_NAMES.split()],
                   ([n, *lm] for n, lm in zip(names, landmarks)))
        _write_csv(anno / "list_bbox_celeba.csv", ["image_id", "x_1", "y_1", "width", "height"],
                   ([n, *bx] for n, bx in zip(names, boxes)))


# --- RAF-DB -------------------------------------------------------------------------------
def _raf_name(split: str, i: int) -> str:
    return f"train_{i:05d}.jpg" if split == "train" else f"test_{i:04d}.jpg"


def _raf_manual(points: Iterable[tuple[float, float]], rng: np.random.Generator) -> list[str]:
    """A ``*_manu_attri.txt``: five ``x<TAB>y`` landmark lines, then gender, race and age range."""
    return [f"{x:.2f}\t{y:.2f}" for x, y in points] + [
        str(int(rng.integers(0, 3))), str(int(rng.integers(0, 3))), str(int(rng.integers(0, 5)))]


def _write_rafdb(root: Path, layout: str, counts: dict[str, int], seed: int, size: tuple[int, int]) -> None:
    label_lines: list[str] = []
    csv_rows: dict[str, list[list]] = {"train": [], "test": []}
    protocol = protocol_at("rafdb", size)
    for split_code, split in enumerate(("train", "test")):
        labels = _balanced(counts[split], 7, _rng(seed, 2, split_code))
        for i, label in enumerate(labels, start=1):
            raf_id = label + 1
            name = _raf_name(split, i)
            aligned_name = name.replace(".jpg", "_aligned.jpg")
            spec = _expression_spec(seed, (2, split_code, i), RAFDB_LABELS[label])
            photo = draw_photo(spec, _rng(seed, 3, split_code, i), "rafdb")
            annotated = [(round(x, 2), round(y, 2))  # as the file holds them
                         for x, y in annotate(photo.drawn.landmarks5, _rng(seed, 12, split_code, i))]
            aligned, _ = dataset_crop(photo, protocol, size, landmarks=annotated)
            if layout == "official":
                basic = root / "basic"
                _write_bytes(basic / "Image" / "original" / name, photo.jpeg)
                _jpeg(aligned, basic / "Image" / "aligned" / aligned_name)
                _write_text(basic / "Annotation" / "manual" / name.replace(".jpg", "_manu_attri.txt"),
                            _raf_manual(annotated, _rng(seed, 10, split_code, i)))
                label_lines.append(f"{name} {raf_id}")
            else:
                _jpeg(aligned, root / "DATASET" / split / str(raf_id) / aligned_name)
                csv_rows[split].append([aligned_name, raf_id])
    if layout == "official":
        _write_text(root / "basic" / "EmoLabel" / "list_patition_label.txt", label_lines)
    else:
        for split, rows in csv_rows.items():
            _write_csv(root / f"{split}_labels.csv", ["image", "label"], rows)


# --- AffectNet ----------------------------------------------------------------------------
def _affectnet_codes(n: int, rng: np.random.Generator, with_extra: bool) -> list[int]:
    """Codes 0-7 balanced; with ``with_extra`` every 9th row is 8, 9 or 10 (to be filtered)."""
    codes = []
    for i in range(n):
        if with_extra and i % 9 == 8:
            codes.append(8 + (i // 9) % 3)
        else:
            codes.append((i - i // 9) % 8 if with_extra else i % 8)
    rng.shuffle(codes)
    return codes


def affectnet_va(code: int, rng: np.random.Generator) -> tuple[float, float]:
    """(valence, arousal) for a generated face with expression ``code``, rounded to 6 decimals as
    written; (-2, -2), AffectNet's "no value", for Uncertain and No-Face (9, 10)."""
    if code not in AFFECTNET_VA_CENTRES:
        return -2.0, -2.0
    centre = np.asarray(AFFECTNET_VA_CENTRES[code])
    valence, arousal = np.clip(centre + rng.normal(0.0, AFFECTNET_VA_NOISE, 2), -1.0, 1.0)
    return round(float(valence), 6), round(float(arousal), 6)


def _affectnet_photo(seed: int, keys: tuple[int, ...], code: int, *, cut: bool = False
                     ) -> tuple[Photo, tuple[int, int, int, int]]:
    """An AffectNet photo for expression ``code`` (10: No-Face draws none) and its face box as the
    CSV holds it, integers: the drawn head's box (where a face detector frames a face)."""
    spec = _expression_spec(seed, keys, AFFECTNET8_LABELS[code % 8])
    if code == 10:
        spec = replace(spec, show_face=False)
    photo = draw_photo(spec, _rng(seed, 11, *keys), "affectnet", cut=cut)
    head = photo.drawn.head_box
    if head is None:  # No-Face: the box of where the head would have been
        w, h = photo.image.size
        head = (w * 0.3, h * 0.25, w * 0.4, h * 0.48)
    # a detector's box jitters about the head: centre and size (BOX_NOISE)
    x, y, w, h = head
    rng = _rng(seed, 13, *keys)
    dx, dy = rng.normal(0.0, BOX_NOISE[0], 2) * max(w, h)
    grow = 1.0 + rng.normal(0.0, BOX_NOISE[1])
    box = (x + dx + w * (1 - grow) / 2, y + dy + h * (1 - grow) / 2, w * grow, h * grow)
    return photo, tuple(round(v) for v in box)  # type: ignore[return-value]


def _affectnet_landmarks(photo: Photo, box: tuple[int, int, int, int]) -> list[tuple[float, float]]:
    x, y, w, h = box
    return photo.drawn.landmarks68 or [(x + w / 2, y + h / 2)] * 68


def _write_affectnet_official(root: Path, counts: dict[str, int], seed: int) -> None:
    lists = root / "Manually_Annotated_file_lists"
    for split_code, (split, csv_name) in enumerate((("train", "training.csv"), ("test", "validation.csv"))):
        rows = []
        codes = _affectnet_codes(counts[split], _rng(seed, 4, split_code), with_extra=True)
        for i, code in enumerate(codes):
            rng = _rng(seed, 5, split_code, i)
            # a face cut by the image border, as in the real files (boxes reach past it)
            photo, box = _affectnet_photo(seed, (4, split_code, i), code, cut=i % 7 == 3)
            sub = str(int(rng.integers(1, 1000)))
            name = hashlib.sha1(f"{seed}-{split}-{i}".encode()).hexdigest() + ".jpg"
            _write_bytes(root / "Manually_Annotated_Images" / sub / name, photo.jpeg)
            lm = ";".join(f"{v:.2f}" for p in _affectnet_landmarks(photo, box) for v in p)
            valence, arousal = affectnet_va(code, rng)
            if code >= 9:
                valence, arousal = -2, -2  # written as the real files do
            rows.append([f"{sub}/{name}", *box, lm, code, valence, arousal])
        _write_csv(lists / csv_name, AFFECTNET_HEADER.split(",") if split == "train" else None, rows)


def _affectnet_crop(seed: int, keys: tuple[int, ...], code: int, size: tuple[int, int]
                    ) -> tuple[Image.Image, list[tuple[float, float]]]:
    """A pre-cropped AffectNet face (the newer release, class folders): the photo's face box cut by
    the AffectNet protocol at ``size``, and its 68 landmarks in crop pixels."""
    photo, box = _affectnet_photo(seed, keys, code)
    crop, matrix = dataset_crop(photo, PROTOCOLS["affectnet"], size, box=box)
    return crop, [tuple(p) for p in _map(matrix, _affectnet_landmarks(photo, box)).tolist()]


def _write_affectnet_new(root: Path, counts: dict[str, int], seed: int, size: tuple[int, int]) -> None:
    for split_code, (split, folder) in enumerate((("train", "train_set"), ("test", "val_set"))):
        codes = _affectnet_codes(counts[split], _rng(seed, 6, split_code), with_extra=False)
        for i, code in enumerate(codes):
            crop, landmarks = _affectnet_crop(seed, (6, split_code, i), code, size)
            _jpeg(crop, root / folder / "images" / f"{i}.jpg")
            ann = root / folder / "annotations"
            ann.mkdir(parents=True, exist_ok=True)
            rng = _rng(seed, 7, split_code, i)
            np.save(ann / f"{i}_exp.npy", np.array(str(code)))
            valence, arousal = affectnet_va(code, rng)
            np.save(ann / f"{i}_val.npy", np.array(str(valence)))  # the release stores strings
            np.save(ann / f"{i}_aro.npy", np.array(str(arousal)))
            np.save(ann / f"{i}_lnd.npy", np.array([v for p in landmarks for v in p], dtype=np.float64))


def _write_affectnet_folders(root: Path, counts: dict[str, int], seed: int, size: tuple[int, int]) -> None:
    for split_code, (split, folder) in enumerate((("train", "train"), ("test", "val"))):
        codes = _affectnet_codes(counts[split], _rng(seed, 8, split_code), with_extra=False)
        for i, code in enumerate(codes):
            crop, _ = _affectnet_crop(seed, (8, split_code, i), code, size)
            _jpeg(crop, root / folder / AFFECTNET_FOLDER_NAMES[code] / f"image{i:05d}.jpg")


# --- entry point --------------------------------------------------------------------------
def write_synthetic(dataset: str, out_dir: str | os.PathLike, *, layout: str = "official",
                    num_train: int = 70, num_test: int = 35, num_val: int | None = None, seed: int = 0,
                    image_size: int | tuple[int, int] | None = None) -> Path:
    """Write ``dataset`` ('celeba', 'rafdb', 'affectnet') as generated faces in ``layout``.

    ``num_*`` count annotation rows per split (AffectNet's official layout includes rows with
    codes 8-10, which loaders drop). ``num_val`` is CelebA's validation partition (default:
    ``num_test``); RAF-DB and AffectNet have no validation split. ``image_size`` (int or
    (width, height)) overrides the aligned size: CelebA 178x218, RAF-DB 100x100, AffectNet
    224x224 (its official layout always writes in-the-wild images with face boxes).
    ``out_dir`` must not exist or be empty; it is filled atomically and returned: pass it
    as ``data_dir`` to :func:`faer_hub.data.load_dataset`.
    """
    if dataset not in LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {', '.join(LAYOUTS)}")
    if layout not in LAYOUTS[dataset]:
        raise ValueError(f"unknown {dataset} layout {layout!r}; choose from {', '.join(LAYOUTS[dataset])}")
    if num_val is not None and dataset != "celeba":
        raise ValueError(f"{dataset} has no validation split to generate (load_dataset carves one from train)")
    if min(num_train, num_test, num_val or 0) < 0:
        raise ValueError("split sizes must be >= 0")
    size = DEFAULT_SIZES[dataset] if image_size is None else (
        (image_size, image_size) if isinstance(image_size, int) else tuple(image_size))
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not an empty folder; choose a new folder")
    counts = {"train": num_train, "validation": num_test if num_val is None else num_val, "test": num_test}
    with atomic_dir(out) as tmp:  # an existing `out` is empty (checked above)
        _write_dataset(dataset, tmp, layout, counts, seed, size)
    return out


def _write_dataset(dataset: str, tmp: Path, layout: str, counts: dict[str, int], seed: int,
                   size: tuple[int, int]) -> None:
    writers: dict[str, Callable[[], None]] = {
        "celeba": lambda: _write_celeba(tmp, layout, counts, seed, size),  # type: ignore[arg-type]
        "rafdb": lambda: _write_rafdb(tmp, layout, counts, seed, size),  # type: ignore[arg-type]
        "affectnet": lambda: {
            "official": lambda: _write_affectnet_official(tmp, counts, seed),
            "new": lambda: _write_affectnet_new(tmp, counts, seed, size),  # type: ignore[arg-type]
            "folders": lambda: _write_affectnet_folders(tmp, counts, seed, size),  # type: ignore[arg-type]
        }[layout](),
    }
    writers[dataset]()
