"""``faer-hub evaluate``: any model source on one split of a dataset -> ``metrics.json`` + figures.

Uses the same pieces as training's validation and test passes: :func:`faer_hub.data.load_task_dataset`,
the one loader :func:`faer_hub.data.loader.build_dataloader` (uint8 batches, no augmentation) and
:func:`faer_hub.evaluation.loop.evaluate_model` (normalisation on the device, the packaged
``evaluate`` metrics).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..io import write_json
from ..hub.sources import create_model_from_source
from ..tasks import TASKS, Task, get_task


def check_report_folder(out_dir: str | os.PathLike) -> None:
    """Refuse ``out_dir`` when it is not a folder, or when its ``metrics.json`` is not an earlier
    report of ``faer-hub evaluate`` (a training run's, say): an evaluation replaces only its own."""
    import json

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out}: it is a file, not a folder; give a folder name")
    metrics = out / "metrics.json"
    if not metrics.exists():
        return
    try:
        earlier = json.loads(metrics.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        earlier = None
    if not (isinstance(earlier, dict) and "split" in earlier and "selection" not in earlier):
        raise FileExistsError(f"--out {out}: its metrics.json is not a report of faer-hub evaluate (a training "
                              "run's?) and is left as it is; choose another folder, such as "
                              f"{out / 'eval'}")


def evaluate_source(
    source: str | torch.nn.Module,
    data_dir: str | os.PathLike,
    *,
    task: str | Task | None = None,
    split: str = "test",
    out_dir: str | os.PathLike | None = None,
    pretrained: bool = False,
    batch_size: int = 64,
    num_workers: int = 0,
    image_size: int | None = None,
    compare_paper: bool = True,
    skip_bad_rows: bool = False,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
    detect_faces: bool = False,
    detector: Any = None,
) -> dict[str, Any]:
    """Evaluate a model (object or source) on ``split`` of the dataset in ``data_dir``.

    Writes ``metrics.json`` and figures (``class_accuracy.png``; ``confusion_matrix.png`` for
    expression tasks; ``va_scatter.png`` for valence/arousal) into ``out_dir`` when given, and
    returns the metrics (classification: fractions in [0, 1]; valence/arousal: CCC, PCC, RMSE, SAGR).
    ``detect_faces``: the images are raw photos; evaluate the largest face of each, cut with the
    model's face-crop protocol as ``faer-hub predict`` cuts it (the whole image when none is found).
    """
    if out_dir is not None:
        check_report_folder(out_dir)  # before the work, not after it
    from ..data import load_task_dataset
    from ..data.loader import build_dataloader
    from ..data.transforms import resolve_data_config
    from ..viz.figures import figures_for_metrics
    from .loop import evaluate_model

    model = source if isinstance(source, torch.nn.Module) else create_model_from_source(source, pretrained=pretrained)
    task = get_task(task) if isinstance(task, str) else (task or Task.from_model(model))
    if task is None:
        raise ValueError(f"cannot tell the model's task from its config; pass --task {'|'.join(TASKS)}")
    if model.num_classes != task.num_classes:
        raise ValueError(f"the model has {model.num_classes} outputs but task {task.name!r} has {task.num_classes} labels")
    dataset = load_task_dataset(task.name, data_dir, skip_bad_rows=skip_bad_rows, cache_dir=cache_dir)
    if split not in dataset:
        raise ValueError(f"no split {split!r} in {data_dir}; available: {', '.join(dataset)}")
    prepare = None
    if detect_faces:
        from ..faces import FaceCropper, protocol_of_model

        prepare = FaceCropper(protocol_of_model(model), detector=detector)
    loader = build_dataloader(dataset[split], resolve_data_config(model, image_size=image_size),
                              batch_size=batch_size, num_workers=num_workers, prepare=prepare)
    metrics = evaluate_model(model, loader, task, progress=progress, return_predictions=True)
    predictions, references = metrics.pop("predictions"), metrics.pop("references")
    metrics["split"] = split
    metrics["model"] = source if isinstance(source, str) else type(model).__name__
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "metrics.json", metrics)
        figures_for_metrics(metrics, task, out, compare_paper=compare_paper, predictions=predictions,
                            references=references)
    return metrics
