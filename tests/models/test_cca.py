"""CC Attention against a direct, written-out evaluation of paper eqs. 1-6."""

import math

import pytest
import torch
import torch.nn.functional as F

from faer_hub.models.cca import ContextualChannelAttention


def _gelu(t):
    return 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))


def _layer_norm(t, weight, bias, eps):  # over the last (channel) dimension
    mean = t.mean(-1, keepdim=True)
    var = ((t - mean) ** 2).mean(-1, keepdim=True)
    return (t - mean) / torch.sqrt(var + eps) * weight + bias


def _written_out(m: ContextualChannelAttention, x: torch.Tensor) -> torch.Tensor:
    """Eqs. 1-6 with explicit loops over positions and channels where the layer vectorises."""
    B, C, H, W = x.shape
    X = x.permute(0, 2, 3, 1)  # B, H, W, C
    # eq. 1: Q = LN(GELU(Conv_kxk(X)))
    conv = F.conv2d(x, m.conv.weight, m.conv.bias, padding=m.conv.kernel_size[0] // 2, groups=m.conv.groups)
    Q = _layer_norm(_gelu(conv).permute(0, 2, 3, 1), m.norm.weight, m.norm.bias, m.norm.eps)
    # eq. 2-3: K = Linear(GELU(Linear(X))) * AvgPool(X)
    fc1, fc2 = m.mlp[0], m.mlp[2]
    K = _gelu(X @ fc1.weight.T + fc1.bias) @ fc2.weight.T + fc2.bias
    avg = X.sum(dim=(1, 2)) / (H * W)  # B, C
    K = K * avg[:, None, None, :]
    # eq. 4: V = Linear(X)
    V = X @ m.value.weight.T + m.value.bias
    # eq. 5: softmax over the H*W positions, separately per channel
    S = K + Q
    R = torch.empty_like(S)
    for b in range(B):
        for c in range(C):
            e = torch.exp(S[b, :, :, c] - S[b, :, :, c].max())
            R[b, :, :, c] = e / e.sum()
    # eq. 6: A = R * V, residual
    return (R * V + X).permute(0, 3, 1, 2)


@pytest.mark.parametrize("kernel_size,groups,reduction", [(7, 4, 8), (3, 2, 4)])
def test_matches_written_out_equations(kernel_size, groups, reduction):
    torch.manual_seed(0)
    m = ContextualChannelAttention(16, kernel_size=kernel_size, groups=groups, reduction=reduction).double()
    with torch.no_grad():  # non-trivial values everywhere, not the near-identity init
        for p in m.parameters():
            p.normal_(0, 0.5)
    x = torch.randn(2, 16, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(m(x), _written_out(m, x), rtol=1e-10, atol=1e-10)


def test_softmax_runs_over_positions_per_channel():
    torch.manual_seed(0)
    m = ContextualChannelAttention(8, groups=4, reduction=2)
    with torch.no_grad():
        m.value.weight.copy_(torch.eye(8))
        m.value.bias.zero_()
    x = torch.randn(1, 8, 4, 4)
    # with V = X, (out - X) / X = R, and R sums to 1 over positions for every channel
    r = (m(x) - x) / x
    torch.testing.assert_close(r.sum(dim=(2, 3)), torch.ones(1, 8), rtol=1e-4, atol=1e-4)


def test_paper_parameter_count_for_1024_channels():
    m = ContextualChannelAttention(1024)
    n = sum(p.numel() for p in m.parameters())
    assert abs(n - 14.2e6) < 0.1e6
    assert m.conv.weight.numel() + m.conv.bias.numel() == pytest.approx(12.8e6, rel=0.01)


def test_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="dim=10 is not divisible by groups=4"):
        ContextualChannelAttention(10, groups=4)
