"""Publish export folders (weights, config, card) and prepared datasets to the Hugging Face Hub.

:func:`push_export` refuses folders that are incomplete, whose weights do not match the config,
or whose model card disagrees with the config (labels, architecture, target repo), so a pushed
repo always loads with ``timm.create_model('hf-hub:<repo>')`` and describes itself correctly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from huggingface_hub import HfApi, ModelCard, get_token

from ..errors import one_line
from ..tasks import DATASETS, get_task
from .cards import CARD_FACTS_KEY, card_facts, check_repo_id, read_card_facts
from .export import export_label_names, export_problems, missing_export_files

IGNORED_PATTERNS = [".*", "**/.*", "*.tmp", "*.pt", "*.pth", "*.bin", "*.ckpt", "*.pkl"]
"""Never uploaded: hidden and temporary files, and pickled checkpoints (unsafe to load)."""


class ExportFolderError(ValueError):
    """The folder cannot be published as it is."""


class HubUploadError(ConnectionError):
    """The Hub could not be reached, or refused the upload (the message says which and why)."""


def _is_network_error(err: BaseException) -> bool:
    """OS-level and Hub HTTP errors, and the HTTP client's own (httpx/requests, whose classes
    huggingface_hub does not wrap)."""
    return isinstance(err, OSError) or type(err).__module__.split(".")[0] in ("httpx", "httpx2", "requests", "urllib3")


def find_export_folder(path: str | os.PathLike) -> Path:
    """The export folder itself, or ``<run-dir>/export`` for a training run directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder")
    if not (path / "config.json").exists() and (path / "export" / "config.json").exists():
        return path / "export"
    return path


def check_export_folder(folder: str | os.PathLike, *, repo_id: str | None = None) -> dict[str, Any]:
    """Validate an export folder before publishing; returns its ``config.json``.

    Checks: ``config.json``, ``model.safetensors`` and ``README.md`` exist; the weights load
    and the classifier has ``num_classes`` outputs; the label names agree with ``num_classes``;
    the card parses (valid YAML and model-index) and its metadata (``faer_hub:`` architecture,
    label names, task, repo id) agrees with the config and (when ``repo_id`` is given) the target
    Hub repository.
    """
    folder = Path(folder)
    missing = missing_export_files(folder)
    if missing:
        raise ExportFolderError(
            f"{folder} is incomplete: missing {', '.join(missing)}. Write export folders with "
            "faer_hub.hub.export.save_export(), `faer-hub convert` or training/train.py."
        )
    config, problems = export_problems(folder)
    if config is not None:
        problems += _card_problems(folder, config, repo_id)
    if problems:
        raise ExportFolderError(f"{folder} cannot be published: " + "; ".join(problems))
    return config


def push_export(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool = False,
    commit_message: str | None = None,
    revision: str | None = None,
    token: str | None = None,
    create_pr: bool = False,
    retarget_card: bool = False,
    api: HfApi | None = None,
) -> Any:
    """Create ``repo_id`` (if needed) and upload a checked export folder; returns the commit info.

    ``folder`` may be an export folder or a training run directory containing ``export/``.
    A card written for another repo id is refused, unless ``retarget_card`` is set: then the
    uploaded card has the old repo id replaced by ``repo_id`` (the folder on disk is untouched).
    """
    check_repo_id(repo_id, where="--repo-id", namespaced=True)
    folder = find_export_folder(folder)
    config = check_export_folder(folder, repo_id=None if retarget_card else repo_id)
    if api is None:
        if not (token or get_token()):
            raise HubUploadError("no Hugging Face token: log in with `hf auth login`, set HF_TOKEN, or pass --token "
                                 "(a token with write access to the repo's organisation)")
        api = HfApi(token=token)
    message = commit_message or f"Upload {config.get('architecture', 'FAER')} export with faer_hub"
    with tempfile.TemporaryDirectory(prefix="faer-push-") as staging:
        upload_from = _retargeted_copy(folder, repo_id, Path(staging)) if retarget_card else folder
        try:
            api.create_repo(repo_id, private=private, repo_type="model", exist_ok=True)
            return api.upload_folder(
                repo_id=repo_id,
                folder_path=str(upload_from),
                repo_type="model",
                commit_message=message,
                revision=revision,
                create_pr=create_pr,
                ignore_patterns=IGNORED_PATTERNS,
            )
        except Exception as err:
            if not _is_network_error(err):
                raise
            reason = one_line(err, first_line=True, limit=300)
            raise HubUploadError(f"could not push {folder} to {repo_id}: {reason}. Check the network (HF_ENDPOINT, "
                                 "HF_HUB_OFFLINE) and that your token may write to that repo.") from None


