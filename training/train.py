#!/usr/bin/env python
"""Train FAER with Accelerate: the paper's recipes, model selection on validation, resumable.

    python training/train.py --config training/configs/demo.yaml --output-dir runs/demo
    accelerate launch training/train.py --config training/configs/rafdb.yaml \
        --data-dir /data/RAF-DB --output-dir runs/rafdb
    accelerate launch training/train.py --output-dir runs/rafdb --resume     # after a crash

Launcher flags (``--mixed_precision``, ``--dynamo_backend``) apply unless the config sets
``train.mixed_precision`` / ``model.compile``; a disagreement is reported.

Outputs in --output-dir: config.yaml (resolved), log.jsonl, checkpoints/, metrics.json and
export/ (Hub-ready: timm.create_model('local-dir:<output-dir>/export', pretrained=True)).
"""

# no `from __future__ import annotations`: tools load this script by path without registering it in
# sys.modules, and a dataclass with string annotations looks its module up there
import argparse
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration, set_seed
from timm.utils import ModelEmaV3
from tqdm.auto import tqdm

if __package__ in (None, ""):  # `python training/train.py` from a checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faer_hub.data.loader import RandomSimilarity, build_dataloader  # noqa: E402
from faer_hub.data.transforms import BatchNormalizer, resolve_data_config  # noqa: E402
from faer_hub.errors import EXPECTED_ERRORS, one_line  # noqa: E402
from faer_hub.evaluation.loop import evaluate_model, split_batch  # noqa: E402
from faer_hub.hub.export import save_export  # noqa: E402
from faer_hub.io import DiskFullError, plain_data  # noqa: E402
from faer_hub.processes import cpu_processes  # noqa: E402
from faer_hub.tasks import Task, get_task  # noqa: E402
from faer_hub.training import checkpoint as ckpt  # noqa: E402
from faer_hub.training.config import Config, config_to_dict, load_config  # noqa: E402
from faer_hub.training.data import build_train_loader, cache_location, derive_seed  # noqa: E402
from faer_hub.training.guard import NonFiniteLossError, StepGuard  # noqa: E402
from faer_hub.training.launch import (  # noqa: E402
    LaunchSettings, check_shared_dir, load_in_turn, report_refusal, resolve_launch, start_processes,
)
from faer_hub.training.losses import build_criterion  # noqa: E402
from faer_hub.training.model import ModelWithLoss, build_model  # noqa: E402
from faer_hub.training.optim import (  # noqa: E402
    StepSchedule, build_optimizer, build_scheduler, resume_schedule, scaled_lr,
)
from faer_hub.training.outputs import (  # noqa: E402
    CONFIG_FILE, LOG_FILE, METRICS_FILE, JsonlLog, check_output_dir, prepare_output_dir,
    previous_run_kept_until_done, run_facts, write_json, write_run_config,
)
from faer_hub.training.run import (  # noqa: E402
    card_results, gradient_accumulation_steps, load_splits, make_ema, resolve_resume_config, selection_metric,
    tracker_names,
)

logger = logging.getLogger("faer.train")
PER_PROCESS_ERRORS = (NonFiniteLossError, DiskFullError)
"""Failures one process may meet alone: every process reports its own (the others, once by process 0)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, help="YAML config (training/configs/*.yaml)")
    parser.add_argument("--data-dir", type=Path, help="dataset folder (sets data.data_dir)")
    parser.add_argument("--output-dir", type=Path, required=True, help="where everything is written")
    parser.add_argument("--resume", action="store_true", help="continue the run in --output-dir from its latest checkpoint")
    parser.add_argument("--resume-from", metavar="CHECKPOINT",
                        help="continue from this checkpoint of the run (e.g. step-00001200) instead of the latest; implies --resume")
    parser.add_argument("--overwrite", action="store_true", help="replace a previous run in --output-dir")
    parser.add_argument("--verbose", action="store_true", help="also show Accelerate's INFO messages (checkpoint files ...)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (repeatable), e.g. --set optim.lr=1e-3")
    args = parser.parse_args(argv)
    args.resume = args.resume or args.resume_from is not None
    if args.config is None and not args.resume:
        parser.error("--config is required (except with --resume, which reuses the run's config.yaml)")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Train as the command line says; a run replaced with --overwrite is deleted only once this one
    has finished, and put back if this one fails."""
    args = parse_args(argv)
    with previous_run_kept_until_done(args.output_dir):
        return train(args)


