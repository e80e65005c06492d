"""Files the package writes: complete or absent, readable as the user's umask says.

Every file and folder faer_hub writes (exports, cards, metrics, configs, checkpoints, figures,
ONNX, predictions, generated datasets) goes through this module: it is written under a temporary
name beside its target, flushed to disk, and renamed over the target, so a reader never sees a
half-written file and a crash leaves the previous version in place. Before the rename, every file
gets ``0o666 & ~umask`` and every folder ``0o777 & ~umask``, as a plain ``open`` / ``mkdir`` would
give them: others can read what you export. (``mkstemp``, ``mkdtemp`` and safetensors' own writer
make files private, 0600 / 0700, whatever the umask.)
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["apply_umask", "atomic_dir", "atomic_path", "check_writable", "fsync_tree", "write_bytes", "write_json", "write_text"]


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


def _temp_name(path: Path, kind: str) -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


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
    tmp = _temp_name(path, "tmp")
    try:
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    except OSError as err:
        raise type(err)(err.errno, f"cannot write {path}: {err.strerror} (in {path.parent})") from None
    try:
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
    return write_text(path, json.dumps(_json_safe(data), indent=2) + "\n")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


@contextmanager
def atomic_dir(path: str | os.PathLike, *, replace: bool = True) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill; when the block ends without error it becomes
    ``path`` (an existing ``path`` is replaced when ``replace``, else :class:`FileExistsError`).
    On error the temporary folder is removed and ``path`` is untouched.

    The folder is created with mode ``0o777 & ~umask``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_name(path, "partial")
    os.mkdir(tmp, 0o777)
    try:
        yield tmp
        apply_umask(tmp)
        fsync_tree(tmp)
        if path.exists() and not replace:
            raise FileExistsError(f"{path} already exists")
        if path.exists():
            old = _temp_name(path, "old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_tree(path.parent)
