"""Optimizer with parameter groups, and the learning-rate schedule as a LambdaLR of a pure function.

Groups: pretrained backbone (``optim.lr x optim.backbone_lr_scale``), new layers (CC Attention
and classifier, ``optim.lr``), and the center-loss centers (``optim.lr x loss.center_lr_scale``,
no weight decay). Which parameters get weight decay is timm's rule
(:func:`timm.optim.param_groups_weight_decay`: no decay on norms, biases, other 1-d parameters
and the model's ``no_weight_decay()`` names), applied to the backbone and the new layers alike.

On CUDA the AdamW/Adam update is fused (one kernel per step for all parameters instead of a
few per tensor). ``optim.lr_scaling`` (off by default) rescales ``optim.lr`` for a global
batch other than ``optim.lr_reference_batch``: :func:`scaled_lr`.

The schedule is :func:`lr_factor` of (epoch, optimizer step). :func:`build_scheduler` wraps it in
a :class:`~torch.optim.lr_scheduler.LambdaLR` that the loop steps once per optimizer step, so its
``last_epoch`` is the number of optimizer steps taken; prepared by Accelerate (with
``step_scheduler_with_optimizer=False``: one step per optimizer step whatever the number of
processes), its state is saved in and restored from every checkpoint.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from timm.optim import create_optimizer_v2, param_groups_weight_decay
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from .config import Config, OptimConfig

__all__ = ["NEW_LAYER_PREFIXES", "StepSchedule", "build_optimizer", "build_scheduler", "lr_factor", "resume_schedule",
           "scaled_lr"]

NEW_LAYER_PREFIXES = ("cca.", "head.fc.")
"""Parameters not present in an ImageNet ConvNeXt: they train at the full ``optim.lr``."""


def scaled_lr(opt: OptimConfig, global_batch_size: int) -> float:
    """``opt.lr`` for ``global_batch_size`` under ``opt.lr_scaling``: unchanged (``none``), x batch /
    reference (``linear``, Goyal et al. 2017) or x sqrt(batch / reference) (``sqrt``, usual for Adam)."""
    ratio = global_batch_size / opt.lr_reference_batch
    factor = {"none": 1.0, "linear": ratio, "sqrt": math.sqrt(ratio)}[opt.lr_scaling]
    return opt.lr * factor


def build_optimizer(
    model: nn.Module,
    config: Config,
    *,
    backbone_pretrained: bool,
    extra_params: Iterable[nn.Parameter] = (),
    fused: bool = False,
) -> torch.optim.Optimizer:
    """AdamW (or Adam/SGD) over ``model``'s groups plus ``extra_params`` (the centers).

    Every group records its ``group_name``: ``backbone``, ``backbone_no_decay``, ``new``,
    ``new_no_decay``, ``centers``. ``backbone_lr_scale`` applies only when the backbone was
    initialised from pretrained weights. The base lr is :func:`scaled_lr` of the config's global
    batch. ``fused``: the fused AdamW/Adam kernel (pass it when the parameters train on CUDA).
    """
    opt = config.optim
    lr = scaled_lr(opt, config.train.global_batch_size)
    backbone_scale = opt.backbone_lr_scale if backbone_pretrained else 1.0
    new = {id(p) for name, p in model.named_parameters() if name.startswith(NEW_LAYER_PREFIXES)}
    no_decay_names = getattr(model, "no_weight_decay", lambda: set())()  # as create_optimizer_v2 reads it
    timm_groups = param_groups_weight_decay(model, opt.weight_decay, no_weight_decay_list=no_decay_names)
    groups = []
    for part, scale in (("backbone", backbone_scale), ("new", 1.0)):
        for timm_group in sorted(timm_groups, key=lambda g: g["weight_decay"] == 0.0):  # decay first
            params = [p for p in timm_group["params"] if (id(p) in new) == (part == "new")]
            if params:
                no_decay = timm_group["weight_decay"] == 0.0
                groups.append(dict(params=params, lr=lr * scale, weight_decay=timm_group["weight_decay"],
                                   group_name=f"{part}{'_no_decay' if no_decay else ''}"))
    extra = [p for p in extra_params if p.requires_grad]
    if extra:
        groups.append(dict(params=extra, lr=lr * config.loss.center_lr_scale, weight_decay=0.0,
                           group_name="centers"))
    adam = opt.optimizer in ("adamw", "adam")
    kwargs = dict(betas=opt.betas) if adam else dict(momentum=opt.momentum)
    if adam and fused:
        kwargs["fused"] = True
    return create_optimizer_v2(groups, opt=opt.optimizer, lr=lr, weight_decay=opt.weight_decay, **kwargs)


def lr_factor(opt: OptimConfig, *, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Multiplier of every group's initial lr for optimizer step ``step`` (0-based, global)
    taken during ``epoch`` (0-based): linear warmup per step, then exponential decay per epoch
    or cosine decay per step (to ``min_lr_ratio``)."""
    warmup_steps = round(opt.warmup_epochs * steps_per_epoch)
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    if opt.scheduler == "exponential":
        decay = opt.gamma ** epoch
    elif opt.scheduler == "cosine":
        total = max(1, epochs * steps_per_epoch - warmup_steps)
        progress = min(1.0, max(0, step - warmup_steps) / total)
        decay = opt.min_lr_ratio + (1 - opt.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    else:
        decay = 1.0
    return warmup * decay


class StepSchedule:
    """:func:`lr_factor` of the number of optimizer steps taken: the lambda of the run's LambdaLR,
    which passes that number alone.

    A step's epoch is counted from :attr:`start`, ``(epoch, step)``: the epoch the run started or
    resumed in and the optimizer step that epoch began at, in epochs of this run's
    ``steps_per_epoch`` (every epoch has that many; but a run resumed at an epoch boundary on
    another process split may have another number than the run it continues).
    """

    def __init__(self, opt: OptimConfig, *, steps_per_epoch: int, epochs: int) -> None:
        self.opt = opt
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.start = (0, 0)

    def epoch_of(self, step: int) -> int:
        first_epoch, first_step = self.start
        return first_epoch + (step - first_step) // self.steps_per_epoch

    def __call__(self, step: int) -> float:
        return lr_factor(self.opt, epoch=self.epoch_of(step), step=step, steps_per_epoch=self.steps_per_epoch,
                         epochs=self.epochs)


def build_scheduler(optimizer: torch.optim.Optimizer, schedule: StepSchedule) -> LambdaLR:
    """A LambdaLR of ``schedule``, to be stepped once per optimizer step (skipped fp16 steps too:
    they count as optimizer steps everywhere else)."""
    # a plain function, not the object: LambdaLR would save the object's attributes (an OptimConfig)
    # in checkpoints, which Accelerate's weights_only loading refuses
    return LambdaLR(optimizer, lambda step: schedule(step))


def resume_schedule(scheduler: LambdaLR, schedule: StepSchedule, *, epoch: int, epoch_start_step: int) -> None:
    """After a resume (``scheduler`` loaded from the checkpoint): count epochs from the resumed
    one and set the lr of the next step with this run's steps per epoch."""
    schedule.start = (epoch, epoch_start_step)
    scheduler.last_epoch -= 1  # step() advances it back, recomputing the lr of the next step
    scheduler.step()