@dataclass
class Run:
    """One run once prepared: what the epochs and the final test read (timm's train.py passes these
    one by one). ``module`` is the prepared model-with-loss, ``net`` the bare timm model inside it."""

    args: argparse.Namespace
    config: Config
    task: Task
    select: str
    """The validation metric that selects the best epoch."""
    accelerator: Accelerator
    launch: LaunchSettings
    accum: int
    """Gradient accumulation steps."""
    splits: dict
    log: JsonlLog
    normalize: BatchNormalizer
    train_loader: Any
    val_loader: Any
    test_loader: Any
    module: Any
    net: torch.nn.Module
    ema: Optional[ModelEmaV3]
    optimizer: Any
    scheduler: Any
    schedule: StepSchedule
    steps_per_epoch: int
    backbone_pretrained: bool
    base_lr: float
    started: float = 0.0
    """When training began (``time.time()``), moved back by the seconds a resumed checkpoint recorded."""

    @property
    def out(self) -> Path:
        return self.args.output_dir

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def ema_module(self) -> Optional[torch.nn.Module]:
        return self.ema.module if self.ema else None

    @property
    def use_ema(self) -> bool:
        return self.ema is not None and self.config.eval.use_ema

    @property
    def eval_net(self) -> torch.nn.Module:
        """What is validated, tested and exported: the EMA weights with eval.use_ema."""
        return self.ema.module if self.use_ema else self.net


def train(args: argparse.Namespace) -> dict:
    """The outline: configuration, Accelerate, data and model, resume, the epochs (train, validate,
    checkpoint), then the test of the selected epoch and its export."""
    config = load_run_config(args)
    task = get_task(config.task)
    select = selection_metric(config, task)  # a metric the task reports, checked before any work
    accelerator, launch, accum = start_accelerator(args, config)
    run = prepare_run(args, config, task, select, accelerator, launch, accum)
    state = resume_or_start(run)
    guard = StepGuard(accelerator, run.checkpoints)
    run.started = time.time() - state.train_seconds
    for epoch in range(state.epoch, config.train.epochs):
        lr = train_one_epoch(run, state, guard, epoch)
        if (epoch + 1) % config.eval.every_epochs == 0 or epoch + 1 == config.train.epochs:
            validate(run, state, epoch, lr)
        state.epoch, state.batches_done = epoch + 1, 0
        if state.epoch % config.checkpoint.every_epochs == 0 or state.epoch == config.train.epochs:
            save_checkpoint(run, state)
    return test_and_export(run, state)


def load_run_config(args: argparse.Namespace) -> Config:
    """The config file with --set applied (a resumed run: its own config.yaml), validated completely
    before any work."""
    overrides = list(args.overrides) + ([f"data.data_dir={args.data_dir}"] if args.data_dir else [])
    if args.resume:
        return resolve_resume_config(args.output_dir / CONFIG_FILE, args.config, overrides)
    return load_config(args.config, overrides)


