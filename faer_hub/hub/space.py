"""A Hugging Face Space folder for an export: the browser demo (:mod:`faer_hub.app`) on its Hub repo.

``faer-hub space <export> <dir>`` writes ``app.py``, ``space.json``, ``requirements.txt`` and
``README.md``. Nothing read from the export (its card's repo id, a downloaded folder's text) is
ever spliced into code: ``app.py`` is a fixed text that reads ``space.json``; the repo id is
checked with huggingface_hub's rules (:func:`faer_hub.hub.cards.check_repo_id`) and the README's
metadata is dumped as YAML data. The writer never replaces files it did not write: ``space.json``
records a SHA-256 of each file it wrote, and a file that is missing from that record or was edited
since is only replaced with ``overwrite=True``, all files together (each new file is complete
before any old one goes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

import yaml

from ..io import atomic_path
from .cards import check_repo_id

__all__ = ["DEFAULT_PACKAGE", "SPACE_FILES", "SpaceFolderError", "write_space"]

DEFAULT_PACKAGE = "faer_hub[app,detect]"
"""The requirement that installs faer_hub on the Space. faer_hub is not on PyPI yet: pass the
line that installs it from where it lives (``faer_hub[app,detect] @ git+https://...``)."""

SETTINGS_FILE = "space.json"
SPACE_FILES = ("app.py", SETTINGS_FILE, "requirements.txt", "README.md")
WRITER = "faer-hub space"

SPACE_APP = '''"""FAER demo Space, written by `faer-hub space`: the app is faer_hub.app; the model is named in
space.json (data, read here; never code)."""

import json
from pathlib import Path

from faer_hub.app import launch

settings = json.loads(Path(__file__).with_name("space.json").read_text(encoding="utf-8"))
launch([settings["model"]], pretrained=True)
'''

SPACE_BODY = """
Try [`{repo_id}`](https://huggingface.co/{repo_id}) in the browser: drop a photo, see each face
boxed and numbered with its {what}, and a Grad-CAM overlay for any class.
The app is `faer_hub.app` (`faer-hub app --model hf-hub:{repo_id}` runs the same page locally).
Research demo: not for any decision about a person.
"""

class SpaceFolderError(FileExistsError):
    """The output folder holds Space files that ``faer-hub space`` did not write (or that were edited)."""


def write_space(export: str | os.PathLike, out_dir: str | os.PathLike, *, repo_id: str | None = None,
                package: str = DEFAULT_PACKAGE, overwrite: bool = False) -> Path:
    """Write a Space folder (``app.py``, ``space.json``, ``requirements.txt``, ``README.md``) that
    runs the app on ``hf-hub:<repo_id>``, the Hub repo the export folder is (or will be) pushed to.

    ``repo_id`` defaults to the one named in the export's card; either way it must be a valid Hub
    repo id (``org/name``). ``package`` is the one requirement line that installs faer_hub on the
    Space. Files of ``out_dir`` that this function did not write are refused
    (:class:`SpaceFolderError`) unless ``overwrite``.
    """
    from packaging.requirements import InvalidRequirement, Requirement

    from ..tasks import get_task, kind_of_config
    from .cards import read_card_facts
    from .publish import check_export_folder, find_export_folder

    folder = find_export_folder(export)
    config = check_export_folder(folder)  # complete and loadable; the card may name another repo (push --retarget-card)
    where = "--repo-id" if repo_id else f"{folder / 'README.md'} (its card's repo_id)"
    repo_id = repo_id or read_card_facts(folder / "README.md").get("repo_id")
    if not repo_id:
        raise ValueError(f"{folder}: its card names no Hub repository; pass --repo-id org/name")
    repo_id = check_repo_id(repo_id, where=where, namespaced=True)
    try:
        Requirement(package)
    except InvalidRequirement as err:
        raise ValueError(f"--package {package!r} is not one requirement line ({err}); "
                         "e.g. 'faer_hub[app,detect] @ git+https://github.com/ORG/faer_hub'") from None
    kind = get_task(config["faer_task"]).spec if config.get("faer_task") else kind_of_config(config)
    texts = {
        "app.py": SPACE_APP,
        "requirements.txt": "# faer_hub with the app and face detection; torch comes with it (CPU build on a free Space)\n"
                            f"{package}\n",
        "README.md": _readme(repo_id, kind.space_shows),
    }
    out = Path(out_dir)
    _check_folder(out, overwrite=overwrite)
    settings = {"model": f"hf-hub:{repo_id}", "repo_id": repo_id, "written_by": WRITER,
                "sha256": {name: _sha256(text.encode("utf-8")) for name, text in texts.items()}}
    texts[SETTINGS_FILE] = json.dumps(settings, indent=2) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:  # every file complete before any is renamed into place
        for name, text in texts.items():
            tmp = stack.enter_context(atomic_path(out / name))
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    return out


def _readme(repo_id: str, what: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        gradio_version = version("gradio")
    except PackageNotFoundError:  # not installed here: the version this package was tested with
        gradio_version = "6.31.0"
    metadata = {
        "title": f"FAER {repo_id.split('/')[-1]}"[:30], "emoji": "🙂", "colorFrom": "yellow", "colorTo": "blue",
        "sdk": "gradio", "sdk_version": gradio_version, "app_file": "app.py", "pinned": False, "license": "mit",
        "models": [repo_id],
    }
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
    return f"---\n{front}---\n" + SPACE_BODY.format(repo_id=repo_id, what=what)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_folder(out: Path, *, overwrite: bool) -> None:
    """Refuse (naming the folder and files) Space files in ``out`` that this writer did not write
    or that were changed since, unless ``overwrite``."""
    if overwrite or not out.exists():
        return
    if not out.is_dir():
        raise SpaceFolderError(f"{out} is a file, not a folder; choose another output folder")
    written: dict[str, str] = {}
    try:
        settings = json.loads((out / SETTINGS_FILE).read_text(encoding="utf-8"))
        if isinstance(settings, dict) and settings.get("written_by") == WRITER:
            written = dict(settings.get("sha256") or {})
    except (OSError, ValueError):
        pass
    foreign = [
        name for name in SPACE_FILES
        if (out / name).exists() and not (
            name == SETTINGS_FILE and written
            or (out / name).is_file() and written.get(name) == _sha256((out / name).read_bytes())
        )
    ]
    if foreign:
        raise SpaceFolderError(
            f"{out} already holds {', '.join(foreign)}, not written by `faer-hub space` (or edited since); "
            "choose another folder, or pass --overwrite to replace them"
        )
