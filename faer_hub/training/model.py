"""Build the model to train, and the module that computes logits and loss in one forward."""

from __future__ import annotations

import logging
from typing import Any

import timm
import torch
from torch import nn

import faer_hub  # noqa: F401  (registers the FAER models with timm)

from ..errors import CHECKPOINT_LOAD_ERRORS, InputError, checkpoint_problem, one_line
from ..tasks import Task
from .config import ModelConfig

__all__ = ["BackboneWeightsError", "ModelWithLoss", "build_model"]

logger = logging.getLogger(__name__)

_WEIGHT_SOURCE_KEYS = ("url", "file", "state_dict", "hf_hub_id", "hf_hub_filename", "source", "tag", "description")


class BackboneWeightsError(RuntimeError, InputError):
    """The ImageNet backbone weights asked for cannot be loaded (offline, missing file)."""


def build_model(config: ModelConfig, task: Task) -> tuple[nn.Module, bool]:
    """``timm.create_model`` for ``task``; returns ``(model, backbone_pretrained)``.

    With ``pretrained``, the backbone comes from timm's ImageNet ConvNeXt of the same size
    (``<name>.in1k``, downloaded from the Hub or read from the HF cache) or, with
    ``pretrained_file``, from a local checkpoint; CC Attention and the classifier start at init.
    """
    kwargs: dict[str, Any] = dict(num_classes=task.num_classes, drop_path_rate=config.drop_path_rate)
    if config.ls_init_value is not None:
        kwargs["ls_init_value"] = config.ls_init_value
    name = config.name
    pretrained = config.pretrained or config.pretrained_file is not None
    if pretrained:
        if "." not in name and name.startswith("faer_"):
            name = f"{name}.in1k"
        if config.pretrained_file:
            kwargs["pretrained_cfg_overlay"] = dict(file=str(config.pretrained_file))
    try:
        model = timm.create_model(name, pretrained=pretrained, **kwargs)
    except (OSError, ValueError, *CHECKPOINT_LOAD_ERRORS) as err:
        if not pretrained:
            raise
        reason = checkpoint_problem(err) if isinstance(err, CHECKPOINT_LOAD_ERRORS) else one_line(err, first_line=True, limit=300)
        where = f" from {config.pretrained_file}" if config.pretrained_file else ""
        raise BackboneWeightsError(
            f"could not load ImageNet backbone weights for {name!r}{where}: {reason}\n"
            "Offline? Put the timm ConvNeXt weights in the HF cache while online, or pass a local file "
            "with --set model.pretrained_file=path/to/convnext.safetensors, or train from scratch with "
            "--set model.pretrained=false."
        ) from err
    # record what the model predicts (exports and evaluation read label names and input size
    # from here) and drop the weight source of the ImageNet init: it no longer describes them
    cfg = {k: v for k, v in model.pretrained_cfg.items() if k not in _WEIGHT_SOURCE_KEYS}
    model.pretrained_cfg = dict(
        cfg, label_names=list(task.label_names), num_classes=task.num_classes,
        input_size=(3, config.img_size, config.img_size),
    )
    return model, pretrained


class ModelWithLoss(nn.Module):
    """``forward(images, targets) -> (logits, loss, parts)``: one module for Accelerate/DDP,
    so the center-loss centers train (and synchronise) with the model."""

    def __init__(self, model: nn.Module, criterion: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.criterion = criterion

    def forward(
        self, images: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        if getattr(self.criterion, "needs_features", False):
            x = self.model.forward_features(images)
            features = self.model.forward_head(x, pre_logits=True)
            # timm's head: pool -> norm -> pre_logits | drop -> fc; finish it instead of pooling twice
            logits = self.model.head.fc(self.model.head.drop(features))
        else:
            features = None
            logits = self.model(images)
        loss, parts = self.criterion(logits, targets, features)
        return logits, loss, parts
