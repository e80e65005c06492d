"""Inference throughput and peak memory of FAER vs timm's ConvNeXt of the same size, in one run.

Each model runs in its own subprocess (so peak memory is per model) and measures every
``--modes`` in turn (``eager``, ``compile``: ``torch.compile``); FAER and ConvNeXt alternate, and
each pair is repeated ``--rounds`` times; the table reports medians and the FAER/ConvNeXt ratio.
On a GPU it uses bf16 autocast and channels_last.

    python benchmarks/inference_throughput.py                      # CPU: atto, tiny, base at 224 px
    python benchmarks/inference_throughput.py --device cuda --batch-size 256 --sizes atto tiny small base large
    python benchmarks/inference_throughput.py --device cuda --batch-size 256 --sizes base --modes eager compile
"""

from __future__ import annotations

import argparse
import json

from _compare import compare_sizes, print_table, ratio_rows, timed, write_results

METRICS = ("images_per_s", "peak_mib")


def measure(model_name: str, args: argparse.Namespace) -> dict:
    """``{mode: {"images_per_s", "peak_mib"}}`` of ``model_name`` in this process."""
    import timm
    import torch

    import faer_hub  # noqa: F401  (registers faer_*)

    torch.manual_seed(0)
    device = args.device
    model = timm.create_model(model_name, num_classes=7).eval().to(device)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size, device=device)
    cuda = device.startswith("cuda")
    if cuda:
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
        model = model.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    results = {}
    for mode in args.modes:
        run = torch.compile(model, backend=args.compile_backend) if mode == "compile" else model
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False)
        with torch.inference_mode(), autocast:
            elapsed, peak_mib = timed(lambda _: run(x), warmup=args.warmup, iters=args.iters, cuda=cuda)
        results[mode] = {"images_per_s": args.batch_size * args.iters / elapsed, "peak_mib": peak_mib}
    return results


def _worker_args(args: argparse.Namespace) -> list[str]:
    return ["--device", args.device, "--batch-size", str(args.batch_size), "--img-size", str(args.img_size),
            "--warmup", str(args.warmup), "--iters", str(args.iters), "--compile-backend", args.compile_backend,
            "--modes", *args.modes]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", nargs="+", default=["atto", "tiny", "base"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--img-size", type=int, default=224)
    p.add_argument("--modes", nargs="+", choices=["eager", "compile"], default=["eager"],
                   help="measured in turn in each worker (compile: torch.compile)")
    p.add_argument("--compile-backend", default="inductor", help="torch.compile backend (eager: tracing only)")
    p.add_argument("--warmup", type=int, default=None, help="default: 2 on CPU, 20 on GPU (cuDNN autotuning, clocks)")
    p.add_argument("--iters", type=int, default=None, help="default: 5 on CPU, 100 on GPU")
    p.add_argument("--rounds", type=int, default=3, help="alternating FAER/ConvNeXt repeats; medians are reported")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    gpu = args.device.startswith("cuda")
    args.warmup = args.warmup if args.warmup is not None else (20 if gpu else 2)
    args.iters = args.iters or (100 if gpu else 5)

    if args.worker:
        print(json.dumps(measure(args.worker, args)))
        return

    print(f"device={args.device} batch={args.batch_size} img={args.img_size} iters={args.iters} rounds={args.rounds}",
          flush=True)
    rows = ratio_rows(compare_sizes(__file__, args.sizes, args.rounds, _worker_args(args), METRICS))
    print_table(rows)
    write_results(args.json, vars(args), rows)


if __name__ == "__main__":
    main()
