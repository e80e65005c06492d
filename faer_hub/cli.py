"""``faer-hub`` command line: thin subcommands over the library.

Each subcommand is one ``_add_<name>_parser`` function that registers its arguments and a
handler; handlers return the process exit status.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence


def _add_list_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list FAER models, their pretrained tags, tasks and sizes")
    p.add_argument("--filter", default="faer_*", help="model name pattern (default: faer_*)")
    p.set_defaults(handler=_run_list)


def _run_list(args: argparse.Namespace) -> int:
    from .zoo import list_models

    rows = list_models(args.filter)
    header = ("model", "tags", "task", "classes", "params (M)")
    table = [header] + [
        (r.name, ", ".join(r.tags) or "-", r.task or "-", str(r.num_classes), f"{r.params / 1e6:.2f}") for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def _add_convert_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a checkpoint of the authors' training code (or any FAER/ConvNeXt checkpoint) to an export folder",
    )
    p.add_argument("checkpoint", help="checkpoint file (.pth/.pt loaded with weights_only=True, or .safetensors)")
    p.add_argument("output_dir", help="export folder to write (config.json, model.safetensors, README.md)")
    p.add_argument("--task", required=True, help="task the checkpoint was trained for: celeba, rafdb, affectnet7, affectnet8")
    p.add_argument("--model", default=None, help="architecture (default: the task's model, e.g. faer_raf = FAER-Base)")
    p.set_defaults(handler=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from .convert import convert_checkpoint

    folder = convert_checkpoint(args.checkpoint, args.output_dir, task=args.task, model_name=args.model)
    print(f"wrote {folder} (load it with timm.create_model('local-dir:{folder}', pretrained=True))")
    return 0


def _add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a model as a Hub-ready folder (config.json, model.safetensors, README.md)")
    p.add_argument("model", help="timm name (faer_atto.rafdb), 'hf-hub:org/repo', 'local-dir:path' or an export folder")
    p.add_argument("output_dir")
    p.add_argument("--task", default=None, help="celeba, rafdb, affectnet7 or affectnet8 (default: from the model's config)")
    p.add_argument("--pretrained", action="store_true", help="load the timm name's pretrained weights first")
    p.add_argument("--repo-id", default=None, help="the Hub repo the folder is meant for (used in the card)")
    p.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from .hub import save_export
    from .sources import create_model_from_source

    model = create_model_from_source(args.model, pretrained=args.pretrained)
    folder = save_export(model, args.output_dir, task=args.task, repo_id=args.repo_id)
    print(f"wrote {folder} (load it with timm.create_model('local-dir:{folder}', pretrained=True))")
    return 0


def _add_synth_parser(sub: argparse._SubParsersAction) -> None:
    from .data.synth import LAYOUTS

    p = sub.add_parser("synth", help="write generated faces in a dataset's official on-disk format")
    p.add_argument("dataset", choices=sorted(LAYOUTS), help="dataset format to write")
    p.add_argument("output_dir", help="new (or empty) folder to fill; pass it as data_dir to the loaders")
    p.add_argument("--layout", default="official",
                   help="celeba: official|torchvision|kaggle; rafdb: official|folders; affectnet: official|new|folders")
    p.add_argument("--num-train", type=int, default=70, help="train annotation rows")
    p.add_argument("--num-test", type=int, default=35, help="test annotation rows")
    p.add_argument("--num-val", type=int, default=None, help="CelebA validation rows (default: --num-test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=None, help="aligned image side (default: the dataset's)")
    p.set_defaults(handler=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from .data.synth import write_synthetic

    try:
        root = write_synthetic(args.dataset, args.output_dir, layout=args.layout, num_train=args.num_train,
                               num_test=args.num_test, num_val=args.num_val, seed=args.seed,
                               image_size=args.image_size)
    except FileExistsError as err:
        print(f"faer-hub synth: error: {err}", file=sys.stderr)
        return 2
    print(f"wrote generated {args.dataset} ({args.layout} layout) to {root}")
    return 0


PARSERS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_list_parser,
    _add_convert_parser,
    _add_export_parser,
    _add_synth_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faer-hub", description="FAER model zoo tools")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in PARSERS:
        add(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError, KeyError) as err:
        print(f"faer-hub {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
