"""Training losses of the FAER recipes.

* FAE (CelebA): sigmoid focal loss, straight from :func:`torchvision.ops.sigmoid_focal_loss`.
* FER: cross-entropy (PyTorch's, optional label smoothing) plus ``weight x`` :class:`CenterLoss`
  on the pooled features. Center loss (Wen et al., ECCV 2016) is the one loss no well-kept
  library ships, so it is written here.

:func:`build_criterion` returns a single module whose ``forward(logits, targets, features)``
gives the total loss and a dict of its parts for logging.
"""

from __future__ import annotations

from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

__all__ = ["CenterLoss", "FocalLoss", "FERLoss", "build_criterion"]


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

    def __init__(self, gamma: float = 2.0, alpha: float | None = None) -> None:
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
        center_weight: float = 0.01,
        label_smoothing: float = 0.0,
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


def build_criterion(
    kind: str,
    *,
    num_classes: int,
    feature_dim: int,
    options: Mapping[str, object] | None = None,
) -> nn.Module:
    """The loss of a task kind: ``'fae'`` -> :class:`FocalLoss`, ``'fer'`` -> :class:`FERLoss`.

    ``options`` holds ``focal_gamma``, ``focal_alpha`` (FAE) or ``center_weight``,
    ``label_smoothing`` (FER); missing keys take the paper's values.
    """
    options = dict(options or {})
    if kind == "fae":
        return FocalLoss(
            gamma=float(options.get("focal_gamma", 2.0)),
            alpha=options.get("focal_alpha"),  # type: ignore[arg-type]
        )
    if kind == "fer":
        return FERLoss(
            num_classes,
            feature_dim,
            center_weight=float(options.get("center_weight", 0.01)),
            label_smoothing=float(options.get("label_smoothing", 0.0)),
        )
    raise ValueError(f"unknown task kind {kind!r}; expected 'fae' or 'fer'")
