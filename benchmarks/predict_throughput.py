"""Throughput of the whole prediction path on CPU: decode, detect (MTCNN), align, classify.

Photos are scikit-image's bundled ones (no downloads), written as JPEGs: a portrait, the
cameraman, two faces side by side, and a scene without a face, cycled to ``--images`` files.
Each model runs with each detector setup below; the setups take turns round by round (after one
warm-up each), so that a busy machine slows them alike, and the median round of each is reported
as images/s and faces/s, with the share of the time each stage takes:

- ``before``: facenet-pytorch's MTCNN as this package ran it before: every photo searched whole
  down to 20-pixel faces, one at a time;
- ``per image``: :class:`faer_hub.faces.MTCNNDetector` as ``faer-hub predict`` calls it;
- ``batched``: the same detector through ``detect_batch`` (same-size photos together).

The faces found are counted per setup; a setup that finds fewer than ``before`` is flagged.

    python benchmarks/predict_throughput.py                       # faer_atto.rafdb and faer_base.rafdb
    python benchmarks/predict_throughput.py --models faer_base.celeba --images 48 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

STAGES = ("decode", "detect", "align", "classify")


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


class DetectorAsBefore:
    """facenet-pytorch's MTCNN as this package called it before: one photo at a time, searched
    whole down to 20-pixel faces, no edge search, no geometry check (the photos here are under
    its 1600-pixel downscaling limit)."""

    def __init__(self) -> None:
        from facenet_pytorch import MTCNN

        self.mtcnn = MTCNN(keep_all=True, min_face_size=20, post_process=False, device="cpu")

    def __call__(self, image):
        import numpy as np

        from faer_hub.faces.detect import Detection

        boxes, scores, points = self.mtcnn.detect(np.asarray(image), landmarks=True)
        if boxes is None:
            return []
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        points = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2)
        return [Detection((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), float(score),
                          tuple((float(x), float(y)) for x, y in pts))
                for (x0, y0, x1, y1), score, pts in zip(boxes, np.asarray(scores, dtype=np.float32), points)
                if score >= 0.9]


def detector_setups() -> dict[str, tuple[object, bool]]:
    """Name -> (detector, batched)."""
    from faer_hub.faces.detect import MTCNNDetector

    now = MTCNNDetector()
    return {"before": (DetectorAsBefore(), False), "per image": (now, False), "batched": (now, True)}


def run_once(predictor, detector, batched: bool, paths: list[Path], chunk: int) -> dict[str, float]:
    """Seconds per stage for one pass over ``paths``, through the Predictor's own steps."""
    from faer_hub.io import read_image

    times = dict.fromkeys(STAGES, 0.0)
    crops = []
    for start in range(0, len(paths), chunk if batched else 1):
        t0 = time.perf_counter()
        images = [read_image(path) for path in paths[start:start + (chunk if batched else 1)]]
        t1 = time.perf_counter()
        found = detector.detect_batch(images) if batched else [detector(image) for image in images]
        t2 = time.perf_counter()
        crops += [predictor.crop(image, face) for image, faces in zip(images, found) for face in faces]
        times["decode"] += t1 - t0
        times["detect"] += t2 - t1
        times["align"] += time.perf_counter() - t2
    t3 = time.perf_counter()
    predictor.classify(crops)
    times["classify"] = time.perf_counter() - t3
    times["faces"] = len(crops)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["faer_atto.rafdb", "faer_base.rafdb"])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="crops per forward pass, photos per detect_batch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import timm
    import torch

    import faer_hub  # noqa: F401
    from faer_hub.inference.predict import Predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    setups = detector_setups()
    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; {args.images} photos; "
          f"median of {args.rounds} rounds, setups taking turns (untrained weights: speed does not depend on them)")
    print("| model | detector | images/s | faces/s | faces found | decode | detect | align | classify |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_photos(Path(tmp), args.images)
        for name in args.models:
            torch.manual_seed(0)
            predictor = Predictor(timm.create_model(name), device="cpu", batch_size=args.batch_size,
                                  detect_faces=False)
            rounds: dict[str, list[dict[str, float]]] = {setup: [] for setup in setups}
            for setup, (detector, batched) in setups.items():
                run_once(predictor, detector, batched, paths[:4], args.batch_size)  # warm-up
            for _ in range(args.rounds):
                for setup, (detector, batched) in setups.items():
                    rounds[setup].append(run_once(predictor, detector, batched, paths, args.batch_size))
            size = predictor.model.pretrained_cfg["input_size"][-1]
            for setup, runs in rounds.items():
                total = [sum(r[k] for k in STAGES) for r in runs]
                seconds = statistics.median_low(total)
                median = runs[total.index(seconds)]
                share = {k: 100 * median[k] / seconds for k in STAGES}
                lost = " (fewer than before)" if median["faces"] < rounds["before"][0]["faces"] else ""
                print(f"| {name} ({size} px) | {setup} | {len(paths) / seconds:.1f} | "
                      f"{median['faces'] / seconds:.1f} | {median['faces']:.0f}{lost} | "
                      + " | ".join(f"{share[k]:.0f} %" for k in STAGES) + " |", flush=True)


if __name__ == "__main__":
    main()
