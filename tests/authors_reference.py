"""A stand-in for the authors' FAER training code: official ConvNeXt layout + ``attention``.

Written from the layout of the authors' public training code (``downsample_layers``, ``stages``,
``attention.{mlp,value,depthwise,norm}``, ``norm``, ``head``) so tests can check that their
checkpoints load into faer_hub's FAER and give the same logits. Forward returns
``(pooled_features, logits)`` like theirs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelsFirstLayerNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + (self.gamma * y).permute(0, 3, 1, 2)


class Attention(nn.Module):
    def __init__(self, dim: int, reduction: int = 8) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, dim // reduction), nn.GELU(), nn.Linear(dim // reduction, dim))
        self.value = nn.Linear(dim, dim)
        self.depthwise = nn.Conv2d(dim, dim, 7, padding=3, groups=4)
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):  # NCHW
        b, c, h, w = x.shape
        q = self.norm(F.gelu(self.depthwise(x)).permute(0, 2, 3, 1)).reshape(b, h * w, c)
        xs = x.permute(0, 2, 3, 1).reshape(b, h * w, c)
        k = self.mlp(xs) * xs.mean(dim=1, keepdim=True)
        r = torch.softmax(k + q, dim=1)
        out = r * self.value(xs) + xs
        return out.reshape(b, h, w, c).permute(0, 3, 1, 2)


class AuthorsFAER(nn.Module):
    def __init__(self, depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), num_classes: int = 7) -> None:
        super().__init__()
        self.downsample_layers = nn.ModuleList(
            [nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), ChannelsFirstLayerNorm(dims[0]))]
            + [nn.Sequential(ChannelsFirstLayerNorm(dims[i - 1]), nn.Conv2d(dims[i - 1], dims[i], 2, stride=2))
               for i in range(1, 4)]
        )
        self.stages = nn.ModuleList([nn.Sequential(*[Block(dims[i]) for _ in range(depths[i])]) for i in range(4)])
        self.attention = Attention(dims[-1])
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x):
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        feats = self.norm(self.attention(x).mean([-2, -1]))
        return feats, self.head(feats)
