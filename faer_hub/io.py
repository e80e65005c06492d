"""Files the package reads and writes: one image decoder, one atomic writer.

:func:`read_image` is *the* image decoder: dataset builders, training and evaluation loaders,
``faer-hub predict``, Grad-CAM and the demo all turn bytes into model pixels through it, so the
same file gives the same pixels everywhere (EXIF orientation applied; palette, grey, 16-bit,
CMYK and alpha converted one way).

Every file and folder faer_hub writes (exports, cards, metrics, configs, checkpoints, figures,
ONNX, predictions, generated datasets) goes through :func:`atomic_path` / :func:`atomic_dir`:
written under a temporary name beside its target, flushed to disk, and renamed over the target,
so a reader never sees a half-written file and a crash leaves the previous version in place.
Before the rename, every file gets ``0o666 & ~umask`` and every folder ``0o777 & ~umask``, as a
plain ``open`` / ``mkdir`` would give them: others can read what you export. (``mkstemp``,
``mkdtemp`` and safetensors' own writer make files private, 0600 / 0700, whatever the umask.)

A folder is written only where :func:`check_destination` allows (absent, empty, or the same kind
of output, replaced with ``--overwrite``), and a full disk is reported as a :class:`DiskFullError`
naming the file being written (:func:`naming_write_failures`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "DestinationError", "DiskFullError", "ImageReadError", "ImageSource",
    "apply_umask", "array_to_image", "atomic_dir", "atomic_path", "check_destination", "check_writable", "fsync_tree",
    "is_temp_name", "naming_write_failures", "output_name", "plain_data", "read_image", "temp_name", "to_rgb", "write_bytes",
    "write_json", "write_text",
]

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
DEFAULT_MAX_PIXELS = 80_000_000
"""Images with more pixels than this are refused (decompression-bomb guard)."""

ImageSource = Union[str, os.PathLike, bytes, Image.Image, np.ndarray, dict]
"""A path, encoded bytes, a Pillow image, an RGB NumPy array (H x W x 3 or 4, or H x W grey; uint8, or
float in [0, 1]), or a Hugging Face ``{"bytes", "path"}`` image dict."""

_EXIF_ORIENTATION = 0x0112


class ImageReadError(ValueError):
    """An input is not a usable image; the message names the file and says why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def read_image(source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Decode ``source`` to an 8-bit RGB image with its EXIF orientation applied.

    ``source`` is a file path, encoded bytes, an already opened Pillow image (as Hugging Face
    ``datasets`` yields them), an RGB NumPy array (a frame from a webcam or from OpenCV after
    ``cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)``) or a ``{"bytes": ..., "path": ...}`` dict. Raises
    :class:`ImageReadError` naming the file for anything that is not a readable image.
    """
    if isinstance(source, Image.Image):
        return to_rgb(_oriented(source))
    if isinstance(source, np.ndarray):
        return array_to_image(source)
    if isinstance(source, dict):
        data, name = source.get("bytes"), source.get("path")
        source = data if data is not None else name
        if source is None:
            raise ImageReadError("<record>", "image record holds neither bytes nor a path")
        label = str(name or "<bytes>")
    else:
        label = "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)
    if isinstance(source, (bytes, bytearray)):
        return _decode(io.BytesIO(source), label, max_pixels)
    path = Path(source)
    if path.is_dir():
        raise ImageReadError(label, f"folder holds no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    if not path.is_file():
        if path.is_symlink() and not path.exists():
            raise ImageReadError(label, "a symbolic link that leads nowhere (broken, or a loop of links)")
        raise ImageReadError(label, ("file not found" if not path.exists() else "not a regular file"))
    return _decode(path, label, max_pixels)


def array_to_image(array: np.ndarray, label: str = "<array>") -> Image.Image:
    """An RGB Pillow image from an H x W x 3 (RGB), H x W x 4 (RGBA) or H x W (grey) array.

    uint8 arrays are taken as they are; float arrays must hold values in [0, 1] (scaled by 255 and
    rounded). Anything else raises :class:`ImageReadError` saying which shape or type to pass.
    """
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or min(arr.shape[:2]) == 0:
        raise ImageReadError(label, f"an array of shape {arr.shape} is not an image; pass H x W x 3 RGB "
                                    "(or H x W x 4 RGBA, or H x W grey)")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ImageReadError(label, "a float array must hold values in [0, 1]; pass uint8 0-255 otherwise")
        arr = np.round(arr * 255.0).astype(np.uint8)
    elif arr.dtype == np.bool_ or (np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.uint8):
        raise ImageReadError(label, f"an array of {arr.dtype} is not an 8-bit image; pass uint8 0-255 "
                                    "or float in [0, 1]")
    return to_rgb(Image.fromarray(np.ascontiguousarray(arr)))  # L, RGB or RGBA by shape


def _open(fp: Any) -> Image.Image:
    """``Image.open`` with Pillow's own decompression-bomb limit and warning off: ``max_pixels``
    decides (checked on the header, before any pixel is decoded), so it can exceed Pillow's."""
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(fp)
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def _decode(fp: Any, label: str, max_pixels: int) -> Image.Image:
    try:
        with _open(fp) as img:
            if img.width * img.height > max_pixels:
                raise ImageReadError(
                    label, f"image too large: {img.width}x{img.height} = {img.width * img.height:,} pixels "
                    f"(limit {max_pixels:,}; raise --max-pixels if you trust the file)"
                )
            img.load()
            return to_rgb(_oriented(img))
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise ImageReadError(label, "not an image (unrecognised format); pass a JPEG, PNG, WebP... file") from None
    except Image.DecompressionBombError as err:
        raise ImageReadError(label, f"image too large: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageReadError(label, f"unreadable image ({err}); re-save or re-download it") from None


def _oriented(img: Image.Image) -> Image.Image:
    """``img`` turned upright by its EXIF orientation tag (unchanged when it has none)."""
    orientation = img.getexif().get(_EXIF_ORIENTATION)
    if orientation in (None, 1):
        return img
    return ImageOps.exif_transpose(img)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode (1, L, P, LA, RGBA, CMYK, I;16, I, F ...) to 8-bit RGB.

    Transparent pixels are composited on white; 16/32-bit grayscale is rescaled, not clipped.
    """
    if img.mode == "RGB":
        return img
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        if img.mode == "F" and arr.max(initial=0) <= 1.0:
            peak = 1.0
        arr = np.clip(arr / peak * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


# --- writing ----------------------------------------------------------------------------------

def current_umask() -> int:
    """The process umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(path: Path) -> None:
    """Give ``path`` (and, for a folder, everything under it) the permissions the umask asks for."""
    mask = current_umask()
    for target in [path, *path.rglob("*")] if path.is_dir() else [path]:
        if not target.is_symlink():
            os.chmod(target, (0o777 if target.is_dir() else 0o666) & ~mask)


_TEMP_NAME = re.compile(r"^\..+\.(tmp|partial|old)(-\d+-[0-9a-f]{8})?$")


def temp_name(path: Path, kind: str = "tmp", *, shared: bool = False) -> Path:
    """The hidden name beside ``path`` that an atomic write fills before renaming it to ``path``:
    ``.<name>.<kind>-<pid>-<random>``, unique to this writer; with ``shared``, ``.<name>.<kind>``,
    the same name in every process of a launch (all write into it, one renames it)."""
    if shared:
        return path.with_name(f".{path.name}.{kind}")
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def output_name(path: str, frame: int | None, suffix: str) -> str:
    """A file name for something made from input ``path`` (a crop, an annotated copy), unique per
    input path: ``<stem>-<8 hex of the path>[_f<frame>]<suffix>``, so ``a/photo.jpg`` and
    ``b/photo.jpg`` never share one."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(path).stem).strip("_") or "input"
    name = f"{stem[:80]}-{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
    if frame is not None:
        name += f"_f{frame:06d}"
    return name + suffix


def is_temp_name(name: str) -> bool:
    """Whether ``name`` is one :func:`temp_name` gives (left behind by a killed writer)."""
    return _TEMP_NAME.match(name) is not None


def check_writable(path: Path) -> None:
    """Raise an error naming ``path`` unless a file can be written there (its folder exists)."""
    path = Path(path)
    if not path.parent.is_dir():
        what = "is not a folder" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot write {path}: {path.parent} {what}; create it or choose another path")
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {path}: it is a folder; give a file name")


def fsync_tree(path: Path) -> None:
    """Flush ``path`` (a file, or a folder and the files directly in it) to disk, best effort."""
    targets = [*path.iterdir(), path] if path.is_dir() else [path]
    for target in targets:
        try:
            fd = os.open(target, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary file name beside ``path`` for writers that take a file name (safetensors,
    matplotlib, PIL, ONNX). When the block ends without error the file is flushed and renamed to
    ``path``; otherwise it is removed and ``path`` is untouched.

    The temporary file already exists (empty, mode ``0o666 & ~umask``) when the block starts.
    """
    path = Path(path)
    check_writable(path)
    tmp = temp_name(path, "tmp")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {path}: {err.strerror} (in {path.parent})") from None
    try:
        with naming_write_failures(path):
            yield tmp
        apply_umask(tmp)
        fsync_tree(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_tree(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
    return Path(path)


def write_json(path: str | os.PathLike, data: Any) -> Path:
    """Write ``data`` as indented JSON (NaN -> null, +-inf -> strings) to ``path`` atomically."""
    return write_text(path, json.dumps(plain_data(data), indent=2) + "\n")


def plain_data(value: Any, *, flat: bool = False) -> Any:
    """``value`` as plain data that JSON and YAML hold: mappings become dicts with string keys,
    tuples and lists become lists, NumPy scalars Python ones, NaN None and +-inf ``"inf"``/``"-inf"``;
    None, bools, numbers and strings stay; anything else (a path) becomes its ``str``.

    ``flat``: a mapping flattened to ``"section.key"`` names whose values are all scalars (lists and
    None as their ``str``), which is what trackers' hyperparameter tables take.
    """
    if flat:
        flat_items: dict[str, Any] = {}
        for key, item in plain_data(value).items():
            if isinstance(item, dict):
                flat_items.update({f"{key}.{name}": v for name, v in plain_data(item, flat=True).items()})
            else:
                flat_items[key] = item if isinstance(item, (bool, int, float, str)) else str(item)
        return flat_items
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class DestinationError(ValueError):
    """A folder a command would write over that is not its own output (or is, without ``--overwrite``)."""


def _entries(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir())


def check_destination(path: str | os.PathLike, *, own_files: Collection[str] = (), overwrite: bool = False,
                      what: str = "output", recognise: Callable[[Path], bool] | None = None) -> bool:
    """Apply the one rule for folders faer_hub fills: write only into a folder that is absent,
    empty, or holds nothing but ``own_files`` (the same kind of output, made before), and replace
    that only with ``overwrite``. ``recognise(folder)`` tells an earlier output from a user's files
    of the same names (a transformers model folder also holds a ``config.json``). Returns whether an
    earlier output will be replaced; raises :class:`DestinationError` naming the folder for anything
    else (a user's own files are never touched, with or without ``overwrite``)."""
    path = Path(path)
    if path.is_symlink():
        raise DestinationError(f"{path} is a symbolic link; give the folder it points to, or a new folder")
    if not path.exists():
        return False
    if not path.is_dir():
        raise DestinationError(f"{path} is a file, not a folder; choose a new or empty folder to write {what} to")
    entries = _entries(path)
    if not entries:
        return False
    foreign = [name for name in entries if name not in own_files]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise DestinationError(f"{path} holds files that are not {what} ({shown}); faer_hub never replaces a "
                               "folder it did not write. Choose a new or empty folder.")
    if recognise is not None and not recognise(path):
        raise DestinationError(f"{path} holds {', '.join(entries)} but not {what} faer_hub wrote; faer_hub never "
                               "replaces a folder it did not write. Choose a new or empty folder.")
    if not overwrite:
        raise DestinationError(f"{path} already holds {what} ({', '.join(entries)}); pass --overwrite "
                               "(overwrite=True in Python) to replace it, or choose another folder")
    return True


@contextmanager
def atomic_dir(path: str | os.PathLike, *, own_files: Collection[str] = (), overwrite: bool = False,
               what: str = "output", recognise: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; when the block ends without error it becomes
    ``path``. On error the temporary folder is removed and ``path`` is untouched.

    ``path`` must pass :func:`check_destination` (checked before the block runs and again before
    the swap): absent, empty, or an earlier output of the same kind (only ``own_files``) with
    ``overwrite``. The earlier output is replaced only once the new one is complete: it is renamed
    aside, the new folder renamed in, then the old one deleted. The folder is created with mode
    ``0o777 & ~umask``.
    """
    path = Path(path)
    rule = dict(own_files=own_files, overwrite=overwrite, what=what, recognise=recognise)
    check_destination(path, **rule)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path, "partial")
    try:
        os.mkdir(tmp, 0o777)
    except OSError as err:  # named after the folder asked for, not the hidden one beside it
        raise type(err)(err.errno, err.strerror, str(path)) from None
    try:
        with naming_write_failures(path, folder=tmp):
            yield tmp
        apply_umask(tmp)
        fsync_tree(tmp)
        check_destination(path, **rule)  # may have changed meanwhile
        if path.exists():
            old = temp_name(path, "old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_tree(path.parent)


class DiskFullError(OSError):
    """No space left while writing a file; the message names the file (the old version is kept).
    ``errno`` is ENOSPC and ``filename`` the file, as for the OS error it replaces."""

    def __str__(self) -> str:
        return str(self.args[0])


def _is_disk_full(err: BaseException) -> bool:
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(err)  # safetensors and ONNX wrap the OS error in their own exception types
    return "No space left on device" in text or "os error 28" in text or "Disk quota exceeded" in text


@contextmanager
def naming_write_failures(target: str | os.PathLike, *, folder: Optional[Path] = None) -> Iterator[None]:
    """Turn "no space left" raised by any writer in the block into a :class:`DiskFullError` naming
    the file being written: ``target``, or when ``folder`` (a temporary folder being filled for
    ``target``) is given, the newest file in it under ``target``'s name."""
    try:
        yield
    except DiskFullError:
        raise
    except Exception as err:  # noqa: BLE001  (re-raised as it is unless the disk is full)
        if not _is_disk_full(err):
            raise
        name = Path(target)
        if folder is not None and folder.is_dir():
            files = [p for p in folder.rglob("*") if p.is_file()]
            if files:
                name = name / max(files, key=lambda p: p.stat().st_mtime_ns).relative_to(folder)
        free = shutil.disk_usage(Path(target).parent if Path(target).parent.is_dir() else ".").free
        full = DiskFullError(f"cannot write {name}: no space left on device ({free / 2**20:.0f} MiB free there); "
                             "free some space or write elsewhere. Nothing was replaced")
        full.errno, full.filename = errno.ENOSPC, str(name)
        raise full from None
