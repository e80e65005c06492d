"""Parameter groups, the lr schedule (pure function and LambdaLR), and the resumable data order and augmentation seeds."""

from __future__ import annotations

import pytest
import timm
import torch

import faer_hub  # noqa: F401
from faer_hub.training.losses import build_criterion
from faer_hub.training.config import load_config
from faer_hub.training.data import EpochSampler
from faer_hub.training.config import ConfigError
from faer_hub.training.optim import (
    StepSchedule, build_optimizer, build_scheduler, lr_factor, resume_schedule, scaled_lr,
)


def _groups(pretrained):
    model = timm.create_model("faer_atto", num_classes=7)
    crit = build_criterion("fer", num_classes=7, feature_dim=model.num_features)
    c = load_config(None, ["optim.lr=1e-3", "optim.backbone_lr_scale=0.1", "loss.center_lr_scale=10",
                           "optim.weight_decay=0.05"])
    opt = build_optimizer(model, c, backbone_pretrained=pretrained, extra_params=crit.parameters())
    return model, crit, {g["group_name"]: g for g in opt.param_groups}, opt


def test_param_groups_scale_the_pretrained_backbone_and_give_centers_their_own_lr():
    model, crit, groups, opt = _groups(pretrained=True)
    assert isinstance(opt, torch.optim.AdamW)
    assert groups["backbone"]["lr"] == pytest.approx(1e-4) and groups["new"]["lr"] == pytest.approx(1e-3)
    assert groups["centers"]["lr"] == pytest.approx(1e-2) and groups["centers"]["weight_decay"] == 0.0
    assert groups["backbone_no_decay"]["weight_decay"] == 0.0 and groups["backbone"]["weight_decay"] == 0.05
    ids = lambda name: {id(p) for p in groups[name]["params"]}  # noqa: E731
    assert id(model.head.fc.weight) in ids("new") and id(model.cca.value.weight) in ids("new")
    assert id(model.stem[0].weight) in ids("backbone") and id(model.head.fc.bias) in ids("new_no_decay")
    assert ids("centers") == {id(crit.center.centers)}
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters())) + 1
    _, _, scratch, _ = _groups(pretrained=False)  # nothing pretrained: one lr for the whole network
    assert scratch["backbone"]["lr"] == scratch["new"]["lr"] == pytest.approx(1e-3)


