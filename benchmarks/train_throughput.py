"""Training throughput and peak memory of FAER vs timm's ConvNeXt of the same size, in one run.

One training step is what ``training/train.py`` does per optimizer step, minus the data: forward
under autocast, cross-entropy, backward, the non-finite check of
:class:`faer_hub.training.guard.StepGuard` (its flag read a step late), and the optimizer that
:func:`faer_hub.training.optim.build_optimizer` builds from the RAF-DB paper config (AdamW, fused
on CUDA). The step is the same for both models, so the ratio isolates the architecture: CC
Attention is FAER's only addition. Each model runs in its own subprocess (peak memory is per
model) and measures every ``--modes`` in turn (``eager``, ``compile``: ``torch.compile``);
``--sync-compare`` adds ``eager_sync``, the eager step with the finite flag read at once (a host
sync every step, as training did before). FAER and ConvNeXt alternate for ``--rounds`` rounds
and the table reports medians and FAER/ConvNeXt ratios. On a GPU the defaults follow the paper
configs (training/configs/*.yaml): bf16 autocast, channels_last, 224 px, and their per-device
batch of 64 (the global 256 comes from processes x accumulation).

    python benchmarks/train_throughput.py                                   # CPU: atto and tiny, batch 16
    python benchmarks/train_throughput.py --device cuda --sizes base       # GPU: bf16, batch 64 per device
    python benchmarks/train_throughput.py --device cuda --sizes base --modes eager compile --sync-compare
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

from _compare import REPO, compare_sizes, print_table, ratio_rows, timed, write_results

PAPER_CONFIG = REPO / "training" / "configs" / "rafdb.yaml"
METRICS = ("images_per_s", "peak_mib", "params_m")


def measure(model_name: str, args: argparse.Namespace) -> dict:
    """``{mode: {"images_per_s", "peak_mib", "params_m"}}`` of ``model_name`` in this process."""
    import timm
    import torch
    import torch.nn.functional as F

    import faer_hub  # noqa: F401  (registers faer_*)
    from faer_hub.training.config import load_config
    from faer_hub.training.guard import StepGuard
    from faer_hub.training.optim import build_optimizer

    torch.manual_seed(0)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    torch.backends.cudnn.benchmark = cuda  # as training/train.py sets them
    if cuda:
        torch.set_float32_matmul_precision("high")
    model = timm.create_model(model_name, num_classes=7, drop_path_rate=0.1).to(device).train()
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=device)
    y = torch.randint(0, 7, (args.batch_size,), device=device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, load_config(PAPER_CONFIG), backbone_pretrained=False, fused=cuda)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)
    guard = StepGuard(SimpleNamespace(mixed_precision="fp16" if args.precision == "fp16" else "no",
                                      num_processes=1, device=device), Path("."))
    params = [p for p in model.parameters()]
    modes = list(args.modes) + (["eager_sync"] if args.sync_compare else [])
    results = {}
    for mode in modes:
        step_model = torch.compile(model, backend=args.compile_backend) if mode == "compile" else model
        read_at_once = mode == "eager_sync"

        def step(number: int) -> None:
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = F.cross_entropy(step_model(x), y)
            guard.observe(loss)
            loss.backward()
            guard.check(params, grad_norm=None, step=number, epoch=0)
            if read_at_once:
                guard.flush()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        elapsed, peak_mib = timed(step, warmup=args.warmup, iters=args.iters, cuda=cuda, drain=guard.flush)
        results[mode] = {"images_per_s": args.batch_size * args.iters / elapsed, "peak_mib": peak_mib,
                         "params_m": sum(p.numel() for p in params) / 1e6}
    return results


def _paper_per_device_batch() -> int:
    """``train.per_device_batch_size`` of the paper configs (they agree; checked by the tests)."""
    import yaml

    return int(yaml.safe_load(PAPER_CONFIG.read_text())["train"]["per_device_batch_size"])


def _worker_args(args: argparse.Namespace) -> list[str]:
    out = ["--device", args.device, "--batch-size", str(args.batch_size), "--img-size", str(args.img_size),
           "--warmup", str(args.warmup), "--iters", str(args.iters), "--precision", args.precision,
           "--compile-backend", args.compile_backend, "--modes", *args.modes]
    return out + (["--channels-last"] if args.channels_last else []) + (["--sync-compare"] if args.sync_compare else [])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=None, help="default: atto tiny (CPU), base (GPU)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: 16 on CPU; on GPU the paper configs' train.per_device_batch_size (64)")
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default=None, help="default: fp32 CPU, bf16 GPU")
    p.add_argument("--channels-last", action="store_true", default=None, help="default: on for GPU")
    p.add_argument("--modes", nargs="+", choices=["eager", "compile"], default=["eager"],
                   help="measured in turn in each worker (compile: torch.compile)")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (eager: tracing only)")
    p.add_argument("--sync-compare", action="store_true",
                   help="also measure eager with the finite flag read every step (a host sync per step)")
    p.add_argument("--warmup", type=int, default=None, help="default: 1 on CPU, 5 on GPU")
    p.add_argument("--iters", type=int, default=None, help="default: 3 on CPU, 20 on GPU")
    p.add_argument("--rounds", type=int, default=3, help="alternating FAER/ConvNeXt repeats; medians are reported")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    gpu = args.device.startswith("cuda")
    args.sizes = args.sizes or (["base"] if gpu else ["atto", "tiny"])
    args.batch_size = args.batch_size or (_paper_per_device_batch() if gpu else 16)
    args.precision = args.precision or ("bf16" if gpu else "fp32")
    args.channels_last = gpu if args.channels_last is None else args.channels_last
    args.warmup = args.warmup if args.warmup is not None else (5 if gpu else 1)
    args.iters = args.iters or (20 if gpu else 3)

    if args.worker:
        print(json.dumps(measure(args.worker, args)))
        return

    print(f"training step (fwd + CE + bwd + finite check + training's AdamW): device={args.device} "
          f"batch={args.batch_size} img={args.img_size} precision={args.precision} "
          f"channels_last={args.channels_last} iters={args.iters} rounds={args.rounds}", flush=True)
    rows = ratio_rows(compare_sizes(__file__, args.sizes, args.rounds, _worker_args(args), METRICS))
    print_table(rows)
    write_results(args.json, vars(args), rows)


if __name__ == "__main__":
    main()
