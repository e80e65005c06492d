"""Loader throughput: faer_hub.data (Arrow cache + the one loader) vs torchvision.datasets.CelebA.

Both read the same generated CelebA folder (178x218 JPEGs, torchvision's flat layout
``root/celeba/...``) and give the same normalised tensors (timm eval transform of ``faer_base`` at
224 px; faer_hub's uint8 batches are normalised per batch with ``BatchNormalizer``, as its
consumers do on their device), in one process each by default (``--num-workers 0``: images/s per worker). The two are timed in
alternation and the median of the repeats is reported, with the ratio faer_hub / torchvision.

    python benchmarks/loader_throughput.py --num-images 2000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's faer_hub, installed or not

import timm  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torchvision.datasets import CelebA  # noqa: E402

import faer_hub  # noqa: E402,F401  (registers the FAER models)
from faer_hub.data import load_dataset  # noqa: E402
from faer_hub.data.synthetic.write import write_synthetic  # noqa: E402
from faer_hub.data.loader import build_dataloader  # noqa: E402
from faer_hub.data.transforms import BatchNormalizer, build_transform, resolve_data_config  # noqa: E402


class LocalCelebA(CelebA):
    """torchvision's CelebA without the MD5 check (generated files differ from the official ones)."""

    def _check_integrity(self) -> bool:
        return (Path(self.root) / self.base_folder / "img_align_celeba").is_dir()


def time_loader(loader: DataLoader, normalize: BatchNormalizer | None = None) -> tuple[float, int]:
    """Seconds to read every batch (normalised with ``normalize`` when given) and the image count."""
    start = time.perf_counter()
    count = 0
    for batch in loader:
        pixels = batch["pixel_values"] if isinstance(batch, dict) else batch[0]
        if normalize is not None:
            pixels = normalize(pixels)
        count += len(pixels)
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="existing generated CelebA root (flat layout); default: generate into a temp folder")
    parser.add_argument("--num-images", type=int, default=2000, help="train images to generate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--model", default="faer_base", help="model whose data config defines the transform")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-workers", type=int, default=0,
                        help="DataLoader worker processes for both loaders (rates are divided by max(1, N))")
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_dir
        if root is None or not (root / "celeba").is_dir():
            root = root or Path(tmp) / "celeba_root"
            start = time.perf_counter()
            write_synthetic("celeba", root, layout="torchvision", num_train=args.num_images, num_test=8, num_val=8)
            print(f"generated {args.num_images} CelebA-format images in {time.perf_counter() - start:.1f}s")
        start = time.perf_counter()
        dataset = load_dataset("celeba", root, cache_dir=Path(tmp) / "hf_cache")["train"]
        print(f"faer_hub.data preparation (parse + check + Arrow cache): {time.perf_counter() - start:.1f}s "
              f"for {len(dataset)} images")

        model = timm.create_model(args.model, pretrained=False)
        config = resolve_data_config(model, image_size=args.image_size)
        ours = build_dataloader(dataset, config, batch_size=args.batch_size, num_workers=args.num_workers)
        normalize = BatchNormalizer(config)
        theirs_ds = LocalCelebA(str(root), split="train", target_type="attr",
                                transform=build_transform(config))
        theirs = DataLoader(theirs_ds, batch_size=args.batch_size, shuffle=False, num_workers=args.num_workers,
                            persistent_workers=args.num_workers > 0)
        assert len(theirs_ds) == len(dataset)

        time_loader(ours, normalize), time_loader(theirs)  # warm the page cache and code paths
        rates: dict[str, list[float]] = {"faer_hub": [], "torchvision": []}
        for _ in range(args.repeats):
            for name, loader, norm in (("faer_hub", ours, normalize), ("torchvision", theirs, None)):
                seconds, count = time_loader(loader, norm)
                rates[name].append(count / seconds / max(1, args.num_workers))
        ours_rate = statistics.median(rates["faer_hub"])
        theirs_rate = statistics.median(rates["torchvision"])
        print(f"faer_hub.data        : {ours_rate:7.1f} images/s per worker")
        print(f"torchvision CelebA   : {theirs_rate:7.1f} images/s per worker")
        print(f"ratio faer_hub / torchvision: {ours_rate / theirs_rate:.2f}x "
              f"({len(dataset)} images, {args.image_size}px, batch {args.batch_size}, "
              f"{args.num_workers} workers, median of {args.repeats})")


if __name__ == "__main__":
    main()
