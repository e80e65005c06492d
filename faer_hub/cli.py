"""``faer-hub`` command line: thin subcommands over the library.

Each subcommand is one ``_add_<name>_parser`` function that registers its arguments and a
handler; handlers return the process exit status (see :data:`EXIT_STATUSES`). Expected
failures (a missing file, bad input, no network) end in one line naming the file and the fix;
anything else is an internal error with its own status.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Callable, Optional, Sequence

from .errors import EXPECTED_ERRORS, one_line




def _add_list_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list FAER models, their pretrained tags, tasks and sizes")
    p.add_argument("--filter", default="faer_*", help="model name pattern (default: faer_*)")
    p.set_defaults(handler=_run_list)


def _run_list(args: argparse.Namespace) -> int:
    from .models.zoo import list_models

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
    p.add_argument("--task", required=True, help="task the checkpoint was trained for: celeba, rafdb, affectnet7, affectnet8, affectnet_va")
    p.add_argument("--model", default=None, help="architecture (default: the task's model, e.g. faer_raf = FAER-Base)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in output_dir")
    p.add_argument("--allow-missing-weights", action="store_true",
                   help="export a checkpoint without CC Attention weights (a plain ConvNeXt), whose CC Attention "
                        "then stays at random initialisation (warned about); default: refuse it")
    p.set_defaults(handler=_run_convert)


def _run_convert(args: argparse.Namespace) -> int:
    from .hub.export import EXPORT_FILES, is_export
    from .io import check_destination
    from .hub.convert import convert_checkpoint

    # the destination rule before the model is loaded, not after
    check_destination(args.output_dir, own_files=EXPORT_FILES, overwrite=args.overwrite, what="an export",
                      recognise=is_export)
    folder = convert_checkpoint(args.checkpoint, args.output_dir, task=args.task, model_name=args.model,
                                overwrite=args.overwrite, allow_missing_weights=args.allow_missing_weights)
    print(f"wrote {folder} (load it with timm.create_model('local-dir:{folder}', pretrained=True))")
    return 0


def _add_export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a model as a Hub-ready folder (config.json, model.safetensors, README.md)")
    p.add_argument("--model", required=True,
                   help="timm name (faer_atto.rafdb), 'hf-hub:org/repo', 'local-dir:path' or an export folder")
    p.add_argument("output_dir")
    p.add_argument("--task", default=None, help="celeba, rafdb, affectnet7, affectnet8 or affectnet_va (default: from the model's config)")
    p.add_argument("--pretrained", action="store_true", help="load the timm name's pretrained weights first")
    p.add_argument("--repo-id", default=None, help="the Hub repo the folder is meant for (used in the card)")
    p.add_argument("--allow-untrained", action="store_true", help=_UNTRAINED_HELP)
    p.add_argument("--overwrite", action="store_true", help="replace an earlier export in output_dir")
    p.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from .hub.export import EXPORT_FILES, is_export, save_export
    from .io import check_destination
    from .hub.sources import create_model_from_source

    # the destination rule and the weights before the model is loaded, not after
    check_destination(args.output_dir, own_files=EXPORT_FILES, overwrite=args.overwrite, what="an export",
                      recognise=is_export)
    _check_model([args.model], args.pretrained, args.allow_untrained)
    model = create_model_from_source(args.model, pretrained=args.pretrained)
    folder = save_export(model, args.output_dir, task=args.task, repo_id=args.repo_id, overwrite=args.overwrite)
    print(f"wrote {folder} (load it with timm.create_model('local-dir:{folder}', pretrained=True))")
    return 0


def _add_synth_parser(sub: argparse._SubParsersAction) -> None:
    from .data.synthetic.write import LAYOUTS

    p = sub.add_parser("synth", help="write generated faces in a dataset's official on-disk format")
    p.add_argument("dataset", choices=sorted(LAYOUTS), help="dataset format to write")
    p.add_argument("output_dir", help="new (or empty) folder to fill; pass it as data_dir to the loaders")
    p.add_argument("--layout", default="official",
                   help="celeba: official|torchvision|kaggle; rafdb: official|folders; affectnet: official|new|folders")
    p.add_argument("--num-train", type=_positive_int, default=70, help="train annotation rows")
    p.add_argument("--num-test", type=_positive_int, default=35, help="test annotation rows")
    p.add_argument("--num-val", type=_positive_int, default=None, help="CelebA validation rows (default: --num-test)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=_positive_int, default=None, help="aligned image side (default: the dataset's)")
    p.set_defaults(handler=_run_synth)


def _run_synth(args: argparse.Namespace) -> int:
    from .data.synthetic.write import write_synthetic

    root = write_synthetic(args.dataset, args.output_dir, layout=args.layout, num_train=args.num_train,
                           num_test=args.num_test, num_val=args.num_val, seed=args.seed, image_size=args.image_size)
    print(f"wrote generated {args.dataset} ({args.layout} layout) to {root}")
    return 0


def _add_prepare_parser(sub: argparse._SubParsersAction) -> None:
    from .tasks import TASKS

    p = sub.add_parser(
        "prepare",
        help="build a dataset's Arrow cache once, ahead of training (e.g. on shared storage before a multi-node run)",
        description="Parse the annotations, check every image and write the Arrow cache that training and "
                    "evaluation read. Train with the same data folder path and --set data.cache_dir=<cache-dir>: "
                    "the processes then load the cache instead of building it while the others wait.",
    )
    p.add_argument("task", choices=sorted(TASKS), help="task whose dataset to prepare")
    p.add_argument("data_dir", help="the dataset download (the path training will be given as --data-dir)")
    p.add_argument("--cache-dir", default=None, help="where to write the cache (default: the Hugging Face datasets cache)")
    p.add_argument("--skip-bad-rows", action="store_true", help="leave unusable annotation rows out (listed) instead of stopping")
    p.add_argument("--num-proc", type=_positive_int, default=1, metavar="N",
                   help="processes that check and store the images (e.g. the machine's cores; default 1)")
    p.add_argument("--crop-short-side", type=_non_negative_int, default=256, metavar="PX",
                   help="AffectNet: store face crops with their short side at most PX (0: native size); training "
                        "reuses the cache when its data.crop_short_side is the same (default 256)")
    p.set_defaults(handler=_run_prepare)


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text!r}")
    return value


def _port(text: str) -> int:
    value = _non_negative_int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1-65535, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


def _run_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .data import get_build_report, load_task_dataset

    splits = load_task_dataset(args.task, args.data_dir, cache_dir=args.cache_dir, skip_bad_rows=args.skip_bad_rows,
                               num_proc=args.num_proc, crop_short_side=args.crop_short_side)
    counts = ", ".join(f"{len(split)} {name}" for name, split in splits.items())
    cache = Path(splits["test"].cache_files[0]["filename"]).parent if splits["test"].cache_files else args.cache_dir
    print(f"prepared {args.task} from {args.data_dir}: {counts} images; cache in {cache}")
    report = get_build_report(splits)
    if report.skipped:
        print(f"skipped rows: {report.summary()}")
    if args.cache_dir:
        crops = f" --set data.crop_short_side={args.crop_short_side}" if args.crop_short_side != 256 else ""
        print(f"train with: --data-dir {args.data_dir} --set data.cache_dir={args.cache_dir}{crops}")
    return 0


# --- surface: evaluate, cam, predict, push, export-onnx, cards, app, space ----------------------

_SOURCE_HELP = "timm name (faer_raf), 'hf-hub:org/repo', 'local-dir:path' or an export folder"


def _add_evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a model on a dataset split: metrics.json + figures")
    p.add_argument("--model", required=True, help=_SOURCE_HELP)
    p.add_argument("--data-dir", required=True, help="the dataset download (or `faer-hub synth` output)")
    p.add_argument("--task", default=None, help="celeba, rafdb, affectnet7, affectnet8, affectnet_va (default: from the model)")
    p.add_argument("--split", default="test", help="train, validation or test (default: test)")
    p.add_argument("--out", default="eval", help="folder for metrics.json and the figures (default: eval)")
    p.add_argument("--pretrained", action="store_true", help="load the timm name's pretrained weights")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--num-workers", type=_non_negative_int, default=0)
    p.add_argument("--image-size", type=_positive_int, default=None, help="override the model's input size")
    p.add_argument("--no-paper", action="store_true", help="leave the paper's numbers out of the figures")
    p.add_argument("--skip-bad-rows", action="store_true", help="skip (and list) bad annotation rows")
    p.add_argument("--detect-faces", action="store_true",
                   help="the images are raw photos: evaluate the largest face of each, cut with the model's "
                        "face-crop protocol as predict cuts it (default off: dataset images already are crops)")
    p.add_argument("--cache-dir", default=None, help="prepared-dataset cache (default: the HF datasets cache)")
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    from .evaluation.report import evaluate_source

    metrics = evaluate_source(
        args.model, args.data_dir, task=args.task, split=args.split, out_dir=args.out, pretrained=args.pretrained,
        batch_size=args.batch_size, num_workers=args.num_workers, image_size=args.image_size,
        compare_paper=not args.no_paper, skip_bad_rows=args.skip_bad_rows, cache_dir=args.cache_dir, progress=True,
        detect_faces=args.detect_faces,
    )
    from .tasks import get_task

    task = get_task(metrics["task"])
    value = metrics[task.primary_metric]
    shown = f"{100 * value:.2f}%" if task.spec.fractions else f"{value:.4f}"
    print(f"{task.primary_metric} {shown} on {metrics['num_samples']} images ({args.split}); "
          f"wrote {args.out}/metrics.json and figures")
    return 0


def _add_cam_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cam", help="Grad-CAM overlays and a grid figure (paper Fig. 5-6 style)")
    p.add_argument("images", nargs="+", help="image files, or folders searched recursively for images")
    p.add_argument("--model", action="append", required=True,
                   help=f"{_SOURCE_HELP}; repeat to compare models (one grid row each)")
    p.add_argument("--target", action="append", default=None,
                   help="class/attribute name or index; repeat for one row per target (default: predicted)")
    p.add_argument("--layer", default="cca", help="layer by dotted name (default: cca, the CC Attention output)")
    p.add_argument("--pretrained", action="store_true", help="load the timm names' pretrained weights")
    p.add_argument("--allow-untrained", action="store_true", help=_UNTRAINED_HELP)
    p.add_argument("--out", default="cam", help="output folder (default: cam)")
    p.add_argument("--no-detect", action="store_true",
                   help="use whole images (already aligned crops); default: the largest face, cut with the "
                        "model's face-crop protocol as in predict")
    p.set_defaults(handler=_run_cam)


def _run_cam(args: argparse.Namespace) -> int:
    from .inference.preflight import check_output_folder
    from .inference.sources import is_video, iter_input_files
    from .viz.gradcam import cam_report

    _check_model(args.model, args.pretrained, args.allow_untrained)
    images = [str(p) for p in iter_input_files(args.images) if not is_video(p)]  # folders as predict takes them
    if not images:
        raise ValueError(f"{', '.join(args.images)}: no image files (cam explains pictures; for a video, "
                         "export frames first)")
    check_output_folder(args.out, option="--out")
    grid = cam_report(args.model, images, args.out, targets=args.target, layer=args.layer,
                      pretrained=args.pretrained, detect_faces=not args.no_detect)
    print(f"wrote overlays and {grid} to {args.out}")
    return 0


_DETECT_HELP = (
    "classify whole images: for inputs that already are aligned face crops like the training images. "
    "Default: find every face (MTCNN, five landmarks) and cut it with the model's face-crop protocol, "
    "because every FAER model was trained on aligned faces and a photo is not one"
)


_UNTRAINED_HELP = ("use a model without weights trained for a FAER task (random, or an ImageNet head); "
                   "refused by default because its answers mean nothing")
_DEVICE_HELP = "cpu, cuda, cuda:1, mps (default: cuda if available, else cpu)"


def _check_model(sources: Sequence[str], pretrained: bool, allow_untrained: bool) -> None:
    """Refuse models without trained weights before anything is loaded (see untrained_reason)."""
    from .inference.preflight import UntrainedModelError, untrained_reason

    if allow_untrained:
        return
    for source in sources:
        try:
            reason = untrained_reason(source, pretrained=pretrained)
        except (OSError, ValueError):
            continue  # not a model source at all: loading it says why (the app shows it on the page)
        if reason is not None:
            raise UntrainedModelError(reason)


def _add_predict_parser(sub: argparse._SubParsersAction) -> None:
    from .faces.align import PROTOCOLS

    p = sub.add_parser("predict", help="classify faces in your own photos and videos (files or folders)",
                       description="One row per face, written as it is produced. Several processes: "
                                   "`accelerate launch -m faer_hub.cli predict ... --output FILE` or "
                                   "--num-processes N (one output, in input order).")
    p.add_argument("inputs", nargs="+", metavar="IMAGE_VIDEO_OR_DIR",
                   help="image or video files, or folders searched recursively")
    p.add_argument("--model", required=True, help=_SOURCE_HELP)
    p.add_argument("--pretrained", action="store_true", help="load the timm name's pretrained weights")
    p.add_argument("--allow-untrained", action="store_true", help=_UNTRAINED_HELP)
    p.add_argument("--no-detect", action="store_true", help=_DETECT_HELP)
    p.add_argument("--detect-faces", action="store_true", help=argparse.SUPPRESS)  # the default; kept for old scripts
    p.add_argument("--face-crop", default=None, choices=sorted(PROTOCOLS),
                   help="override the model's face-crop protocol (default: the one in its config; "
                        "'box' = the detected box for models without one)")
    p.add_argument("--every", type=_positive_int, default=1, help="videos: classify every Nth frame (default: 1)")
    p.add_argument("--save-crops", default=None, metavar="DIR",
                   help="write each face as the model received it (before normalisation) as PNG to DIR")
    p.add_argument("--annotate", default=None, metavar="DIR",
                   help="write each image (JPEG) and video (MJPG .avi) with numbered boxes and top labels to DIR")
    p.add_argument("--top-k", type=_positive_int, default=5)
    p.add_argument("--threshold", type=float, default=0.5, help="attribute models: probability for 'positive'")
    p.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                   help="table, jsonl or csv (one row per face; videos add frame and time_s, for plotting)")
    p.add_argument("--output", default=None, help="write results to this file as they come (default: stdout)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in --output and skip their inputs (after a killed or failed run)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier --output of faer-hub predict (the new rows go beside it and replace it "
                        "when the run ends; a failed run leaves the old one)")
    p.add_argument("--num-processes", type=int, default=1, metavar="N",
                   help="split the inputs across N processes (accelerate launch; GPUs when there are, "
                        "else CPU); needs --output and --format jsonl or csv")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="faces per forward pass (default: 8 on CPU, 32 on GPU)")
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.add_argument("--max-pixels", type=_positive_int, default=None, help="refuse larger images (default: 80 megapixels)")
    p.set_defaults(handler=_run_predict)


def _run_predict(args: argparse.Namespace) -> int:
    from .inference.preflight import check_device, check_output_file, check_output_folder, check_predict_output
    from .processes import distributed_world

    if args.no_detect and args.detect_faces:
        raise ValueError("--detect-faces and --no-detect contradict each other; pass one")
    several = args.num_processes > 1 or distributed_world() > 1
    if args.num_processes < 1:
        raise ValueError(f"--num-processes must be at least 1, got {args.num_processes}")
    if args.resume and not args.output:
        raise ValueError("--resume continues an --output file; pass --output FILE")
    if args.resume and args.overwrite:
        raise ValueError("--resume and --overwrite contradict each other; pass one")
    if (args.resume or several) and args.format == "table":
        raise ValueError("--resume and several processes need --format jsonl or csv (a table is aligned at the end)")
    if several and not args.output:
        raise ValueError("several processes write one file: pass --output FILE")
    check_device(args.device)
    _check_model([args.model], args.pretrained, args.allow_untrained)
    if args.output:
        check_output_file(args.output)  # before the work, not after it
        check_predict_output(args.output, resume=args.resume, overwrite=args.overwrite)  # ours, and said so
    for option, folder in (("--save-crops", args.save_crops), ("--annotate", args.annotate)):
        if folder:
            check_output_folder(folder, option=option)
    if args.num_processes > 1 and distributed_world() == 1:
        return _relaunch(args)
    return _predict(args)


def _relaunch(args: argparse.Namespace) -> int:
    """Run this same command under ``accelerate launch`` with --num-processes processes."""
    import socket
    import subprocess
    import tempfile

    import torch

    argv = list(args.argv)
    for i, token in enumerate(argv):
        if token == "--num-processes":
            del argv[i:i + 2]
            break
        if token.startswith("--num-processes="):
            del argv[i]
            break
    env = dict(os.environ)
    if args.device == "cpu" or not torch.cuda.is_available():
        env["CUDA_VISIBLE_DEVICES"] = ""  # processes on CPU (accelerate's --cpu would start only one)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_machines", "1",
               "--num_processes", str(args.num_processes), "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(port), "-m", "faer_hub.cli", *argv]
    with tempfile.TemporaryDirectory(prefix="faer_hub_predict_") as tmp:
        env[_FAILED_COUNT_FILE] = status_file = os.path.join(tmp, "failed")
        code = subprocess.run(command, env=env).returncode
        if code == 0 and os.path.exists(status_file):
            with open(status_file, encoding="utf-8") as f:
                return 1 if int(f.read() or 0) else 0
    return code


_FAILED_COUNT_FILE = "FAER_HUB_PREDICT_FAILED_FILE"
"""Where the main process of a --num-processes run writes how many inputs failed (for the exit status)."""


def _predict(args: argparse.Namespace) -> int:
    from .inference.predict import DEFAULT_MAX_PIXELS, Predictor
    from .inference.run import run_to_output
    from .processes import cpu_processes, distributed_world

    device = args.device
    if device in (None, "cuda") and distributed_world() > 1:  # each process its own GPU (or the CPU)
        from accelerate import PartialState

        device = str(PartialState(cpu=cpu_processes()).device)
    predictor = Predictor(
        args.model, pretrained=args.pretrained, top_k=args.top_k, threshold=args.threshold,
        detect_faces=not args.no_detect, face_crop=args.face_crop, batch_size=args.batch_size,
        device=device, max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS, every=args.every,
        save_crops=args.save_crops,
    )
    from tqdm.auto import tqdm

    failed: list[str] = []

    def say(message: str) -> None:
        tqdm.write(f"faer-hub predict: {message}", file=sys.stderr)  # above the progress bar, not through it

    def on_row(row: Any) -> None:
        where = "" if getattr(row, "frame", None) is None else f" frame {row.frame}"
        if row.status.startswith("error"):
            failed.append(row.path)
            say(f"error: {row.path}: {row.error}")
        elif row.status == "no face":
            say(f"{row.path}{where}: no face detected (pass --no-detect if your images already are face crops)")
        elif row.status != "ok":
            say(f"{row.path}{where}: {row.status}")

    progress = bool(args.output) or sys.stderr.isatty()
    summary = run_to_output(predictor, args.inputs, fmt=args.format, output=args.output, resume=args.resume,
                            annotate=args.annotate, progress=progress, on_row=on_row,
                            on_warning=lambda message: say(f"warning: {message}"))
    if summary.skipped:
        print(f"faer-hub predict: {summary.skipped} input(s) already in {args.output} skipped (--resume)",
              file=sys.stderr)
    if distributed_world() > 1:
        # every process exits 0 (a non-zero one makes the launcher report a crash); the main one reports
        if summary.failed_in_all is not None:
            if summary.failed_in_all:
                print(f"faer-hub predict: {summary.failed_in_all} file(s) failed (rows with status 'error: ...' in "
                      f"{args.output}), the others ran", file=sys.stderr)
            if os.environ.get(_FAILED_COUNT_FILE):
                with open(os.environ[_FAILED_COUNT_FILE], "w", encoding="utf-8") as f:
                    f.write(str(summary.failed_in_all))
        return 0
    if failed:
        print(f"faer-hub predict: {len(failed)} file(s) failed, {summary.faces} result(s) written", file=sys.stderr)
    return 1 if failed else 0


def _add_push_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("push", help="upload an export folder (or a run directory's export/) to the Hugging Face Hub")
    p.add_argument("folder", help="export folder, or a training run directory containing export/")
    p.add_argument("--repo-id", required=True, help="organisation/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument("--commit-message", default=None)
    p.add_argument("--revision", default=None, help="branch to push to")
    p.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing")
    p.add_argument("--retarget-card", action="store_true",
                   help="the card names another repo id: upload it rewritten for --repo-id")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    p.add_argument("--dry-run", action="store_true", help="only check the folder")
    p.set_defaults(handler=_run_push)


def _run_push(args: argparse.Namespace) -> int:
    from .hub.cards import check_repo_id
    from .hub.publish import ExportFolderError, check_export_folder, find_export_folder, push_export

    try:
        if args.dry_run:
            check_repo_id(args.repo_id, where="--repo-id", namespaced=True)  # as the push itself checks it
            folder = find_export_folder(args.folder)
            check_export_folder(folder, repo_id=None if args.retarget_card else args.repo_id)
            print(f"{folder} is ready to push to {args.repo_id}")
            return 0
        info = push_export(args.folder, args.repo_id, private=args.private, commit_message=args.commit_message,
                           revision=args.revision, token=args.token, create_pr=args.create_pr,
                           retarget_card=args.retarget_card)
    except ExportFolderError as err:
        print(f"faer-hub push: refused: {err}", file=sys.stderr)
        return 2
    print(f"pushed to https://huggingface.co/{args.repo_id} ({getattr(info, 'commit_url', info)})")
    return 0


def _add_export_onnx_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export-onnx", help="export a model to ONNX (dynamic batch), checked with onnxruntime")
    p.add_argument("--model", required=True, help=_SOURCE_HELP)
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--pretrained", action="store_true", help="load the timm name's pretrained weights")
    p.add_argument("--allow-untrained", action="store_true", help=_UNTRAINED_HELP)
    p.add_argument("--image-size", type=_positive_int, default=None, help="input side (default: the model's)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--atol", type=float, default=1e-4, help="allowed |PyTorch - onnxruntime| (default: 1e-4)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier ONNX export at output")
    p.set_defaults(handler=_run_export_onnx)


def _run_export_onnx(args: argparse.Namespace) -> int:
    from .inference.onnx_export import check_onnx_output, export_onnx
    from .hub.sources import create_model_from_source

    check_onnx_output(args.output, overwrite=args.overwrite)  # before the model is loaded, not after
    _check_model([args.model], args.pretrained, args.allow_untrained)
    model = create_model_from_source(args.model, pretrained=args.pretrained)
    size = (3, args.image_size, args.image_size) if args.image_size else None
    result = export_onnx(model, args.output, input_size=size, opset=args.opset, atol=args.atol,
                         overwrite=args.overwrite)
    print(f"wrote {result.path}; onnxruntime matches PyTorch within {result.max_abs_diff:.2e} "
          f"(batch {result.check_batch_size})")
    return 0


def _add_cards_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cards", help="regenerate the committed model cards from the template")
    p.add_argument("--out", default="model_cards", help="folder (default: model_cards)")
    p.add_argument("--check", action="store_true", help="only report cards that differ from the template (exit 1)")
    p.set_defaults(handler=_run_cards)


def _run_cards(args: argparse.Namespace) -> int:
    from .hub.cards import stale_cards, write_model_cards

    if args.check:
        stale = stale_cards(args.out)
        for name in stale:
            print(f"{args.out}/{name} differs from the template; run `faer-hub cards --out {args.out}`")
        return 1 if stale else 0
    for path in write_model_cards(args.out):
        print(f"wrote {path}")
    return 0


def _add_app_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="try models in the browser: a local Gradio page (pip install 'faer_hub[app]')",
                       description="Serve a page where you drop a photo (or take a webcam snapshot) and see each face "
                                   "boxed and numbered with the model's probabilities and a Grad-CAM overlay. "
                                   "Works offline: no analytics, no share link, no downloads. Uploads stay in the "
                                   "app's own temp folder (only you can read it), removed when the server stops. "
                                   "Ctrl-C stops it.")
    p.add_argument("--model", action="append", required=True,
                   help=f"{_SOURCE_HELP}; repeat for a model picker")
    p.add_argument("--port", type=_port, default=None,
                   help="port (default: GRADIO_SERVER_PORT, else the first free from 7860)")
    p.add_argument("--host", default=None,
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for your network)")
    p.add_argument("--pretrained", action="store_true", help="load the timm names' pretrained weights")
    p.add_argument("--allow-untrained", action="store_true", help=_UNTRAINED_HELP)
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.add_argument("--max-upload-mb", type=float, default=20.0,
                   help="refuse uploads larger than this many megabytes (default: 20)")
    p.set_defaults(handler=_run_app)


def _run_app(args: argparse.Namespace) -> int:
    from .inference.preflight import check_device

    check_device(args.device)
    _check_model(args.model, args.pretrained, args.allow_untrained)
    from .app import launch

    if not args.max_upload_mb > 0:
        raise ValueError(f"--max-upload-mb {args.max_upload_mb:g}: must be a positive number of megabytes")
    launch(args.model, host=args.host, port=args.port, pretrained=args.pretrained, device=args.device,
           max_upload_mb=args.max_upload_mb)
    return 0


def _add_space_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("space", help="write a Hugging Face Space folder (app.py, requirements.txt, README.md) "
                                     "that runs the app on an export's Hub repo")
    p.add_argument("export", help="export folder (or a training run directory containing export/)")
    p.add_argument("output_dir", help="folder to write; push it as a Gradio Space")
    p.add_argument("--repo-id", default=None, help="the model's Hub repo (default: the one the export's card names)")
    p.add_argument("--package", default=None,
                   help="requirements.txt line that installs faer_hub on the Space; faer_hub is not on PyPI yet, "
                        "so name where it lives, e.g. 'faer_hub[app,detect] @ git+https://github.com/ORG/faer_hub' "
                        "(default: faer_hub[app,detect], which installs only once it is published)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace app.py, space.json, requirements.txt and README.md in the folder even if "
                        "`faer-hub space` did not write them (default: refuse)")
    p.set_defaults(handler=_run_space)


def _run_space(args: argparse.Namespace) -> int:
    from .hub.space import DEFAULT_PACKAGE, write_space

    out = write_space(args.export, args.output_dir, repo_id=args.repo_id, package=args.package or DEFAULT_PACKAGE,
                      overwrite=args.overwrite)
    print(f"wrote {out}/app.py, space.json, requirements.txt and README.md; push it as a Space: "
          f"huggingface-cli upload --repo-type space <org>/<space> {out}")
    if not args.package:
        print(f"note: requirements.txt says {DEFAULT_PACKAGE!r}, which is not on PyPI yet; pass --package "
              "'faer_hub[app,detect] @ git+https://...' naming where faer_hub lives", file=sys.stderr)
    return 0


PARSERS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_list_parser,
    _add_convert_parser,
    _add_export_parser,
    _add_synth_parser,
    _add_prepare_parser,
    _add_evaluate_parser,
    _add_cam_parser,
    _add_predict_parser,
    _add_push_parser,
    _add_export_onnx_parser,
    _add_cards_parser,
    _add_app_parser,
    _add_space_parser,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faer-hub", description="FAER model zoo tools", epilog=EXIT_STATUSES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from . import __version__

    parser.add_argument("--version", action="version", version=f"faer-hub {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in PARSERS:
        add(sub)
    return parser


EXIT_OK, EXIT_SOME_FAILED, EXIT_INPUT_ERROR, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
EXIT_STATUSES = """exit status:
  0  everything worked
  1  some inputs failed (predict: each failed file is reported and has a row, the others ran)
  2  usage or input error: one line names the file or value and what to do (predict: also a device this
     machine lacks, a model without trained weights, an output that cannot be written, a full disk)
  3  internal error: a bug in faer_hub; please report it with the command (FAER_HUB_DEBUG=1 shows the traceback)"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)  # usage errors: argparse exits with 2
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"faer-hub {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001  (turned into one line; internal errors say so)
        if os.environ.get("FAER_HUB_DEBUG"):
            raise
        message = one_line(err)
        if isinstance(err, EXPECTED_ERRORS):
            print(f"faer-hub {args.command}: error: {message}", file=sys.stderr)
            return EXIT_INPUT_ERROR
        print(f"faer-hub {args.command}: internal error: {type(err).__name__}: {message}. This is a bug in faer_hub: "
              "please report it with the command you ran (FAER_HUB_DEBUG=1 shows the traceback).", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
