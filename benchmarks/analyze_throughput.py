"""Throughput of ``faer_hub.analyze`` on real photos: faces/s and the share of each stage.

The photos are the ones scikit-image ships in its wheel (no downloads; ``tests/photos.py``): two
portraits (the astronaut, the cameraman) and four scenes without a face (coffee, rocket, cat,
brick wall), written as JPEGs and cycled to ``--images`` files. Each round runs the analyzer's own
streaming path (:meth:`faer_hub.Analyzer.iter_units`, what ``analyze`` and ``faer-hub predict``
run) over the folder and writes the CSV rows as ``predict --output`` does; stages are timed inside
that path: decode, detect (MTCNN), align, classify (transform + forward), write. The median of
``--rounds`` rounds (after a warm-up) is reported.

    OMP_NUM_THREADS=1 python benchmarks/analyze_throughput.py --threads 1
    python benchmarks/analyze_throughput.py --models faer_base.rafdb --device cuda --batch-size 64
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

STAGES = ("decode", "detect", "align", "classify", "write")
FACE_PHOTOS = ("astronaut", "camera")
SCENES = ("coffee", "rocket", "chelsea", "brick")


def write_photos(folder: Path, count: int) -> None:
    import numpy as np
    from PIL import Image
    from skimage import data

    photos = [Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB") for name in FACE_PHOTOS + SCENES]
    for i in range(count):
        photos[i % len(photos)].save(folder / f"photo_{i:03d}.jpg", quality=92)


def run_once(analyzer, folder: Path, out: Path) -> dict[str, float]:
    """Seconds per stage, wall seconds, pictures and faces for one pass over ``folder``."""
    from faer_hub.inference.output import RowWriter

    stats: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    pictures = faces = 0
    start = time.perf_counter()
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        writer = RowWriter(f, "csv", labels=analyzer.csv_labels, ranks=analyzer.ranks,
                           multi_label=analyzer.multi_label)
        f.write(writer.header_text())
        for unit in analyzer.iter_units(folder, stats=stats):
            t0 = time.perf_counter()
            writer.write(unit.rows)
            stats["write"] += time.perf_counter() - t0
            pictures += not unit.end
            faces += sum(row.status == "ok" for row in unit.rows)
    stats.update(wall=time.perf_counter() - start, pictures=pictures, faces=faces)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["faer_atto.rafdb", "faer_base.rafdb"])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None, help="faces per forward pass (default: the analyzer's, 8 on CPU)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import timm
    import torch

    import faer_hub

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{args.device}, torch {torch.__version__}, {torch.get_num_threads()} CPU threads; {args.images} photos "
          f"({len(FACE_PHOTOS)} of {len(FACE_PHOTOS) + len(SCENES)} with a face); median of {args.rounds} rounds "
          "(untrained weights: speed does not depend on them)")
    print("| model | input | images/s | faces/s | " + " | ".join(STAGES) + " |")
    print("|---|---|---|---|" + "---|" * len(STAGES))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        write_photos(folder, args.images)
        for name in args.models:
            torch.manual_seed(0)
            analyzer = faer_hub.Analyzer(timm.create_model(name), device=args.device, batch_size=args.batch_size)
            run_once(analyzer, folder, Path(tmp) / "warmup.csv")
            rounds = [run_once(analyzer, folder, Path(tmp) / "rows.csv") for _ in range(args.rounds)]
            walls = [r["wall"] for r in rounds]
            median = rounds[walls.index(statistics.median_low(walls))]
            seconds = median["wall"]
            share = {k: 100 * median[k] / seconds for k in STAGES}
            size = analyzer.model.pretrained_cfg["input_size"][-1]
            print(f"| {name} | {size} px | {median['pictures'] / seconds:.1f} | {median['faces'] / seconds:.1f} | "
                  + " | ".join(f"{share[k]:.0f} %" for k in STAGES) + " |", flush=True)


if __name__ == "__main__":
    main()
