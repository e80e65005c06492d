"""Throughput of the whole photo path on CPU: decode, detect (MTCNN), align, classify.

Photos are scikit-image's bundled ones (no downloads), written as JPEGs: a portrait, the
cameraman (both 512 x 512), two faces side by side, and a scene without a face, cycled to
``--images`` files; ``--video`` times ``--images`` frames of one video instead (MJPG, 512 x 512:
the portrait moving a few pixels per frame). Every setup runs :meth:`faer_hub.Analyzer.iter_units` over them, the path
``faer-hub predict`` and ``analyze`` take, with one of these detectors:

- ``before``: facenet-pytorch's MTCNN as this package ran it before: every photo searched whole
  down to 20-pixel faces, one at a time, on torch's threads;
- ``per image, torch threads``: :class:`faer_hub.faces.MTCNNDetector` called one photo at a
  time, its networks on torch's CPU threads (``--threads``; ``MTCNNDetector()``);
- ``per image``: the same on one thread (``MTCNNDetector(threads=1)``);
- ``batched``: ``detect_batch`` on windows of consecutive photos (same-size ones searched
  together), as the predictor searches, on one thread;
- ``batched, torch threads``: the same on torch's threads: the predictor's default.

With ``--threads 1`` the ``torch threads`` setups are the one-thread ones.

The setups take turns round by round (after one warm-up each), so that a busy machine slows them
alike; each setup's median round is reported as images/s and faces/s, CPU seconds per image and
the share of each stage, then each setup's speed relative to the first (the median of the
per-round ratios). A setup that finds fewer faces than the first is flagged.

    python benchmarks/predict_throughput.py --models faer_atto.rafdb --threads 2
    python benchmarks/predict_throughput.py --setups before batched --threads 1 --images 48 --rounds 5
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


def write_video(folder: Path, count: int) -> list[Path]:
    """One MJPG video of ``count`` 512 x 512 frames: the portrait, shifted 3 px right per frame."""
    import cv2
    import numpy as np
    from skimage import data

    path = folder / "portrait.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (512, 512))
    bgr = cv2.cvtColor(np.asarray(data.astronaut()), cv2.COLOR_RGB2BGR)
    for i in range(count):
        writer.write(np.roll(bgr, 3 * i, axis=1))
    writer.release()
    return [path]


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


class OneByOne:
    """``detector`` without its ``detect_batch``: the predictor then searches one photo at a time."""

    def __init__(self, detector) -> None:
        self.detector, self.max_side = detector, detector.max_side

    def __call__(self, image):
        return self.detector(image)


SETUPS = ("before", "per image, torch threads", "per image", "batched", "batched, torch threads")


def detector_setups(names: list[str]) -> dict[str, object]:
    """Name -> detector, for the names asked for."""
    from faer_hub.faces.detect import MTCNNDetector

    one, torch_threads = MTCNNDetector(threads=1), MTCNNDetector()
    build = {"before": DetectorAsBefore, "per image, torch threads": lambda: OneByOne(torch_threads),
             "per image": lambda: OneByOne(one), "batched": lambda: one,
             "batched, torch threads": lambda: torch_threads}
    return {name: build[name]() for name in names}


def run_once(predictor, paths: list[Path]) -> dict[str, float]:
    """Seconds per stage (timed inside the path), wall and CPU seconds, pictures (photos or video
    frames) and faces for one pass."""
    stats = dict.fromkeys(STAGES, 0.0)
    faces = pictures = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for unit in predictor.iter_units(paths, stats=stats):
        faces += sum(row.status == "ok" for row in unit.rows)
        pictures += not unit.end
    stats.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu, faces=faces, pictures=pictures)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["faer_atto.rafdb", "faer_base.rafdb"])
    parser.add_argument("--images", type=int, default=24, help="photos, or video frames with --video")
    parser.add_argument("--video", action="store_true", help="time the frames of one video instead of photos")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="crops per forward pass (default: the predictor's, 8 on CPU)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--setups", nargs="+", default=list(SETUPS[1:4]), choices=SETUPS,
                        help="detectors to compare, taking turns; ratios are relative to the first")
    args = parser.parse_args()

    import timm
    import torch

    import faer_hub  # noqa: F401
    from faer_hub.inference.predict import Predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    setups = detector_setups(args.setups)
    what = "frames of one video" if args.video else "photos"
    print(f"CPU, torch {torch.__version__}, {torch.get_num_threads()} threads; {args.images} {what}; "
          f"median of {args.rounds} rounds, setups taking turns (untrained weights: speed does not depend on them)")
    print("| model | detector | images/s | faces/s | faces found | CPU s/image | decode | detect | align | classify |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = (write_video if args.video else write_photos)(Path(tmp), args.images)
        for name in args.models:
            torch.manual_seed(0)
            model = timm.create_model(name)
            predictors = {setup: Predictor(model, device="cpu", batch_size=args.batch_size, detector=detector)
                          for setup, detector in setups.items()}
            rounds: dict[str, list[dict[str, float]]] = {setup: [] for setup in setups}
            for predictor in predictors.values():
                run_once(predictor, paths[:8])  # warm-up (the whole video)
            for _ in range(args.rounds):
                for setup, predictor in predictors.items():
                    rounds[setup].append(run_once(predictor, paths))
            size = model.pretrained_cfg["input_size"][-1]
            first = next(iter(rounds.values()))
            for setup, runs in rounds.items():
                walls = [r["wall"] for r in runs]
                median = runs[walls.index(statistics.median_low(walls))]
                seconds = median["wall"]
                share = {k: 100 * median[k] / seconds for k in STAGES}
                lost = " (fewer)" if median["faces"] < first[0]["faces"] else ""
                print(f"| {name} ({size} px) | {setup} | {median['pictures'] / seconds:.1f} | "
                      f"{median['faces'] / seconds:.1f} | {median['faces']:.0f}{lost} | "
                      f"{median['cpu'] / median['pictures']:.3f} | "
                      + " | ".join(f"{share[k]:.0f} %" for k in STAGES) + " |", flush=True)
                speedup = statistics.median(a["wall"] / b["wall"] for a, b in zip(first, runs))
                ratios.append(f"{name}: {setup} {speedup:.2f}x")
    print(f"speed relative to {args.setups[0]} (median of the per-round ratios): " + "; ".join(ratios))


if __name__ == "__main__":
    main()