def _retargeted_copy(folder: Path, repo_id: str, staging: Path) -> Path:
    """Link the folder's files into ``staging`` and rewrite the card's repo id there."""
    text = (folder / "README.md").read_text(encoding="utf-8")
    old = read_card_facts(folder / "README.md").get("repo_id")
    for src in folder.iterdir():
        if src.is_file() and src.name != "README.md":
            try:
                os.link(src, staging / src.name)
            except OSError:
                shutil.copy2(src, staging / src.name)
    (staging / "README.md").write_text(text.replace(old, repo_id) if old else text, encoding="utf-8")
    return staging


def push_dataset(
    dataset: Any,
    repo_id: str,
    *,
    task: str | None = None,
    private: bool = True,
    i_have_redistribution_rights: bool = False,
    commit_message: str | None = None,
    token: str | None = None,
    max_shard_size: str | int | None = None,
) -> Any:
    """Push a prepared ``DatasetDict`` (from :func:`faer_hub.data.load_task_dataset`) to the Hub.

    The datasets may not be redistributed publicly (``redistributable`` in :data:`faer_hub.tasks.DATASETS`):
    pushes are private by default, and a public push needs ``i_have_redistribution_rights=True``. With
    ``task``, the label names of the dataset are checked against the task's vocabulary first.
    """
    from datasets import DatasetDict

    if not isinstance(dataset, DatasetDict) or not len(dataset):
        raise TypeError("push_dataset expects a non-empty datasets.DatasetDict (train/validation/test splits)")
    if task is not None:
        _check_dataset_labels(dataset, task)
    sources = [get_task(task).data] if task is not None else DATASETS.values()
    restricted = [d.title for d in sources if not d.redistributable]
    if not private and restricted and not i_have_redistribution_rights:
        raise PermissionError(
            f"{', '.join(restricted)}: licensed for non-commercial research, may not be redistributed: push "
            "privately (the default), or pass i_have_redistribution_rights=True if you hold those rights "
            "(synthetic data, your own images)."
        )
    kwargs = dict(private=private, token=token, commit_message=commit_message or "Upload dataset with faer_hub")
    if max_shard_size is not None:
        kwargs["max_shard_size"] = max_shard_size
    return dataset.push_to_hub(repo_id, **kwargs)


# --- checks -------------------------------------------------------------------------------------


def _card_problems(folder: Path, config: dict[str, Any], repo_id: str | None) -> list[str]:
    """What the card's metadata says that ``config.json`` (or the target ``repo_id``) contradicts."""
    card = folder / "README.md"
    try:
        data = ModelCard.load(card).data
    except ValueError as err:
        return [f"README.md: invalid model card metadata ({err})"]
    problems = []
    if data.library_name != "timm":
        problems.append(f"README.md: library_name is {data.library_name!r}, expected 'timm'")
    facts = card_facts(data)
    missing = [f"{CARD_FACTS_KEY}.{key}" for key in ("architecture", "label_names", "repo_id") if not facts.get(key)]
    if missing:
        problems.append(
            f"{card}: its metadata does not record {', '.join(missing)} (not a faer_hub card, or an older one); "
            f"re-export the folder, e.g. `faer-hub export --model local-dir:{folder} <new folder>`"
        )
    arch = config.get("architecture")
    if facts.get("architecture") and arch and facts["architecture"] != arch:
        problems.append(f"README.md describes architecture {facts['architecture']!r} but config.json has {arch!r}")
    labels = export_label_names(config)
    if facts.get("label_names") and labels is not None and list(facts["label_names"]) != labels:
        problems.append(
            f"README.md lists labels {list(facts['label_names'])} but config.json has {labels}; "
            "re-export so card and weights agree"
        )
    task = config.get("faer_task")
    if facts.get("task") and task and facts["task"] != task:
        problems.append(f"README.md describes task {facts['task']!r} but config.json has {task!r}")
    if repo_id and facts.get("repo_id") and facts["repo_id"] != repo_id:
        problems.append(
            f"README.md is written for {facts['repo_id']!r}, not {repo_id!r}: push with --retarget-card "
            f"(retarget_card=True) to upload the card rewritten for {repo_id!r}, or re-export with "
            f"save_export(..., repo_id={repo_id!r})"
        )
    return problems


def _check_dataset_labels(dataset: Any, task_name: str) -> None:
    task = get_task(task_name)
    for split, ds in dataset.items():
        feature = ds.features.get("label") or ds.features.get("attributes")
        names: Sequence[str] | None = getattr(feature, "names", None) or getattr(
            getattr(feature, "feature", None), "names", None)
        if names is not None and tuple(names) != task.label_names:
            raise ValueError(
                f"dataset split {split!r} has labels {list(names)} but task {task_name!r} expects "
                f"{list(task.label_names)}"
            )
