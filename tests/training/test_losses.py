"""Losses: the hand-written center loss, and the wrappers over torchvision / PyTorch losses."""

import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

from faer_hub.tasks import KINDS
from faer_hub.training.config import LossConfig
from faer_hub.training.losses import CRITERIA, CCCLoss, CenterLoss, FERLoss, FocalLoss, build_criterion


def test_center_loss_is_half_mean_squared_distance_to_own_center():
    loss = CenterLoss(num_classes=3, feature_dim=2)
    with torch.no_grad():
        loss.centers.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]))
    feats = torch.tensor([[1.0, 0.0], [1.0, 3.0]])
    labels = torch.tensor([0, 1])
    # sample 0: |(1,0)-(0,0)|^2 = 1 ; sample 1: |(1,3)-(1,1)|^2 = 4  -> 0.5 * mean(1, 4) = 1.25
    assert loss(feats, labels).item() == pytest.approx(1.25)
    assert loss(loss.centers[labels].detach(), labels).item() == 0.0


def test_center_loss_gradient_pulls_centers_towards_features():
    loss = CenterLoss(num_classes=2, feature_dim=4)
    feats = torch.ones(6, 4)
    labels = torch.zeros(6, dtype=torch.long)
    opt = torch.optim.SGD(loss.parameters(), lr=0.5)
    for _ in range(20):
        opt.zero_grad()
        loss(feats, labels).backward()
        opt.step()
    assert torch.allclose(loss.centers[0], torch.ones(4), atol=1e-3)
    assert torch.equal(loss.centers[1], torch.zeros(4))  # no sample of class 1: untouched


def test_center_loss_rejects_wrong_feature_shape():
    with pytest.raises(ValueError, match=r"\(batch, 8\)"):
        CenterLoss(3, 8)(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))


def test_focal_loss_is_torchvisions():
    logits, targets = torch.randn(5, 40), torch.randint(0, 2, (5, 40)).float()
    loss, parts = FocalLoss(gamma=2.0, alpha=None)(logits, targets)
    assert loss.item() == pytest.approx(sigmoid_focal_loss(logits, targets, alpha=-1, gamma=2, reduction="mean").item())
    assert set(parts) == {"focal"}
    # gamma 0 without alpha is plain binary cross-entropy
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    assert FocalLoss(gamma=0.0, alpha=None)(logits, targets)[0].item() == pytest.approx(bce.item(), rel=1e-5)
    alpha = FocalLoss(gamma=2.0, alpha=0.25)(logits, targets)[0]
    assert alpha.item() == pytest.approx(sigmoid_focal_loss(logits, targets, alpha=0.25, gamma=2, reduction="mean").item())


def test_fer_loss_is_cross_entropy_plus_weighted_center_loss():
    torch.manual_seed(0)
    logits, feats, labels = torch.randn(6, 7), torch.randn(6, 16), torch.randint(0, 7, (6,))
    crit = FERLoss(7, 16, center_weight=0.01, label_smoothing=0.1)
    with torch.no_grad():
        crit.center.centers.normal_()
    total, parts = crit(logits, labels, feats)
    ce = F.cross_entropy(logits, labels, label_smoothing=0.1)
    assert parts["ce"].item() == pytest.approx(ce.item())
    assert total.item() == pytest.approx(ce.item() + 0.01 * crit.center(feats, labels).item())
    with pytest.raises(ValueError, match="pooled features"):
        crit(logits, labels, None)
    plain = FERLoss(7, 16, center_weight=0.0, label_smoothing=0.0)
    assert not plain.needs_features and list(plain.parameters()) == []
    assert plain(logits, labels)[0].item() == pytest.approx(F.cross_entropy(logits, labels).item())


def test_build_criterion_builds_the_loss_the_kind_names():
    assert isinstance(build_criterion("fae", num_classes=40, feature_dim=8), FocalLoss)
    assert isinstance(build_criterion(KINDS["va"], num_classes=2, feature_dim=8), CCCLoss)
    fer = build_criterion("fer", num_classes=7, feature_dim=8, options={"center_weight": 0.5})
    assert isinstance(fer, FERLoss) and fer.center_weight == 0.5 and fer.center.centers.shape == (7, 8)
    assert sorted(CRITERIA) == sorted(kind.loss.name for kind in KINDS.values())
    with pytest.raises(ValueError, match="unknown task kind 'xyz'; expected one of fer, fae, va"):
        build_criterion("xyz", num_classes=2, feature_dim=2)
    with pytest.raises(ValueError, match="unknown loss option 'gamma'"):
        build_criterion("fae", num_classes=40, feature_dim=8, options={"gamma": 1.0})


def test_loss_parameters_left_out_take_the_configs_defaults():
    """The defaults live in LossConfig alone: build_criterion fills what options leave out from it."""
    defaults = LossConfig()
    focal = build_criterion("fae", num_classes=40, feature_dim=8, options={"focal_alpha": 0.25})
    assert (focal.gamma, focal.alpha) == (defaults.focal_gamma, 0.25)
    fer = build_criterion("fer", num_classes=7, feature_dim=8)
    assert (fer.center_weight, fer.label_smoothing) == (defaults.center_weight, defaults.label_smoothing)
    assert build_criterion("va", num_classes=2, feature_dim=8).mse_weight == defaults.mse_weight
    custom = LossConfig(center_weight=0.0, label_smoothing=0.2)
    plain = build_criterion("fer", num_classes=7, feature_dim=8, options=custom)
    assert plain.center is None and plain.label_smoothing == 0.2
    with pytest.raises(TypeError):
        FocalLoss(gamma=2.0)  # no default of its own: the config's is the one


def test_ccc_loss_is_one_minus_the_metric_ccc_plus_weighted_mse():
    from faer_hub.training.losses import CCCLoss, build_criterion
    from faer_hub.evaluation.metrics import load_metric

    pred = torch.tensor([[0.5, 0.3], [-0.5, 0.5], [0.0, 0.7], [0.0, 0.9]])
    true = torch.tensor([[0.5, 0.2], [-0.5, 0.4], [0.5, 0.6], [-0.5, 0.8]])
    ccc = load_metric("va_regression").compute(predictions=pred.tolist(), references=true.tolist())["ccc"]
    loss, parts = CCCLoss(mse_weight=0.0)(pred, true)
    assert loss.item() == pytest.approx(1 - ccc, abs=1e-6) and set(parts) == {"ccc_loss"}
    mse = ((pred - true) ** 2).mean().item()  # (0.125 + 0.01) / 2
    loss, parts = build_criterion("va", num_classes=2, feature_dim=8, options={"mse_weight": 2.0})(pred, true)
    assert mse == pytest.approx(0.0675) and loss.item() == pytest.approx(1 - ccc + 2 * mse, abs=1e-6)
    assert parts["mse"].item() == pytest.approx(mse)
    assert CCCLoss(mse_weight=1.0)(true, true)[0].item() == pytest.approx(0.0, abs=1e-6)  # perfect: CCC 1, MSE 0


def test_ccc_loss_stays_finite_on_a_constant_batch_and_has_gradients():
    from faer_hub.training.losses import CCCLoss

    outputs = torch.zeros(3, 2, requires_grad=True)
    loss, _ = CCCLoss(mse_weight=1.0)(outputs, torch.full((3, 2), 0.5))  # 0/0 without the epsilon
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(outputs.grad).all() and outputs.grad.abs().sum() > 0
