"""Optimizer with parameter groups, and the learning-rate schedule as a pure function.

Groups: pretrained backbone (``optim.lr x optim.backbone_lr_scale``), new layers (CC Attention
and classifier, ``optim.lr``), and the center-loss centers (``optim.lr x loss.center_lr_scale``,
no weight decay); norms, biases and other 1-d parameters never get weight decay (as timm does).

The schedule is computed from (epoch, optimizer step) alone, so a resumed run sets exactly the
learning rate the uninterrupted run had, with no scheduler state to save.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
from timm.optim import create_optimizer_v2
from torch import nn

from .config import Config, OptimConfig

__all__ = ["NEW_LAYER_PREFIXES", "build_optimizer", "lr_factor", "set_learning_rates"]

NEW_LAYER_PREFIXES = ("cca.", "head.fc.")
"""Parameters not present in an ImageNet ConvNeXt: they train at the full ``optim.lr``."""


def _is_no_decay(name: str, param: torch.Tensor) -> bool:
    return param.ndim <= 1 or name.endswith(".bias")


def build_optimizer(
    model: nn.Module,
    config: Config,
    *,
    backbone_pretrained: bool,
    extra_params: Iterable[nn.Parameter] = (),
) -> torch.optim.Optimizer:
    """AdamW (or Adam/SGD) over ``model``'s groups plus ``extra_params`` (the centers).

    Every group records its ``base_lr`` (the lr before scheduling) and ``group_name``.
    ``backbone_lr_scale`` applies only when the backbone was initialised from pretrained weights.
    """
    opt = config.optim
    backbone_scale = opt.backbone_lr_scale if backbone_pretrained else 1.0
    buckets: dict[tuple[str, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        part = "new" if name.startswith(NEW_LAYER_PREFIXES) else "backbone"
        buckets.setdefault((part, _is_no_decay(name, param)), []).append(param)
    groups = []
    for (part, no_decay), params in sorted(buckets.items()):
        lr = opt.lr * (backbone_scale if part == "backbone" else 1.0)
        groups.append(dict(
            params=params, lr=lr, base_lr=lr, weight_decay=0.0 if no_decay else opt.weight_decay,
            group_name=f"{part}{'_no_decay' if no_decay else ''}",
        ))
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
