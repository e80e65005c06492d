"""Optimizer with parameter groups, and the learning-rate schedule as a pure function.

Groups: pretrained backbone (``optim.lr x optim.backbone_lr_scale``), new layers (CC Attention
and classifier, ``optim.lr``), and the center-loss centers (``optim.lr x loss.center_lr_scale``,
no weight decay). Which parameters get weight decay is timm's rule
(:func:`timm.optim.param_groups_weight_decay`: no decay on norms, biases, other 1-d parameters
and the model's ``no_weight_decay()`` names), applied to the backbone and the new layers alike.

The schedule is computed from (epoch, optimizer step) alone, so a resumed run sets exactly the
learning rate the uninterrupted run had, with no scheduler state to save.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from timm.optim import create_optimizer_v2, param_groups_weight_decay
from torch import nn

from .config import Config, OptimConfig

__all__ = ["NEW_LAYER_PREFIXES", "build_optimizer", "lr_factor", "set_learning_rates"]

NEW_LAYER_PREFIXES = ("cca.", "head.fc.")
"""Parameters not present in an ImageNet ConvNeXt: they train at the full ``optim.lr``."""


def build_optimizer(
    model: nn.Module,
    config: Config,
    *,
    backbone_pretrained: bool,
    extra_params: Iterable[nn.Parameter] = (),
) -> torch.optim.Optimizer:
    """AdamW (or Adam/SGD) over ``model``'s groups plus ``extra_params`` (the centers).

    Every group records its ``base_lr`` (the lr before scheduling) and ``group_name``: ``backbone``,
    ``backbone_no_decay``, ``new``, ``new_no_decay``, ``centers``. ``backbone_lr_scale`` applies
    only when the backbone was initialised from pretrained weights.
    """
    opt = config.optim
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
                groups.append(dict(params=params, lr=opt.lr * scale, base_lr=opt.lr * scale,
                                   weight_decay=timm_group["weight_decay"],
                                   group_name=f"{part}{'_no_decay' if no_decay else ''}"))
    extra = [p for p in extra_params if p.requires_grad]
    if extra:
        lr = opt.lr * config.loss.center_lr_scale
        groups.append(dict(params=extra, lr=lr, base_lr=lr, weight_decay=0.0, group_name="centers"))
    kwargs = dict(betas=opt.betas) if opt.optimizer in ("adamw", "adam") else dict(momentum=opt.momentum)
    return create_optimizer_v2(groups, opt=opt.optimizer, lr=opt.lr, weight_decay=opt.weight_decay, **kwargs)


def lr_factor(opt: OptimConfig, *, epoch: int, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Multiplier of every group's ``base_lr`` for optimizer step ``step`` (0-based, global)
    taken during ``epoch`` (0-based)."""
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


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> None:
    """Set each group's lr to ``base_lr x factor``."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
