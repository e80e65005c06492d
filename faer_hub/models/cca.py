"""Contextual Channel Attention (CC Attention), the block FAER adds to ConvNeXt.

Xu et al. 2024, eqs. 1-6 and Fig. 2, for an input ``X`` viewed channels-last as ``H x W x C``::

    Q  = LayerNorm(GELU(Conv_kxk(X)))               grouped conv with bias
    K  = Linear(GELU(Linear(X))) * AvgPool(X)       reduce by ``reduction``, times the global mean
    V  = Linear(X)
    R  = Softmax(K + Q)                             over the H*W positions, per channel
    out = R * V + X
"""

from __future__ import annotations

import torch
from timm.layers import trunc_normal_
from torch import nn


class ContextualChannelAttention(nn.Module):
    """CC Attention on an NCHW feature map; returns a map of the same shape.

    Args:
        dim: Number of channels ``C``.
        kernel_size: Query convolution kernel size (paper: 7), padded to keep ``H x W``.
        groups: Query convolution groups (authors' code: 4).
        reduction: Channel reduction of the key MLP (paper: 8).
        norm_eps: Epsilon of the query LayerNorm.
    """

    def __init__(
        self,
        dim: int,
        kernel_size: int = 7,
        groups: int = 4,
        reduction: int = 8,
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if dim % groups:
            raise ValueError(f"CC Attention: dim={dim} is not divisible by groups={groups}")
        hidden = max(dim // reduction, 1)
        self.conv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=groups, bias=True)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm(dim, eps=norm_eps)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.value = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """ConvNeXt's initialisation: truncated normal (std 0.02) weights, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                m.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        q = self.norm(self.act(self.conv(x)).permute(0, 2, 3, 1))  # B, H, W, C
        x_cl = x.permute(0, 2, 3, 1)
        k = self.mlp(x_cl) * x_cl.mean(dim=(1, 2), keepdim=True)
        v = self.value(x_cl)
        r = (k + q).reshape(B, H * W, C).softmax(dim=1).reshape(B, H, W, C)
        return (r * v + x_cl).permute(0, 3, 1, 2)
