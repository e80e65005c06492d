"""Training losses of the FAER recipes.

Which loss a task trains with is its kind's (:attr:`faer_hub.tasks.Kind.loss`); its parameters
and their defaults are :class:`faer_hub.training.config.LossConfig`'s (the classes here take them
explicitly).

* FAE (CelebA), ``'focal'``: sigmoid focal loss, straight from :func:`torchvision.ops.sigmoid_focal_loss`.
* FER, ``'ce_center'``: cross-entropy (PyTorch's, optional label smoothing) plus ``weight x`` :class:`CenterLoss`
  on the pooled features. Center loss (Wen et al., ECCV 2016) is the one loss no well-kept
  library ships, so it is written here.
* Valence/arousal (not in the paper), ``'ccc'``: :class:`CCCLoss`, the mean over the two dimensions of
  1 - CCC (Lin's concordance correlation coefficient over the batch, the measure the task is
  scored on) plus ``mse_weight`` x the mean squared error.

:func:`build_criterion` returns a single module whose ``forward(logits, targets, features)``
gives the total loss and a dict of its parts for logging.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Mapping, Union

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from ..tasks import Kind, get_kind
from .config import LossConfig

__all__ = ["CCCLoss", "CRITERIA", "CenterLoss", "FocalLoss", "FERLoss", "batch_ccc", "build_criterion"]


class CenterLoss(nn.Module):
    """Mean over the batch of ``0.5 * ||f_i - c_{y_i}||^2`` (Wen et al., eq. 2 averaged).

    The class centers are an ``nn.Parameter`` learnt by the optimizer (give them their own
    parameter group, see :func:`faer_hub.training.optim.build_optimizer`), which is the
    gradient-based form of the original per-class center update.
    """

    def __init__(self, num_classes: int, feature_dim: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.centers = nn.Parameter(torch.zeros(num_classes, feature_dim))

    def forward(self, features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(
                f"center loss expects pooled features of shape (batch, {self.feature_dim}), "
                f"got {tuple(features.shape)}"
            )
        centers = self.centers.to(features.dtype)[labels]
        return 0.5 * (features - centers).pow(2).sum(dim=1).mean()

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, feature_dim={self.feature_dim}"


class FocalLoss(nn.Module):
    """Sigmoid focal loss for multi-label targets (wraps torchvision, mean over all outputs)."""

    needs_features = False

    def __init__(self, *, gamma: float, alpha: float | None) -> None:
        super().__init__()
        self.gamma = gamma
        self.alpha = alpha

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss = sigmoid_focal_loss(
            logits.float(),
            targets.to(torch.float32),
            alpha=-1.0 if self.alpha is None else self.alpha,
            gamma=self.gamma,
            reduction="mean",
        )
        return loss, {"focal": loss.detach()}


class FERLoss(nn.Module):
    """Cross-entropy plus ``center_weight`` x center loss on the pooled features."""

    def __init__(
        self,
        num_classes: int,
        feature_dim: int,
        *,
        center_weight: float,
        label_smoothing: float,
    ) -> None:
        super().__init__()
        self.center_weight = center_weight
        self.label_smoothing = label_smoothing
        self.center = CenterLoss(num_classes, feature_dim) if center_weight > 0 else None

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ce = F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing)
        parts = {"ce": ce.detach()}
        if self.center is None:
            return ce, parts
        if features is None:
            raise ValueError("center loss needs the pooled features; pass features=")
        center = self.center(features.float(), targets)
        parts["center"] = center.detach()
        return ce + self.center_weight * center, parts

    @property
    def needs_features(self) -> bool:
        return self.center is not None


def batch_ccc(predictions: torch.Tensor, targets: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """CCC of every column of ``[B, D]`` predictions against targets, over the batch (1/B moments):
    ``2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2)`` (Lin 1989). ``eps`` keeps a constant
    batch finite (CCC 0 instead of 0/0)."""
    mean_p, mean_t = predictions.mean(dim=0), targets.mean(dim=0)
    dp, dt = predictions - mean_p, targets - mean_t
    covariance = (dp * dt).mean(dim=0)
    denominator = dp.pow(2).mean(dim=0) + dt.pow(2).mean(dim=0) + (mean_p - mean_t).pow(2)
    return 2 * covariance / (denominator + eps)


class CCCLoss(nn.Module):
    """``mean_d (1 - CCC_d) + mse_weight x MSE`` for continuous targets ``[B, D]`` (valence, arousal).

    CCC rewards getting the spread and the mean right, not only the order; it is computed over
    the batch (so batches should hold more than a few samples). The MSE term anchors each
    prediction on its own, which helps the first steps, when the batch CCC is near 0.
    """

    needs_features = False

    def __init__(self, *, mse_weight: float) -> None:
        super().__init__()
        self.mse_weight = mse_weight

    def forward(
        self, outputs: torch.Tensor, targets: torch.Tensor, features: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        outputs, targets = outputs.float(), targets.to(torch.float32)
        if outputs.shape != targets.shape or outputs.ndim != 2:
            raise ValueError(f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} must both be [B, D]")
        ccc = batch_ccc(outputs, targets)
        loss = (1 - ccc).mean()
        parts = {"ccc_loss": loss.detach()}
        if self.mse_weight > 0:
            mse = F.mse_loss(outputs, targets)
            parts["mse"] = mse.detach()
            loss = loss + self.mse_weight * mse
        return loss, parts


CRITERIA: dict[str, Callable[[LossConfig, int, int], nn.Module]] = {
    "focal": lambda cfg, num_classes, feature_dim: FocalLoss(gamma=cfg.focal_gamma, alpha=cfg.focal_alpha),
    "ce_center": lambda cfg, num_classes, feature_dim: FERLoss(
        num_classes, feature_dim, center_weight=cfg.center_weight, label_smoothing=cfg.label_smoothing),
    "ccc": lambda cfg, num_classes, feature_dim: CCCLoss(mse_weight=cfg.mse_weight),
}
"""Loss module by :attr:`faer_hub.tasks.Loss.name`: ``(loss config, num_classes, feature_dim) -> module``."""


def build_criterion(
    kind: Union[Kind, str],
    *,
    num_classes: int,
    feature_dim: int,
    options: Union[LossConfig, Mapping[str, object], None] = None,
) -> nn.Module:
    """The loss of a task kind (a :class:`~faer_hub.tasks.Kind` or its name): the module its
    :attr:`~faer_hub.tasks.Kind.loss` names, with the parameters of ``options`` (a
    :class:`~faer_hub.training.config.LossConfig`, or some of its keys; the others keep its defaults).
    """
    kind = get_kind(kind) if isinstance(kind, str) else kind
    if not isinstance(options, LossConfig):
        options = dict(options or {})
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(LossConfig)})
        if unknown:
            raise ValueError(f"unknown loss option {unknown[0]!r}; expected keys of the config's 'loss' section")
        options = LossConfig(**options)  # type: ignore[arg-type]
    return CRITERIA[kind.loss.name](options, num_classes, feature_dim)