def test_exponential_schedule_is_per_epoch_with_warmup():
    opt = load_config(None, ["optim.gamma=0.5", "optim.warmup_epochs=1"]).optim
    f = lambda epoch, step: lr_factor(opt, epoch=epoch, step=step, steps_per_epoch=4, epochs=10)  # noqa: E731
    assert [f(0, s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(1, 5) == 0.5 and f(3, 13) == 0.125
    cos = load_config(None, ["optim.scheduler=cosine", "optim.min_lr_ratio=0.1"]).optim
    assert lr_factor(cos, epoch=0, step=0, steps_per_epoch=10, epochs=2) == pytest.approx(1.0)
    assert lr_factor(cos, epoch=1, step=20, steps_per_epoch=10, epochs=2) == pytest.approx(0.1)


def test_no_decay_follows_timm_and_the_model_no_weight_decay_names():
    model, _, groups, _ = _groups(pretrained=True)
    ids = lambda name: {id(p) for p in groups[name]["params"]}  # noqa: E731
    assert id(model.stem[1].weight) in ids("backbone_no_decay")  # a norm: 1-d
    assert id(model.cca.value.bias) in ids("new_no_decay") and groups["new_no_decay"]["weight_decay"] == 0.0
    model.no_weight_decay = lambda: {"head.fc.weight"}  # timm's convention, as create_optimizer_v2 reads it
    c = load_config(None, ["optim.weight_decay=0.05"])
    opt = build_optimizer(model, c, backbone_pretrained=True)
    named = {g["group_name"]: {id(p) for p in g["params"]} for g in opt.param_groups}
    assert id(model.head.fc.weight) in named["new_no_decay"] and id(model.cca.value.weight) in named["new"]


def _lambda_lr(optim_cfg, *, steps_per_epoch, epochs):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)
    schedule = StepSchedule(optim_cfg, steps_per_epoch=steps_per_epoch, epochs=epochs)
    return opt, schedule, build_scheduler(opt, schedule)


def _drive(opt, scheduler, steps):
    """The lr of each of ``steps`` optimizer steps, the LambdaLR stepped after each as the loop does."""
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("overrides", [
    ["optim.scheduler=cosine", "optim.warmup_epochs=1.5", "optim.min_lr_ratio=0.1"],
    ["optim.scheduler=exponential", "optim.gamma=0.5", "optim.warmup_epochs=0.5"],
])
def test_lambda_lr_gives_lr_factor_at_every_step_and_resumes_exactly(overrides):
    cfg = load_config(None, overrides).optim
    lrs = _drive(*_lambda_lr(cfg, steps_per_epoch=5, epochs=4)[::2], 20)
    assert lrs == [0.1 * lr_factor(cfg, epoch=s // 5, step=s, steps_per_epoch=5, epochs=4) for s in range(20)]
    for stop in (7, 10):  # mid-epoch and at an epoch boundary
        opt, _, scheduler = _lambda_lr(cfg, steps_per_epoch=5, epochs=4)
        _drive(opt, scheduler, stop)
        state = scheduler.state_dict()  # what Accelerate saves
        assert state["last_epoch"] == stop and state["lr_lambdas"] == [None]  # nothing of the lambda is saved
        opt, schedule, scheduler = _lambda_lr(cfg, steps_per_epoch=5, epochs=4)
        scheduler.load_state_dict(state)
        resume_schedule(scheduler, schedule, epoch=stop // 5, epoch_start_step=stop - stop % 5)
        assert _drive(opt, scheduler, 20 - stop) == lrs[stop:]


def test_resumed_at_an_epoch_boundary_with_other_steps_per_epoch_the_epoch_still_counts_right():
    cfg = load_config(None, ["optim.scheduler=exponential", "optim.gamma=0.5"]).optim
    opt, _, scheduler = _lambda_lr(cfg, steps_per_epoch=7, epochs=3)  # e.g. 1 process
    assert _drive(opt, scheduler, 7) == [0.1] * 7
    opt, schedule, resumed = _lambda_lr(cfg, steps_per_epoch=8, epochs=3)  # resumed on another split
    resumed.load_state_dict(scheduler.state_dict())
    resume_schedule(resumed, schedule, epoch=1, epoch_start_step=7)
    assert _drive(opt, resumed, 16) == [0.1 * 0.5] * 8 + [0.1 * 0.25] * 8  # epoch 1 began at step 7, not 8


def test_epoch_sampler_order_depends_on_seed_and_epoch_only():
    s = EpochSampler(50, seed=3)
    s.set_epoch(2)
    first = list(s)
    s.set_epoch(0)
    list(s)
    s.set_epoch(2)
    assert list(s) == first
    assert sorted(i for i, _ in first) == list(range(50))
    assert len({seed for _, seed in first}) == 50
    s.set_epoch(3)
    assert [i for i, _ in s] != [i for i, _ in first]


def test_epoch_sampler_draws_in_proportion_to_weights():
    labels = [0] * 90 + [1] * 10
    w = torch.tensor([1 / 90] * 90 + [1 / 10] * 10, dtype=torch.float64)
    s = EpochSampler(100, seed=0, weights=w)
    counts = [0, 0]
    for epoch in range(20):
        s.set_epoch(epoch)
        for i, _ in s:
            counts[labels[i]] += 1
    assert 0.4 < counts[1] / sum(counts) < 0.6
    s.set_epoch(3)
    first = list(s)
    assert list(s) == first  # with replacement, still a function of (seed, epoch) only


@pytest.mark.parametrize("rule,factor", [("none", 1.0), ("linear", 4.0), ("sqrt", 2.0)])
def test_lr_scaling_rescales_every_group_for_a_larger_global_batch(rule, factor):
    c = load_config(None, ["optim.lr=1e-3", f"optim.lr_scaling={rule}", "train.global_batch_size=1024",
                           "loss.center_lr_scale=10"])
    assert scaled_lr(c.optim, 1024) == pytest.approx(1e-3 * factor)
    model = timm.create_model("faer_atto", num_classes=7)
    crit = build_criterion("fer", num_classes=7, feature_dim=model.num_features)
    opt = build_optimizer(model, c, backbone_pretrained=False, extra_params=crit.parameters())
    lrs = {g["group_name"]: g["lr"] for g in opt.param_groups}
    assert lrs["new"] == lrs["backbone"] == pytest.approx(1e-3 * factor)
    assert lrs["centers"] == pytest.approx(1e-2 * factor)
    assert load_config(None, ["optim.lr_scaling=linear"]).optim.lr_reference_batch == 256  # the paper's batch
    with pytest.raises(ConfigError, match="optim.lr_scaling"):
        load_config(None, ["optim.lr_scaling=quadratic"])


def test_adamw_is_fused_only_when_asked_and_sgd_never():
    model = timm.create_model("faer_atto", num_classes=7)
    c = load_config(None, [])
    assert build_optimizer(model, c, backbone_pretrained=False, fused=True).defaults["fused"] is True
    assert not build_optimizer(model, c, backbone_pretrained=False).defaults.get("fused")
    sgd = build_optimizer(model, load_config(None, ["optim.optimizer=sgd"]), backbone_pretrained=False, fused=True)
    assert isinstance(sgd, torch.optim.SGD) and not sgd.defaults.get("fused")
