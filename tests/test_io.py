"""faer_hub.io: the one image decoder (every mode, EXIF, clear errors naming the file) and the one
writer (atomic, umask-respecting; every file the package writes obeys the umask)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from faer_hub.io import (
    DestinationError, DiskFullError, ImageReadError, atomic_dir, atomic_path, check_destination, is_temp_name,
    plain_data, read_image, temp_name, to_rgb, write_json, write_text,
)

REPO = Path(__file__).resolve().parents[1]


def _noise(size=(80, 96), mode="RGB", seed=0):
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    return Image.fromarray(arr).convert(mode)


def test_every_mode_becomes_8_bit_rgb(tmp_path):
    _noise(mode="L").save(tmp_path / "gray.png")
    _noise(mode="RGBA").save(tmp_path / "rgba.png")
    _noise(mode="CMYK").save(tmp_path / "cmyk.jpg")
    _noise(mode="P").save(tmp_path / "palette.gif")
    _noise(mode="1").save(tmp_path / "bw.png")
    Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)).save(tmp_path / "deep16.png")
    for name in ("gray.png", "rgba.png", "cmyk.jpg", "palette.gif", "bw.png", "deep16.png"):
        assert read_image(tmp_path / name).mode == "RGB", name
    deep = np.asarray(read_image(tmp_path / "deep16.png"))
    # 16-bit values are rescaled, not clipped to 255 (which would make most of the image white)
    assert deep.min() == 0 and deep.max() > 200 and (deep == 255).mean() < 0.05


def test_transparency_composited_on_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([10, 20, 30] * 256)
    palette.save(tmp_path / "clear.png", transparency=0)
    assert read_image(tmp_path / "clear.png").getpixel((0, 0)) == (255, 255, 255)


def test_exif_orientation_is_applied_for_paths_bytes_and_opened_images(tmp_path):
    img = Image.new("RGB", (60, 30), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "rot.jpg", exif=exif)
    data = (tmp_path / "rot.jpg").read_bytes()
    with Image.open(tmp_path / "rot.jpg") as opened:
        opened.load()
        from_pil = read_image(opened)
    for source in (tmp_path / "rot.jpg", str(tmp_path / "rot.jpg"), data, {"bytes": data, "path": None}):
        assert read_image(source).size == (30, 60)
    assert from_pil.size == (30, 60)
    assert read_image(read_image(data)).size == (30, 60)  # idempotent


def test_same_pixels_from_every_source(tmp_path):
    _noise(mode="RGBA").save(tmp_path / "a.png")
    data = (tmp_path / "a.png").read_bytes()
    arrays = [np.asarray(read_image(s)) for s in (tmp_path / "a.png", data, {"bytes": None, "path": str(tmp_path / "a.png")},
                                                  Image.open(io.BytesIO(data)))]
    assert all(np.array_equal(arrays[0], a) for a in arrays[1:])


def test_numpy_frames_are_images_and_bad_arrays_say_what_to_pass():
    rgb = np.asarray(_noise())
    assert np.array_equal(np.asarray(read_image(rgb)), rgb)
    assert np.array_equal(np.asarray(read_image(rgb.astype(np.float32) / 255.0)), rgb)
    grey = rgb[:, :, 0]
    assert np.array_equal(np.asarray(read_image(grey)), np.repeat(grey[:, :, None], 3, axis=2))
    rgba = np.dstack([rgb, np.full(grey.shape, 255, np.uint8)])
    assert np.array_equal(np.asarray(read_image(rgba)), rgb)
    with pytest.raises(ImageReadError, match=r"shape \(3, 4, 5, 6\) is not an image"):
        read_image(np.zeros((3, 4, 5, 6), np.uint8))
    with pytest.raises(ImageReadError, match=r"float array must hold values in \[0, 1\]"):
        read_image(rgb.astype(np.float32))
    with pytest.raises(ImageReadError, match="int64 is not an 8-bit image"):
        read_image(rgb.astype(np.int64))


def test_errors_name_the_file_and_the_problem(tmp_path):
    (tmp_path / "fake.jpg").write_text("this is not a jpeg")
    _noise().save(tmp_path / "rgb.jpg")
    data = (tmp_path / "rgb.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageReadError, match=r"fake\.jpg: not an image") as err:
        read_image(tmp_path / "fake.jpg")
    assert err.value.path == str(tmp_path / "fake.jpg") and err.value.reason.startswith("not an image")
    with pytest.raises(ImageReadError, match=r"missing\.png: file not found"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match=r"rgb\.jpg: image too large"):
        read_image(tmp_path / "rgb.jpg", max_pixels=100)
    with pytest.raises(ImageReadError, match=r"truncated\.jpg: unreadable image"):
        read_image(tmp_path / "truncated.jpg")
    with pytest.raises(ImageReadError, match="folder holds no image files"):
        read_image(tmp_path)
    with pytest.raises(ImageReadError, match="<bytes>: not an image"):
        read_image(b"nope")


def test_max_pixels_decides_even_above_pillows_own_limit(tmp_path):
    """Pillow refuses images over 178,956,970 pixels and warns above half that; ``max_pixels``
    replaces both, on the header, before any pixel is decoded."""
    path = tmp_path / "huge.png"
    Image.new("1", (20_000, 9_000)).save(path)  # 180 MP, a few kB on disk
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(ImageReadError, match=f"{path}: image too large: 20000x9000 = 180,000,000 pixels "
                                                 r"\(limit 80,000,000; raise --max-pixels"):
            read_image(path)
        assert read_image(path, max_pixels=200_000_000).size == (20_000, 9_000)


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_get_the_umask_permissions(tmp_path, umask_027):
    write_text(tmp_path / "a.txt", "hello")
    write_json(tmp_path / "b.json", {"x": float("nan"), "y": float("inf")})
    with atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "inner.bin").write_bytes(b"1")
    assert _mode(tmp_path / "a.txt") == 0o640 and _mode(tmp_path / "b.json") == 0o640
    assert _mode(tmp_path / "folder") == 0o750 and _mode(tmp_path / "folder" / "inner.bin") == 0o640
    assert (tmp_path / "b.json").read_text() == '{\n  "x": null,\n  "y": "inf"\n}\n'


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = write_text(tmp_path / "metrics.json", "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "export") as tmp:
            (tmp / "config.json").write_text("{}")
            raise RuntimeError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]


def test_temporary_names_are_hidden_beside_the_target_and_recognised(tmp_path):
    target = tmp_path / "export"
    own = temp_name(target)
    assert own != temp_name(target) and own.parent == tmp_path and own.name.startswith(".export.tmp-")
    assert temp_name(target, shared=True) == tmp_path / ".export.tmp"  # every process of a launch writes into it
    assert all(is_temp_name(p.name) for p in (own, temp_name(target, "partial"), temp_name(target, shared=True)))
    assert not any(is_temp_name(name) for name in ("export", ".hidden", "step-00000002.tmp", ".export.tmp-x"))


def test_plain_data_is_what_json_and_yaml_hold():
    import json

    data = {"path": Path("a/b"), "betas": (0.9, 0.999), 1: np.float32(0.5), "n": np.int64(3), "nan": float("nan"),
            "inf": float("-inf"), "none": None, "nested": {"ok": True}}
    plain = plain_data(data)
    assert plain == {"path": "a/b", "betas": [0.9, 0.999], "1": 0.5, "n": 3, "nan": None, "inf": "-inf", "none": None,
                     "nested": {"ok": True}}
    assert json.loads(json.dumps(plain)) == plain and yaml.safe_load(yaml.safe_dump(plain)) == plain
    hparams = plain_data({"optim": {"betas": (0.9, 0.999), "lr": 1e-3}, "model": {"pretrained": None}}, flat=True)
    assert hparams == {"optim.betas": "[0.9, 0.999]", "optim.lr": 0.001, "model.pretrained": "None"}


def test_a_folder_is_written_only_when_absent_empty_or_its_own_kind_replaced_with_overwrite(tmp_path):
    own = ("a.txt", "b.txt")
    target = tmp_path / "out"
    with atomic_dir(target, own_files=own) as tmp:  # absent
        (tmp / "a.txt").write_text("1")
    with pytest.raises(DestinationError, match=f"{target} already holds output .*pass --overwrite"):
        with atomic_dir(target, own_files=own) as tmp:
            pytest.fail("the block must not run")
    with pytest.raises(RuntimeError):  # a failed replacement keeps the old output, complete
        with atomic_dir(target, own_files=own, overwrite=True) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("crash")
    assert (target / "a.txt").read_text() == "1"
    with atomic_dir(target, own_files=own, overwrite=True) as tmp:
        (tmp / "b.txt").write_text("2")
    assert [p.name for p in target.iterdir()] == ["b.txt"]
    (target / "thesis.tex").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(DestinationError, match=r"holds files that are not output \(thesis.tex\)"):
            with atomic_dir(target, own_files=own, overwrite=overwrite):
                pass
    assert sorted(p.name for p in target.iterdir()) == ["b.txt", "thesis.tex"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(DestinationError, match="is a file, not a folder"):
        check_destination(tmp_path / "file")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(DestinationError, match="is a symbolic link"):
        check_destination(tmp_path / "link", own_files=own, overwrite=True)
    (tmp_path / "empty").mkdir()
    assert check_destination(tmp_path / "empty") is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "file", "link", "out"]


def test_a_full_disk_names_the_file_being_written_and_keeps_the_old_version(tmp_path):
    import errno

    target = write_text(tmp_path / "metrics.json", "old")
    with pytest.raises(DiskFullError, match=f"cannot write {target}: no space left on device"):
        with atomic_path(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old"
    with pytest.raises(DiskFullError, match=f"cannot write {tmp_path / 'export' / 'model.safetensors'}: no space"):
        with atomic_dir(tmp_path / "export") as tmp:
            (tmp / "config.json").write_text("{}")
            (tmp / "model.safetensors").write_bytes(b"half")  # the newest file: the one being written
            raise RuntimeError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: '
                               '"No space left on device" })')  # as safetensors words it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]
    with pytest.raises(RuntimeError, match="unrelated"):  # other errors pass through as they are
        with atomic_path(target):
            raise RuntimeError("unrelated")


def test_writing_into_a_missing_folder_or_onto_a_folder_names_the_target(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"cannot write {tmp_path / 'nope' / 'x.csv'}: .*does not exist"):
        write_text(tmp_path / "nope" / "x.csv", "")
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError, match="it is a folder; give a file name"):
        write_text(tmp_path / "dir", "")


@pytest.mark.slow
def test_every_file_the_package_writes_obeys_the_umask(tmp_path):
    """The user's paths, run under umask 027: every file 0640, every folder 0750."""
    config = {
        "task": "rafdb", "model": {"name": "faer_atto", "pretrained": False, "img_size": 32},
        "data": {"num_workers": 0}, "train": {"epochs": 1, "global_batch_size": 8, "per_device_batch_size": 8,
                                              "eval_batch_size": 8, "ema": True},
        "checkpoint": {"every_steps": 1}, "tracking": {"report_to": "tensorboard"},
    }
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    cli = f"{sys.executable} -m faer_hub.cli"
    image = out / "data/basic/Image/aligned/test_0001_aligned.jpg"
    script = f"""
        set -e
        umask 027
        mkdir {out}
        {cli} synth rafdb {out}/data --num-train 28 --num-test 14
        {sys.executable} training/train.py --config {tmp_path}/tiny.yaml --data-dir {out}/data --output-dir {out}/run
        {cli} prepare rafdb {out}/data --cache-dir {out}/cache
        {cli} export --model {out}/run/export {out}/export2
        {cli} export-onnx --model {out}/run/export {out}/model.onnx
        {cli} evaluate --model {out}/run/export --data-dir {out}/data --out {out}/eval
        {cli} cam {image} --model {out}/run/export --out {out}/cam
        {cli} predict {image} --model {out}/run/export --format csv --output {out}/preds.csv --no-detect \
            --save-crops {out}/crops
        {cli} space {out}/run/export {out}/space --repo-id me/faer_atto.rafdb
        {cli} cards --out {out}/cards
    """
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    wrong = [f"{oct(_mode(p))} {p.relative_to(out)}" for p in [out, *out.rglob("*")]
             if _mode(p) != (0o750 if p.is_dir() else 0o640)]
    assert not wrong, "\n".join(wrong)
    written = {p.relative_to(out).parts[0] for p in out.rglob("*") if p.is_file()}
    assert written >= {"data", "run", "cache", "export2", "model.onnx", "eval", "cam", "preds.csv", "crops", "space",
                       "cards"}