def start_accelerator(args: argparse.Namespace, config: Config) -> tuple[Accelerator, LaunchSettings, int]:
    """Processes, mixed precision, gradient accumulation, trackers, logging and seeds; returns the
    accelerator, the launch settings and the gradient accumulation steps."""
    train_cfg = config.train
    processes = start_processes(train_cfg.dist_timeout_minutes)  # cache builds are polled for, not waited in
    launch = resolve_launch(config)  # the launcher's precision/compile unless the config sets them
    accum = gradient_accumulation_steps(train_cfg, processes.num_processes)  # checked before any work
    check_output_dir(args.output_dir, resume=args.resume, overwrite=args.overwrite)
    processes.wait_for_everyone()
    accelerator = Accelerator(
        cpu=cpu_processes(),
        mixed_precision=launch.mixed_precision,
        gradient_accumulation_steps=accum,
        log_with=tracker_names(config.tracking.report_to),
        project_config=ProjectConfiguration(project_dir=str(args.output_dir),
                                            logging_dir=str(args.output_dir / "tensorboard")),
        dynamo_backend=launch.dynamo_backend,
        dataloader_config=DataLoaderConfiguration(non_blocking=True),  # with the loaders' pinned memory
        step_scheduler_with_optimizer=False,  # the loop steps the lr schedule once per optimizer step
    )
    logging.basicConfig(level=logging.INFO if accelerator.is_main_process else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # Accelerate says seven INFO lines per checkpoint
        logging.getLogger("accelerate").setLevel(logging.WARNING)
    for note in launch.disagreements:
        logger.warning(note)
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True  # fixed input size: let cuDNN pick the fastest kernels
        torch.set_float32_matmul_precision("high")  # TF32 for the matrix products autocast leaves in float32
    set_seed(config.seed)
    if train_cfg.cpu_threads:
        torch.set_num_threads(train_cfg.cpu_threads)
    return accelerator, launch, accum


def prepare_run(args: argparse.Namespace, config: Config, task: Task, select: str, accelerator: Accelerator,
                launch: LaunchSettings, accum: int) -> Run:
    """Data and model, before anything is written to the output folder (a bad data folder or missing
    weights stop the run here, and the corrected command can simply be run again); then the output
    folder, the loaders, the loss, the optimizer and its schedule, all prepared by Accelerate."""
    out, train_cfg = args.output_dir, config.train
    # one process (per machine with data.cache_per_node) builds the Arrow cache; the others poll
    splits = load_in_turn(accelerator.state, lambda: load_splits(config, task, out),
                          cache_location(config.data, task.dataset, out), per_node=config.data.cache_per_node,
                          wait_minutes=config.data.cache_wait_minutes)
    with accelerator.local_main_process_first():  # one ImageNet-weights download per machine
        model, backbone_pretrained = build_model(config.model, task)
    if accelerator.is_main_process:
        prepare_output_dir(out, resume=args.resume, overwrite=args.overwrite)
        if not args.resume:  # a resumed run's config.yaml is rewritten only once its checkpoint loaded
            write_run_config(out, config_to_dict(config))
    accelerator.wait_for_everyone()
    check_shared_dir(accelerator.state, out)  # every process writes its RNG state there at checkpoints
    log = JsonlLog(out / LOG_FILE, enabled=accelerator.is_main_process)
    if config.model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    data_config = resolve_data_config(model)
    normalize = BatchNormalizer(data_config)  # uint8 batches are normalised on the device
    train_loader, _ = build_train_loader(
        splits["train"], data_config, batch_size=train_cfg.per_device_batch_size, seed=config.seed,
        hflip=config.data.hflip, balanced=config.data.balanced_sampling, num_workers=config.data.num_workers,
        jitter=RandomSimilarity(config.data.jitter_degrees, config.data.jitter_translate, config.data.jitter_scale),
    )
    eval_loaders = {
        name: build_dataloader(splits[name], data_config, batch_size=train_cfg.eval_batch_size,
                               num_workers=config.data.num_workers)
        for name in ("validation", "test")
    }
    criterion = build_criterion(task.kind, num_classes=task.num_classes, feature_dim=model.num_features,
                                options=vars(config.loss))
    module = ModelWithLoss(model, criterion)
    train_loader, val_loader, test_loader = accelerator.prepare(
        train_loader, eval_loaders["validation"], eval_loaders["test"]
    )
    steps_per_epoch = math.ceil(len(train_loader) / accum)  # of this process split
    if train_cfg.max_steps_per_epoch:
        steps_per_epoch = min(steps_per_epoch, train_cfg.max_steps_per_epoch)
    optimizer = build_optimizer(model, config, backbone_pretrained=backbone_pretrained,
                                extra_params=criterion.parameters(), fused=accelerator.device.type == "cuda")
    base_lr = scaled_lr(config.optim, train_cfg.global_batch_size)
    logger.info("learning rate %g: optim.lr %g, optim.lr_scaling %s (global batch %d, reference %d)", base_lr,
                config.optim.lr, config.optim.lr_scaling, train_cfg.global_batch_size, config.optim.lr_reference_batch)
    schedule = StepSchedule(config.optim, steps_per_epoch=steps_per_epoch, epochs=train_cfg.epochs)
    module, optimizer, scheduler = accelerator.prepare(module, optimizer, build_scheduler(optimizer, schedule))
    # the bare timm model (evaluation, EMA, export); keep_torch_compile=False, or Accelerate would
    # re-point the compiled wrapper at the bare module and bypass DDP
    net = accelerator.unwrap_model(module, keep_torch_compile=False).model
    return Run(args=args, config=config, task=task, select=select, accelerator=accelerator, launch=launch,
               accum=accum, splits=splits, log=log, normalize=normalize,
               train_loader=train_loader, val_loader=val_loader, test_loader=test_loader,
               module=module, net=net, ema=make_ema(net, train_cfg), optimizer=optimizer, scheduler=scheduler,
               schedule=schedule, steps_per_epoch=steps_per_epoch, backbone_pretrained=backbone_pretrained,
               base_lr=base_lr)


def resume_or_start(run: Run) -> ckpt.TrainState:
    """The state to continue from: a checkpoint's with --resume (the newest loadable one, or
    --resume-from's), else a fresh one; trackers started and the run's facts logged."""
    args, config, accelerator = run.args, run.config, run.accelerator
    layout = dict(num_processes=accelerator.num_processes, gradient_accumulation_steps=run.accum,
                  per_device_batch_size=config.train.per_device_batch_size)
    state = ckpt.TrainState(layout=layout)
    if args.resume:
        if args.resume_from:  # exactly this one, no walking back
            latest = run.checkpoints / args.resume_from
            state = ckpt.load_checkpoint(accelerator, latest, layout=layout, ema=run.ema_module)
        else:
            latest, state, skipped = ckpt.load_newest_loadable(accelerator, run.checkpoints, layout=layout,
                                                               ema=run.ema_module)
            for name, reason in skipped:
                logger.warning("--resume: skipped checkpoint %s, which cannot be loaded (%s)", name, reason)
                run.log.write("resume_skipped", checkpoint=name, reason=reason)
        if latest is None:
            logger.info("--resume: no checkpoint in %s yet; starting from the beginning", run.checkpoints)
        else:
            logger.info("resumed from %s (epoch %d, batch %d, step %d)", latest, state.epoch, state.batches_done,
                        state.global_step)
            run.log.write("resume", checkpoint=latest.name, epoch=state.epoch, global_step=state.global_step)
            resume_schedule(run.scheduler.scheduler, run.schedule, epoch=state.epoch,
                            epoch_start_step=state.global_step - state.batches_done // run.accum)
        ckpt.prune_checkpoints(accelerator, run.checkpoints, config.checkpoint.keep_last, state.best_dir)
        if accelerator.is_main_process:  # the resume is accepted: record the values --set changed
            write_run_config(run.out, config_to_dict(config))
    # the card tells how the run was started: a resume keeps the recipe and adds its own --set values
    recipe = state.recipe or {"config_file": None if args.config is None else str(args.config), "overrides": []}
    state.recipe = {**recipe, "overrides": list(dict.fromkeys([*recipe["overrides"], *args.overrides]))}
    accelerator.init_trackers(config.tracking.project_name, config=plain_data(config_to_dict(config), flat=True))
    train_cfg = config.train
    logger.info(
        "task %s | %s | %d train / %d validation / %d test images | global batch %d = %d per device x %d "
        "processes x %d accumulation | %d optimizer steps per epoch | mixed precision %s",
        run.task.name, config.model.name, len(run.splits["train"]), len(run.splits["validation"]),
        len(run.splits["test"]), train_cfg.global_batch_size, train_cfg.per_device_batch_size,
        accelerator.num_processes, run.accum, run.steps_per_epoch, run.launch.mixed_precision,
    )
    if state.global_step == 0 and state.epoch == 0:
        run.log.write("start", task=run.task.name, model=config.model.name, num_processes=accelerator.num_processes,
                      gradient_accumulation_steps=run.accum, steps_per_epoch=run.steps_per_epoch,
                      mixed_precision=accelerator.mixed_precision, dynamo_backend=run.launch.dynamo_backend,
                      backbone_pretrained=run.backbone_pretrained, lr=run.base_lr,
                      lr_scaling=config.optim.lr_scaling)
    return state


def train_one_epoch(run: Run, state: ckpt.TrainState, guard: StepGuard, epoch: int) -> float:
    """Train ``epoch`` from where ``state`` says (mid-epoch after a resume), logging every
    train.log_every_steps and checkpointing every checkpoint.every_steps; returns the learning rate
    of the last step taken."""
    config, accelerator, module, optimizer = run.config, run.accelerator, run.module, run.optimizer
    train_cfg = config.train
    module.train()
    batches = run.train_loader
    if state.batches_done:  # resuming mid-epoch: same order, minus the batches already trained on
        batches = accelerator.skip_first_batches(run.train_loader, state.batches_done)
    batches.set_epoch(epoch)  # Accelerate passes it to our EpochSampler (it would use its own count)
    steps_this_epoch = state.batches_done // run.accum  # checkpoints are taken at optimizer steps
    bar = tqdm(total=run.steps_per_epoch, initial=steps_this_epoch, desc=f"epoch {epoch + 1}/{train_cfg.epochs}",
               disable=not accelerator.is_local_main_process, leave=False)
    running, seen, tick = {}, 0, time.time()
    lr = optimizer.param_groups[0]["lr"]
    for batch in batches:
        if train_cfg.max_steps_per_epoch and steps_this_epoch >= train_cfg.max_steps_per_epoch:
            break
        images, targets = split_batch(batch)
        images = run.normalize(images, channels_last=config.model.channels_last)
        # dropout / drop-path randomness depends on (seed, step, process) only: resumable
        torch.manual_seed(derive_seed(config.seed, 2, epoch, state.batches_done, accelerator.process_index))
        with accelerator.accumulate(module):
            _, loss, parts = module(images, targets)
            guard.observe(loss)
            accelerator.backward(loss)
            if accelerator.sync_gradients:  # gradients are all-reduced: check once, before the step
                grad_norm = None
                if config.optim.grad_clip_norm:
                    grad_norm = accelerator.clip_grad_norm_(module.parameters(), config.optim.grad_clip_norm)
                guard.check(module.parameters(), grad_norm=grad_norm, step=state.global_step + 1, epoch=epoch)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        state.batches_done += 1
        for key, value in {"loss": loss, **parts}.items():  # summed on the device, read at log steps
            running[key] = running.get(key, 0.0) + value.detach().float()
        seen += 1
        if not accelerator.sync_gradients:
            continue
        state.global_step += 1
        steps_this_epoch += 1
        lr = optimizer.param_groups[0]["lr"]  # of the step just taken (the backbone's)
        run.scheduler.step()  # sets the lr of the next step
        if run.ema is not None:
            run.ema.update(run.net, step=state.global_step)
        bar.update(1)
        if state.global_step % train_cfg.log_every_steps == 0:
            guard.flush()  # the log reads the device anyway
            means = accelerator.reduce(torch.stack(list(running.values())) / seen, reduction="mean")
            record = {f"train/{k}": v for k, v in zip(running, means.tolist())}
            record["train/lr"] = lr
            record["train/images_per_s"] = seen * images.shape[0] * accelerator.num_processes / (time.time() - tick)
            if accelerator.device.type == "cuda":
                record["train/peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
            accelerator.log(record, step=state.global_step)
            run.log.write("train", epoch=epoch, step=state.global_step, **{k.split("/")[1]: v for k, v in record.items()})
            bar.set_postfix(loss=f"{record['train/loss']:.4f}")
            running, seen, tick = {}, 0, time.time()
        last_batch = state.batches_done >= len(run.train_loader) or steps_this_epoch >= run.steps_per_epoch
        every = config.checkpoint.every_steps
        if every and state.global_step % every == 0 and not last_batch:
            guard.flush()  # never save weights of a step whose finite flag was not read
            save_checkpoint(run, state)
    bar.close()
    guard.flush()  # the last step's finite flag, before its weights are evaluated or saved
    return lr


def validate(run: Run, state: ckpt.TrainState, epoch: int, lr: float) -> None:
    """Evaluate ``epoch`` on VALIDATION (never test), keep its weights if it is the best so far,
    and record it in the history, the trackers and the log."""
    accelerator, select = run.accelerator, run.select
    val = evaluate_model(run.eval_net, run.val_loader, run.task, accelerator,
                         channels_last=run.config.model.channels_last)
    score = val[select]
    improved = state.best_metric is None or score > state.best_metric
    if improved:
        state.best_metric, state.best_epoch = score, epoch
        state.best_dir = ckpt.save_best_weights(accelerator, run.checkpoints, state.global_step, run.net,
                                                ema=run.ema_module)
    summary = {k: v for k, v in val.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    state.history.append(dict(epoch=epoch, global_step=state.global_step, validation=summary, lr=lr))
    accelerator.log({f"validation/{k}": v for k, v in summary.items()}, step=state.global_step)
    run.log.write("validation", epoch=epoch, step=state.global_step, best=improved, **summary)
    logger.info("epoch %d/%d: validation %s %.4f%s", epoch + 1, run.config.train.epochs, select, score,
                " (best so far)" if improved else "")


def save_checkpoint(run: Run, state: ckpt.TrainState) -> None:
    """A resumable checkpoint of ``state``; older ones beyond checkpoint.keep_last are pruned."""
    state.train_seconds = time.time() - run.started
    ckpt.save_checkpoint(run.accelerator, run.checkpoints, state, ema=run.ema_module)
    ckpt.prune_checkpoints(run.accelerator, run.checkpoints, run.config.checkpoint.keep_last, state.best_dir)


def test_and_export(run: Run, state: ckpt.TrainState) -> dict:
    """Test the last epoch and the epoch selected on validation; write metrics.json and export the
    selected one (main process); returns the metrics."""
    train_time = time.time() - run.started
    config, accelerator, task, select, out = run.config, run.accelerator, run.task, run.select, run.out
    eval_net, channels_last = run.eval_net, config.model.channels_last
    last = {"epoch": config.train.epochs - 1,
            "validation": state.history[-1]["validation"] if state.history else None,
            "test": evaluate_model(eval_net, run.test_loader, task, accelerator, channels_last=channels_last)}
    ckpt.load_best_weights(run.checkpoints / state.best_dir, eval_net, ema=run.use_ema)
    selected_val = evaluate_model(eval_net, run.val_loader, task, accelerator, channels_last=channels_last)
    selected_test = evaluate_model(eval_net, run.test_loader, task, accelerator, channels_last=channels_last)
    metrics = {
        "task": task.name,
        "model": config.model.name,
        "selection": {
            "split": "validation",
            "metric": select,
            "best_epoch": state.best_epoch,
            "note": f"the epoch with the highest validation {select} was selected; the test split was never "
                    "used for selection",
            "weights": "ema" if run.use_ema else "model",
        },
        "validation": selected_val,
        "test": selected_test,
        "last_epoch": last,
        "history": state.history,
        "num_processes": accelerator.num_processes,
        "train_time_s": round(train_time, 1),
    }
    if accelerator.is_main_process:
        write_json(out / METRICS_FILE, metrics)
        export = save_export(eval_net, out / "export", task=task,
                             results=card_results(selected_test, split="test", synthetic=config.data.synthetic),
                             run=run_facts(config_to_dict(config), config_file=state.recipe["config_file"],
                                           overrides=state.recipe["overrides"], generated_data=config.data.synthetic,
                                           splits=run.splits),
                             overwrite=True)  # a resumed run's own
        run.log.write("done", best_epoch=state.best_epoch, **{f"test_{select}": selected_test[select]})
        accelerator.log({f"test/{select}": selected_test[select]}, step=state.global_step)
        print(
            f"\nDone in {time.time() - run.started:.0f} s. Best epoch {state.best_epoch + 1} (selected on validation "
            f"{select} {selected_val[select]:.4f}); test {select} {selected_test[select]:.4f} "
            f"(last epoch: {last['test'][select]:.4f}).\n"
            f"  metrics:     {out / METRICS_FILE}\n  log:         {out / LOG_FILE}\n"
            f"  checkpoints: {run.checkpoints}\n  config:      {out / CONFIG_FILE}\n"
            f"  export:      {export}  (timm.create_model('local-dir:{export}', pretrained=True))"
        )
    accelerator.end_training()
    return metrics


def run_command(argv: list[str] | None = None) -> int:
    """The command line: exit status 0, or 2 with one line naming the file or key and the fix
    (printed once under a multi-process launch; no traceback)."""
    try:
        main(argv)
    except EXPECTED_ERRORS as err:  # the input's or the environment's, not a bug
        if os.environ.get("FAER_HUB_DEBUG"):
            raise
        report_refusal(one_line(err), every_process=isinstance(err, PER_PROCESS_ERRORS))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run_command())
