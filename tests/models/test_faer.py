"""FAER keeps everything a timm ConvNeXt supports."""

import pytest
import timm
import torch

import faer_hub
from faer_hub.models import FAER, ContextualChannelAttention
from faer_hub.tasks import TASKS

ALL_MODELS = timm.list_models("faer_*")
SIZES = ["atto", "femto", "pico", "nano", "tiny", "small", "base", "large"]


def _atto(**kwargs) -> FAER:
    torch.manual_seed(0)
    return timm.create_model("faer_atto", num_classes=7, **kwargs)


def test_registry_has_sizes_and_task_models():
    assert {f"faer_{s}" for s in SIZES} <= set(ALL_MODELS)
    for task in TASKS.values():
        assert task.model_name in ALL_MODELS
    for s in SIZES:
        assert {f"faer_{s}.{t}" for t in ["in1k", *TASKS]} <= set(timm.list_pretrained(f"faer_{s}.*"))


@pytest.mark.parametrize("name", [f"faer_{s}" for s in SIZES])
def test_forward_backward_reaches_every_parameter(name):
    torch.manual_seed(0)
    model = timm.create_model(name, num_classes=3)
    assert isinstance(model, FAER) and isinstance(model.cca, ContextualChannelAttention)
    # 64 px gives a 2x2 last map; at 1x1 the softmax over positions is constant and Q, K get no gradient
    model(torch.randn(2, 3, 64, 64)).square().sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert no_grad == []


@pytest.mark.parametrize("name", timm.list_pretrained("faer_*"))
def test_every_pretrained_tag_builds_with_its_config(name):
    with torch.device("meta"):
        model = timm.create_model(name)
    cfg = model.pretrained_cfg
    assert model.num_classes == cfg["num_classes"]
    task = next((t for t in TASKS.values() if name.endswith(f".{t.name}") or name == t.model_name), None)
    if task is None:  # ImageNet backbone initialisation
        assert cfg["hf_hub_id"].startswith("timm/convnext_")
    else:
        assert tuple(cfg["label_names"]) == task.label_names
        assert cfg["num_classes"] == task.num_classes
        assert cfg["hf_hub_id"].startswith(f"{faer_hub.settings.HUB_NAMESPACE}/faer_")
        assert cfg["hf_hub_filename"] == "model.safetensors"
        assert cfg["paper_ids"] and cfg["license"]
    assert cfg["input_size"] == (3, 224, 224) and cfg["crop_pct"] == 1.0


def test_task_models_are_faer_base_with_task_heads():
    labels = {
        "faer_raf": ("surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral"),
        "faer_affectnet": ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger"),
        "faer_affectnet8": ("neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt"),
    }
    for name, names in labels.items():
        with torch.device("meta"):
            model = timm.create_model(name)
        assert tuple(model.pretrained_cfg["label_names"]) == names
        assert model.num_features == 1024 and [len(s.blocks) for s in model.stages] == [3, 3, 27, 3]
    with torch.device("meta"):
        celeba = timm.create_model("faer_celeba")
    assert celeba.num_classes == 40 and celeba.pretrained_cfg["label_names"][0] == "5_o_Clock_Shadow"


@pytest.mark.parametrize("task", list(TASKS.values()), ids=list(TASKS))
def test_task_models_have_the_faer_base_architecture(task):
    """Task models are faer_base with another head; faer_base's forward/backward test covers them."""
    with torch.device("meta"):
        model = timm.create_model(task.model_name)
        base = timm.create_model("faer_base", num_classes=task.num_classes)
    assert isinstance(model, FAER)
    assert {k: v.shape for k, v in model.state_dict().items()} == {k: v.shape for k, v in base.state_dict().items()}


def test_faer_base_parameter_count_matches_paper():
    with torch.device("meta"):
        model = timm.create_model("faer_base", num_classes=7)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(101.7, abs=0.1)


def test_forward_features_head_and_pre_logits():
    model = _atto().eval()
    x = torch.randn(2, 3, 64, 64)
    feats = model.forward_features(x)
    assert feats.shape == (2, 320, 2, 2)
    pooled = model.forward_head(feats, pre_logits=True)
    assert pooled.shape == (2, 320)
    torch.testing.assert_close(model.forward_head(feats), model(x))
    torch.testing.assert_close(model.head.fc(pooled), model(x))


def test_cc_attention_sits_between_last_stage_and_head():
    model = _atto().eval()
    x = torch.randn(1, 3, 64, 64)
    stages_out = model.stages(model.stem(x))
    torch.testing.assert_close(model.forward_features(x), model.cca(stages_out))
    model.cca = torch.nn.Identity()
    torch.testing.assert_close(model.forward_features(x), stages_out)


def test_reset_classifier():
    model = _atto().eval()
    x = torch.randn(2, 3, 64, 64)
    model.reset_classifier(5)
    assert model(x).shape == (2, 5) and model.get_classifier().out_features == 5
    model.reset_classifier(0)
    assert model(x).shape == (2, 320)


