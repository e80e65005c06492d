"""Run by ``accelerate launch`` in tests: evaluate an export on a test split, dump predictions.

    python eval_worker.py <export-dir> <data-dir> <task> <batch-size> <out.json>
"""

import json
import sys
from pathlib import Path

import timm

import faer_hub  # noqa: F401
from faer_hub.data import load_task_dataset
from faer_hub.data.loader import build_dataloader
from faer_hub.data.transforms import resolve_data_config
from faer_hub.evaluation.loop import evaluate_model


def main() -> None:
    export, data_dir, task, batch_size, out = sys.argv[1:6]
    data_dir = Path(data_dir)
    model = timm.create_model(f"local-dir:{export}", pretrained=True)
    splits = load_task_dataset(task, data_dir, cache_dir=data_dir.parent / f".{data_dir.name}.hf_cache")
    loader = build_dataloader(splits["test"], resolve_data_config(model), batch_size=int(batch_size))
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    metrics = evaluate_model(model, loader, task, return_predictions=True)
    if accelerator.is_main_process:
        metrics["num_processes"] = accelerator.num_processes
        Path(out).write_text(json.dumps(metrics))


if __name__ == "__main__":
    main()
