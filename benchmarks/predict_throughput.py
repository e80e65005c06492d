"""Throughput of the whole prediction path on CPU: decode, detect (MTCNN), align, classify.

Photos are scikit-image's bundled ones (no downloads), written as JPEGs: a portrait, the
cameraman, two faces side by side, and a scene without a face, cycled to ``--images`` files.
For each model the path runs ``--rounds`` times (after one warm-up) and the median round is
reported as images/s and faces/s, with the share of the time each stage takes.

    python benchmarks/predict_throughput.py                       # faer_atto.rafdb and faer_base.rafdb
    python benchmarks/predict_throughput.py --models faer_base.celeba --images 48 --threads 4
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def write_photos(folder: Path, count: int) -> list[Path]:
    import numpy as np
    from PIL import Image
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    camera = Image.fromarray(data.camera()).convert("RGB")
    pair = Image.new("RGB", (1040, 512), (128, 128, 128))
    pair.paste(astronaut, (0, 0))
    pair.paste(camera, (528, 0))
    scene = Image.fromarray(np.asarray(data.coffee()))
    kinds = [astronaut, camera, pair, scene]
    paths = []
    for i in range(count):
        path = folder / f"photo_{i:03d}.jpg"
        kinds[i % len(kinds)].save(path, quality=92)
        paths.append(path)
    return paths


def run_once(predictor, paths: list[Path]) -> dict[str, float]:
    """Seconds per stage for one pass over ``paths``, through the Predictor's own steps."""
    from faer_hub.io import read_image

    times = dict(decode=0.0, detect=0.0, align=0.0, classify=0.0)
    crops = []
    for path in paths:
        t0 = time.perf_counter()
        image = read_image(path)
        t1 = time.perf_counter()
        faces = predictor.detector(image)
        t2 = time.perf_counter()
        crops += [predictor.crop(image, face) for face in faces]
        t3 = time.perf_counter()
        times["decode"] += t1 - t0
        times["detect"] += t2 - t1
        times["align"] += t3 - t2
    t4 = time.perf_counter()
    predictor.classify(crops)
    times["classify"] = time.perf_counter() - t4
    times["faces"] = len(crops)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["faer_atto.rafdb", "faer_base.rafdb"])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import timm
    import torch

    import faer_hub  # noqa: F401
    from faer_hub.inference.predict import Predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; {args.images} photos; "
          f"median of {args.rounds} rounds (untrained weights: speed does not depend on them)")
    print("| model | input | images/s | faces/s | decode | detect | align | classify |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp), args.images)
        for name in args.models:
            torch.manual_seed(0)
            predictor = Predictor(timm.create_model(name), device="cpu", batch_size=args.batch_size)
            run_once(predictor, paths[:4])  # warm-up
            rounds = [run_once(predictor, paths) for _ in range(args.rounds)]
            total = [sum(r[k] for k in ("decode", "detect", "align", "classify")) for r in rounds]
            median = rounds[total.index(statistics.median_low(total))]
            seconds = statistics.median_low(total)
            share = {k: 100 * median[k] / seconds for k in ("decode", "detect", "align", "classify")}
            size = predictor.model.pretrained_cfg["input_size"][-1]
            print(f"| {name} | {size} px | {len(paths) / seconds:.1f} | {median['faces'] / seconds:.1f} | "
                  + " | ".join(f"{share[k]:.0f} %" for k in ("decode", "detect", "align", "classify")) + " |",
                  flush=True)


if __name__ == "__main__":
    main()