def test_features_only_includes_cc_attention_in_last_map():
    torch.manual_seed(0)
    feat = timm.create_model("faer_atto", features_only=True).eval()
    assert feat.feature_info.channels() == [40, 80, 160, 320]
    assert feat.feature_info.reduction() == [4, 8, 16, 32]
    assert feat.feature_info.module_name()[-1] == "cca"
    x = torch.randn(2, 3, 64, 64)
    maps = feat(x)
    assert [m.shape[1:] for m in maps] == [(40, 16, 16), (80, 8, 8), (160, 4, 4), (320, 2, 2)]
    torch.manual_seed(0)
    full = timm.create_model("faer_atto").eval()
    torch.testing.assert_close(maps[-1], full.forward_features(x))

    early = timm.create_model("faer_atto", features_only=True, out_indices=(0, 1))
    assert isinstance(early.model.cca, torch.nn.Identity) and len(early.model.stages) == 2
    assert [m.shape[1] for m in early(x)] == [40, 80]


def test_forward_intermediates_final_equals_forward_features():
    model = _atto().eval()
    x = torch.randn(2, 3, 64, 64)
    final, inter = model.forward_intermediates(x)
    torch.testing.assert_close(final, model.forward_features(x))
    assert len(inter) == 4 and inter[-1].shape == (2, 320, 2, 2)
    torch.testing.assert_close(inter[-1], final)
    only = model.forward_intermediates(x, indices=[1], stop_early=True, intermediates_only=True)
    torch.testing.assert_close(only[0], inter[1])


def test_prune_intermediate_layers():
    model = _atto().eval()
    x = torch.randn(1, 3, 64, 64)
    expected = model.forward_intermediates(x, indices=2, intermediates_only=True)
    kept = model.prune_intermediate_layers(indices=2)
    assert kept == [2, 3]
    assert isinstance(model.cca, ContextualChannelAttention)  # last stage kept, so attention stays
    for a, b in zip(model.forward_intermediates(x, indices=kept, intermediates_only=True), expected):
        torch.testing.assert_close(a, b)
    model.prune_intermediate_layers(indices=[0, 1])
    assert isinstance(model.cca, torch.nn.Identity) and len(model.stages) == 2


def test_grad_checkpointing_gives_same_output_and_gradients():
    model = _atto()
    x = torch.randn(2, 3, 64, 64)
    out = model(x)
    out.sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    model.set_grad_checkpointing(True)
    assert model.cca_grad_checkpointing and all(s.grad_checkpointing for s in model.stages)
    out_ckpt = model(x)
    out_ckpt.sum().backward()
    torch.testing.assert_close(out_ckpt, out)
    for n, p in model.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], msg=n)


def test_group_matcher_puts_cc_attention_with_the_deepest_blocks_before_the_head():
    from timm.models import group_parameters

    model = _atto()
    for coarse in (False, True):
        groups = list(group_parameters(model, model.group_matcher(coarse=coarse)).values())
        grouped = [n for names in groups for n in names]
        assert sorted(grouped) == sorted(n for n, _ in model.named_parameters())
        index = {n: i for i, names in enumerate(groups) for n in names}
        cca = {index[n] for n in index if n.startswith("cca.")}
        assert len(cca) == 1
        # timm merges the 99999 ordinal into the deepest block's group, as it does for norm_pre
        assert max(index[n] for n in index if n.startswith("stages.")) <= cca.pop() < index["head.fc.weight"]


def test_layer_decay_optimizer_covers_attention():
    from timm.optim import create_optimizer_v2

    model = _atto()
    opt = create_optimizer_v2(model, "adamw", lr=1e-3, layer_decay=0.7)
    params = {id(p) for g in opt.param_groups for p in g["params"]}
    assert all(id(p) in params for p in model.cca.parameters())


def test_torchscript_matches_eager():
    model = _atto().eval()
    scripted = torch.jit.script(model)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(scripted(x), model(x))


def test_torch_fx_trace_matches_eager():
    from timm.models import create_feature_extractor

    model = _atto().eval()
    x = torch.randn(2, 3, 64, 64)
    traced = torch.fx.symbolic_trace(model)
    torch.testing.assert_close(traced(x), model(x))
    extractor = create_feature_extractor(model, return_nodes={"cca": "attn"})
    torch.testing.assert_close(extractor(x)["attn"], model.forward_features(x))


@pytest.mark.parametrize("in_chans", [1, 4])
def test_other_input_channels(in_chans):
    model = timm.create_model("faer_atto", in_chans=in_chans, num_classes=2)
    assert model.stem[0].in_channels == in_chans
    assert model(torch.randn(1, in_chans, 64, 64)).shape == (1, 2)


def test_drop_path_rate_is_stochastic_in_training_only():
    model = _atto(drop_path_rate=0.5)
    x = torch.randn(2, 3, 64, 64)
    assert not torch.allclose(model(x), model(x))
    model.eval()
    torch.testing.assert_close(model(x), model(x))
