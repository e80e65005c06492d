"""One way to name a model everywhere: timm name, ``hf-hub:org/repo``, ``local-dir:path`` or a folder.

Used by ``faer-hub predict``, ``evaluate``, ``cam`` and ``export-onnx``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import timm
import torch

from ..errors import one_line
from ..tasks import label_name_problems
from .export import ExportError, read_export_config


def resolve_source(source: str) -> tuple[str, bool]:
    """Normalise a model source into a ``timm.create_model`` name.

    Returns ``(name, has_weights)``: ``has_weights`` is True for ``hf-hub:``/``local-dir:``
    sources and export folders, whose whole point is their weights.
    """
    source = str(source)
    if source.startswith(("hf-hub:", "local-dir:")):
        if source.startswith("local-dir:") and not Path(source[len("local-dir:"):]).is_dir():
            raise FileNotFoundError(f"model source {source!r}: folder not found")
        return source, True
    folder = Path(source)
    if folder.is_dir() and (folder / "config.json").is_file():
        return f"local-dir:{folder}", True
    if timm.is_model(source.split(".")[0]) and os.sep not in source:
        return source, False
    if folder.is_dir():
        raise FileNotFoundError(f"model source {source!r}: {folder / 'config.json'} is missing; not an export folder")
    if os.sep in source or source.startswith("."):
        raise FileNotFoundError(
            f"model source {source!r} looks like a path but is not a folder; pass an export folder "
            "(config.json + model.safetensors), 'hf-hub:org/repo' or a timm model name"
        )
    raise ValueError(
        f"unknown model {source!r}: not a timm model name (try `faer-hub list`), "
        "an 'hf-hub:org/repo', a 'local-dir:path' or an export folder"
    )


def _check_hub_export(name: str) -> None:
    """Check a Hub repo's ``config.json`` against its ``model.safetensors`` as an export folder's
    (:func:`faer_hub.hub.export.export_problems`: tensor shapes compared before any allocation, so a
    config asking for a billion classes is refused, not allocated). A repo that cannot be fetched
    (offline and not cached, no such repo, no access) is an ``OSError`` naming it and the fix; a repo
    without these two files is left to timm, which reports what it misses."""
    from huggingface_hub import hf_hub_download

    from .export import export_problems

    repo_id, _, revision = name[len("hf-hub:"):].partition("@")
    try:
        files = [Path(hf_hub_download(repo_id, file, revision=revision or None))
                 for file in ("config.json", "model.safetensors")]
    except Exception as err:  # noqa: BLE001  (sorted by hub_fetch_error; the rest is timm's to report)
        problem = hub_fetch_error(name, err)
        if problem is None:
            return
        raise problem from None
    if files[0].parent != files[1].parent:
        return
    _, problems = export_problems(files[0].parent)
    if problems:
        raise ExportError(f"model source {name!r}: " + "; ".join(problems) + ". Ask the repo's owner to re-export it.")


def hub_fetch_error(source: str, err: BaseException) -> OSError | None:
    """The one-line error for a Hub repo that could not be fetched, naming ``source`` and the fix;
    None when the repo answered but lacks the file (timm then says which)."""
    from huggingface_hub import constants
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    repo_id = source[len("hf-hub:"):].partition("@")[0]
    if isinstance(err, LocalEntryNotFoundError):
        why = "HF_HUB_OFFLINE=1" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        return FileNotFoundError(
            f"model source {source!r}: not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and {why}; "
            f"download it while online (`hf download {repo_id}`), or pass its export folder instead")
    if isinstance(err, GatedRepoError):
        return PermissionError(f"model source {source!r}: the repo is gated; accept its terms on the Hub, "
                               "then log in (`hf auth login`)")
    if isinstance(err, RepositoryNotFoundError):
        return FileNotFoundError(f"model source {source!r}: no repo {repo_id!r} on the Hub, or it is private; "
                                 "check the name, or log in (`hf auth login`)")
    if isinstance(err, RevisionNotFoundError):
        return FileNotFoundError(f"model source {source!r}: the repo has no such revision; check the part after '@'")
    if isinstance(err, EntryNotFoundError):
        return None
    if isinstance(err, OSError):
        return ConnectionError(f"model source {source!r}: the Hub could not be reached ({one_line(err, limit=300)}); "
                               "check the connection, or download the repo first (`hf download "
                               f"{repo_id}`) and set HF_HUB_OFFLINE=1")
    return None


def create_model_from_source(source: str, pretrained: bool = False, **kwargs: Any) -> torch.nn.Module:
    """Create a model in eval mode from any source (see :func:`resolve_source`).

    ``pretrained`` only matters for plain timm names; Hub repos and export folders always load
    their weights.
    """
    name, has_weights = resolve_source(source)
    if name.startswith("local-dir:"):
        read_export_config(name[len("local-dir:"):])  # config and weights agree, or an error naming the file
    elif name.startswith("hf-hub:"):
        _check_hub_export(name)
    try:
        model = timm.create_model(name, pretrained=pretrained or has_weights, **kwargs)
    except RuntimeError as err:  # a Hub repo's weights that do not fit its config (exports are checked above)
        if "state_dict" not in str(err):
            raise
        details = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        raise ExportError(f"model source {source!r}: its weights do not fit its config "
                          f"({one_line(RuntimeError(details[0] if details else str(err)), limit=300)}); "
                          "re-export or download it again") from None
    labels = (getattr(model, "pretrained_cfg", {}) or {}).get("label_names")
    problems = label_name_problems(labels, model.num_classes, f"model source {source!r}") if has_weights else []
    if problems:  # names recorded with the weights; a timm name's registered ones give way (tasks.py's rule)
        raise ExportError("; ".join(problems) + "; fix label_names in its config.json or re-export it")
    return model.eval()
