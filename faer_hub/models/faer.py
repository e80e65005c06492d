"""FAER: ConvNeXt with Contextual Channel Attention before the head.

Paper: "Facial attribute estimation and expression recognition based on contextual channel
attention mechanism", Xu et al., Journal of Computer Applications, 2024
(doi:10.11772/j.issn.1001-9081.2024010098).

:class:`FAER` is timm's :class:`~timm.models.convnext.ConvNeXt` with one
:class:`~faer_hub.models.cca.ContextualChannelAttention` block (``model.cca``) between the
last stage and timm's head (global pool -> LayerNorm -> Linear). Everything else (stem,
stages, head, feature extraction, layer-wise lr decay groups) is timm's.

Pretrained configs, per architecture ``faer_<size>``:
  * ``.in1k``: backbone initialised from timm's ImageNet ConvNeXt of the same size, CC
    Attention and head left at init (the stand-in for the paper's unpublished MS-Celeb backbone).
  * ``.celeba``, ``.rafdb``, ``.affectnet7``, ``.affectnet8``, ``.affectnet_va``: FAER trained for
    that task, with label names, published at ``<HUB_NAMESPACE>/faer_<size>.<task>`` (none are
    published yet).
Task models ``faer_celeba``, ``faer_raf``, ``faer_affectnet``, ``faer_affectnet8`` and
``faer_affectnet_va`` are ``faer_base`` (the paper's size) with that task's config.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from timm.models import build_model_with_cfg, generate_default_cfgs, register_model
from timm.models._features import feature_take_indices
from timm.models._manipulate import checkpoint
from timm.models.convnext import ConvNeXt
from timm.models.convnext import checkpoint_filter_fn as convnext_checkpoint_filter_fn
from torch import nn

from ..errors import InputError
from ..settings import HUB_NAMESPACE, PUBLISHED_WEIGHTS
from ..tasks import TASKS
from . import cca as _cca  # the module, not the name: importing cca first imports timm, which registers this module while cca is still loading

__all__ = ["FAER", "FAERWeightsNotFoundError", "checkpoint_filter_fn"]


class FAERWeightsNotFoundError(RuntimeError, InputError):
    """Pretrained FAER weights could not be found on the Hub or in the local HF cache."""


class FAER(ConvNeXt):
    """ConvNeXt + CC Attention (``self.cca``) between the last stage and the head.

    Args:
        cca_kernel_size: Query conv kernel size of CC Attention (paper: 7).
        cca_groups: Query conv groups (authors' code: 4).
        cca_reduction: Key MLP reduction (paper: 8).
        **kwargs: Passed to timm's ``ConvNeXt`` (depths, dims, num_classes, in_chans,
            drop_path_rate, ...).
    """

    def __init__(
        self,
        *args: Any,
        cca_kernel_size: int = 7,
        cca_groups: int = 4,
        cca_reduction: int = 8,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cca = _cca.ContextualChannelAttention(
            self.num_features, kernel_size=cca_kernel_size, groups=cca_groups, reduction=cca_reduction,
        )
        self.cca_grad_checkpointing = False
        # the deepest feature map users get (features_only, forward_intermediates) includes CC Attention
        self.feature_info[-1] = dict(self.feature_info[-1], module="cca")

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> Dict[str, Any]:
        matcher = super().group_matcher(coarse)
        if not coarse:
            matcher["blocks"] = matcher["blocks"][:-1] + [(r"^cca", (99999,)), (r"^norm_pre", (99999,))]
        else:
            matcher["blocks"] = [(matcher["blocks"], None), (r"^cca", (99999,)), (r"^norm_pre", (99999,))]
        return matcher

    @torch.jit.ignore
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        super().set_grad_checkpointing(enable)
        self.cca_grad_checkpointing = enable

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        if self.cca_grad_checkpointing and not torch.jit.is_scripting():
            return checkpoint(self.cca, x)
        return self.cca(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.stages(x)
        x = self._attend(x)
        x = self.norm_pre(x)
        return x

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: Optional[Union[int, List[int]]] = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Union[List[torch.Tensor], Tuple[torch.Tensor, List[torch.Tensor]]]:
        """Like timm's ConvNeXt; the last stage's map is taken after CC Attention."""
        assert output_fmt in ("NCHW",), "Output shape must be NCHW."
        intermediates = []
        take_indices, max_index = feature_take_indices(len(self.stages), indices)
        last_idx = len(self.stages) - 1

        x = self.stem(x)
        if torch.jit.is_scripting() or not stop_early:  # can't slice blocks in torchscript
            stages = self.stages
        else:
            stages = self.stages[: max_index + 1]
        feat_idx = 0
        for feat_idx, stage in enumerate(stages):
            x = stage(x)
            if feat_idx == last_idx:
                x = self._attend(x)
            if feat_idx in take_indices:
                intermediates.append(self.norm_pre(x) if norm and feat_idx == last_idx else x)

        if intermediates_only:
            return intermediates
        if feat_idx == last_idx:
            x = self.norm_pre(x)
        return x, intermediates

    def prune_intermediate_layers(
        self,
        indices: Union[int, List[int]] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> List[int]:
        take_indices = super().prune_intermediate_layers(indices, prune_norm=prune_norm, prune_head=prune_head)
        if len(self.stages) < len(self.feature_info):
            self.cca = nn.Identity()  # sized for (and only applied after) the last stage
        return take_indices


def _remap_authors_attention(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename the authors' ``attention.*`` keys to ours (``cca.*``)."""
    names = {"depthwise": "conv", "norm": "norm", "mlp": "mlp", "value": "value"}
    out = {}
    for k, v in state_dict.items():
        m = re.match(r"attention\.(depthwise|norm|mlp|value)\.(.+)", k)
        out[f"cca.{names[m.group(1)]}.{m.group(2)}" if m else k] = v
    return out


def checkpoint_filter_fn(state_dict: Dict[str, Any], model: FAER) -> Dict[str, torch.Tensor]:
    """Map foreign checkpoints onto FAER.

    Handles: FAER's own (timm) layout; the authors' training code (official ConvNeXt keys plus
    ``attention.*``, wrapped in ``{'state_dict': ...}``, with or without ``module.``); and plain
    ConvNeXt checkpoints (timm or official), for which CC Attention is left at its init.
    """
    for key in ("state_dict", "model"):
        if isinstance(state_dict.get(key), dict):
            state_dict = state_dict[key]
    state_dict = {k.removeprefix("module."): v for k, v in state_dict.items()}
    state_dict = _remap_authors_attention(state_dict)
    attention = {k: v for k, v in state_dict.items() if k.startswith("cca.")}
    rest = {k: v for k, v in state_dict.items() if not k.startswith("cca.")}
    out = dict(convnext_checkpoint_filter_fn(rest, model))
    if not attention and isinstance(model.cca, _cca.ContextualChannelAttention):
        # a plain ConvNeXt backbone: keep CC Attention at its initialisation
        attention = {f"cca.{k}": v for k, v in model.cca.state_dict().items()}
    out.update(attention)
    _warn_if_head_will_be_dropped(out, model)
    return out


def _warn_if_head_will_be_dropped(state_dict: Dict[str, torch.Tensor], model: FAER) -> None:
    """timm drops a checkpoint's classifier whenever the model's class count differs from the
    pretrained tag's (``faer_base`` is tagged with ImageNet's 1000), even when the checkpoint's
    head has exactly the model's outputs: say so, since those are trained weights silently lost."""
    classifier = model.pretrained_cfg.get("classifier", "head.fc")
    weight = state_dict.get(f"{classifier}.weight")
    tag_classes = model.pretrained_cfg.get("num_classes")
    if weight is not None and weight.shape[0] == model.num_classes and tag_classes not in (None, model.num_classes):
        warnings.warn(
            f"the checkpoint's {classifier} has {model.num_classes} outputs, as the model, but timm will drop it "
            f"because the pretrained config says {tag_classes} classes; keep it with "
            f"pretrained_cfg_overlay=dict(file=..., num_classes={model.num_classes}) (as `faer-hub convert` does)",
            stacklevel=2,
        )


def _hub_source(pretrained_cfg: Dict[str, Any]) -> Optional[str]:
    """The Hub repo a pretrained load will read, or None for local files and state dicts."""
    if pretrained_cfg.get("file") or pretrained_cfg.get("state_dict") or pretrained_cfg.get("source") == "local-dir":
        return None
    return pretrained_cfg.get("hf_hub_id")


def export_config_path(pretrained_cfg: Mapping[str, Any]) -> Path | None:
    """Where the ``config.json`` of the export a model was loaded from lies: the ``local-dir:``
    folder, or the ``hf-hub:`` repo's file in the local cache; None when there is none on disk."""
    path = None
    if pretrained_cfg.get("source") == "local-dir" and pretrained_cfg.get("file"):
        path = Path(pretrained_cfg["file"]) / "config.json"
    elif pretrained_cfg.get("source") == "hf-hub" and pretrained_cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(pretrained_cfg["hf_hub_id"], "config.json")
        path = Path(cached) if isinstance(cached, str) else None
    return path if path is not None and path.is_file() else None


def _face_crop_of(model: FAER) -> Any:
    """The face-crop protocol to record in ``pretrained_cfg``: an export's ``config.json`` names it
    at its top level (timm's PretrainedCfg has no field for it); registered configs by their task."""
    config = export_config_path(model.pretrained_cfg)
    configured = json.loads(config.read_text()).get("face_crop") if config is not None else None
    from ..faces.align import face_crop_setting
    from ..tasks import Task

    return face_crop_setting(configured, None if configured is not None else Task.from_model(model))


def _create_faer(variant: str, pretrained: bool = False, **kwargs: Any) -> FAER:
    face_crop = kwargs.pop("face_crop", None)
    model = _build_faer(variant, pretrained, **kwargs)
    if face_crop is None:
        face_crop = _face_crop_of(model)
    if face_crop is not None:
        model.pretrained_cfg["face_crop"] = face_crop
    return model


def _build_faer(variant: str, pretrained: bool = False, **kwargs: Any) -> FAER:
    try:
        return build_model_with_cfg(
            FAER,
            variant,
            pretrained,
            pretrained_filter_fn=checkpoint_filter_fn,
            feature_cfg=dict(out_indices=(0, 1, 2, 3), feature_cls="getter"),
            **kwargs,
        )
    except OSError as err:
        repo_id = _hub_source(_resolved_pretrained_cfg(variant, kwargs)) if pretrained else None
        if repo_id is None:
            raise
        is_faer_repo = repo_id.startswith(f"{HUB_NAMESPACE}/faer_")
        unpublished = is_faer_repo and repo_id not in PUBLISHED_WEIGHTS
        raise FAERWeightsNotFoundError(
            f"Could not load pretrained weights for {variant!r} from the Hugging Face Hub repo {repo_id!r} "
            f"({type(err).__name__}: {err}).\n"
            + (
                "No trained FAER weights are published yet. Train your own with "
                "`accelerate launch training/train.py --config training/configs/<task>.yaml`, then load the "
                "export with timm.create_model('local-dir:<output-dir>/export', pretrained=True) or push it to your own "
                "organisation (set FAER_HUB_NAMESPACE=<org> before `import faer_hub`).\n"
                if unpublished
                else "If you are offline, download the repo first while online (it is then read from the HF cache "
                "with HF_HUB_OFFLINE=1).\n"
            )
            + "To use a local weights file: timm.create_model(name, pretrained=True, "
            "pretrained_cfg_overlay=dict(file='path/to/model.safetensors')); for an export folder: "
            "timm.create_model('local-dir:path/to/folder', pretrained=True)."
        ) from err


def _resolved_pretrained_cfg(variant: str, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    from timm.models import resolve_pretrained_cfg

    cfg = resolve_pretrained_cfg(variant, pretrained_cfg=kwargs.get("pretrained_cfg")).to_dict()
    cfg.update(kwargs.get("pretrained_cfg_overlay") or {})
    return cfg


# ----------------------------------------------------------------------------- configs as data

FACE_CROP_MODE = "squash"
"""The recipe's resize (the authors' code for Xu et al. 2024, Sec. 3.2): the face crop stretched
to the input size, no aspect-preserving crop. Declared in every FAER ``pretrained_cfg``, so timm's
``create_transform``, the transformers pipeline and ONNX runtimes (metadata ``faer_hub.crop_mode``)
resize faces as :func:`faer_hub.data.transforms.build_transform` does in training and prediction."""

_FACE_PREPROCESSING = dict(
    input_size=(3, 224, 224),
    pool_size=(7, 7),
    crop_pct=1.0,  # the authors resize faces to 224x224, no crop
    crop_mode=FACE_CROP_MODE,
    interpolation="bilinear",
    mean=IMAGENET_DEFAULT_MEAN,
    std=IMAGENET_DEFAULT_STD,
    first_conv="stem.0",
    classifier="head.fc",
)
_PAPER = dict(
    paper_ids="doi:10.11772/j.issn.1001-9081.2024010098",
    paper_name="Facial attribute estimation and expression recognition based on contextual channel attention mechanism",
)

_SIZES = ("atto", "femto", "pico", "nano", "tiny", "small", "base", "large")
_IMAGENET_TAGS = dict(  # timm's ImageNet ConvNeXt weights used to initialise each backbone
    atto="d2_in1k", femto="d1_in1k", pico="d1_in1k", nano="d1h_in1k",
    tiny="fb_in1k", small="fb_in1k", base="fb_in1k", large="fb_in1k",
)
PAPER_SIZE = "base"
"""The size the paper trains; the task models (``faer_raf``, ...) use it."""


def hub_repo_id(size: str, task: str) -> str:
    """Hub repo of FAER-``size`` trained for ``task``: ``<HUB_NAMESPACE>/faer_<size>.<task>``."""
    return f"{HUB_NAMESPACE}/faer_{size}.{task}"


def _task_cfg(size: str, task_name: str) -> Dict[str, Any]:
    task = TASKS[task_name]
    return dict(
        _FACE_PREPROCESSING,
        **_PAPER,
        hf_hub_id=hub_repo_id(size, task_name),
        hf_hub_filename="model.safetensors",
        num_classes=task.num_classes,
        label_names=task.label_names,
        license="other",  # FAER code is MIT; weights trained on research-only datasets
        description=f"FAER-{size} for {task.dataset_title} ({task.spec.description})",
    )


def _backbone_cfg(size: str) -> Dict[str, Any]:
    timm_name = f"convnext_{size}.{_IMAGENET_TAGS[size]}"
    return dict(
        _FACE_PREPROCESSING,
        **_PAPER,
        hf_hub_id=f"timm/{timm_name}",
        num_classes=1000,
        license="apache-2.0",
        description=f"ConvNeXt backbone from timm's {timm_name}; CC Attention and head at init",
    )


default_cfgs = generate_default_cfgs({
    **{f"faer_{size}.in1k": _backbone_cfg(size) for size in _SIZES},
    **{f"faer_{size}.{task}": _task_cfg(size, task) for size in _SIZES for task in TASKS},
    **{task.model_name: _task_cfg(PAPER_SIZE, task.name) for task in TASKS.values()},
})

_SIZE_ARGS = dict(
    atto=dict(depths=(2, 2, 6, 2), dims=(40, 80, 160, 320), conv_mlp=True),
    femto=dict(depths=(2, 2, 6, 2), dims=(48, 96, 192, 384), conv_mlp=True),
    pico=dict(depths=(2, 2, 6, 2), dims=(64, 128, 256, 512), conv_mlp=True),
    nano=dict(depths=(2, 2, 8, 2), dims=(80, 160, 320, 640), conv_mlp=True),
    tiny=dict(depths=(3, 3, 9, 3), dims=(96, 192, 384, 768)),
    small=dict(depths=(3, 3, 27, 3), dims=(96, 192, 384, 768)),
    base=dict(depths=(3, 3, 27, 3), dims=(128, 256, 512, 1024)),
    large=dict(depths=(3, 3, 27, 3), dims=(192, 384, 768, 1536)),
)


def _faer(variant: str, size: str, pretrained: bool, **kwargs: Any) -> FAER:
    return _create_faer(variant, pretrained=pretrained, **dict(_SIZE_ARGS[size], **kwargs))


@register_model
def faer_atto(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_atto", "atto", pretrained, **kwargs)


@register_model
def faer_femto(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_femto", "femto", pretrained, **kwargs)


@register_model
def faer_pico(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_pico", "pico", pretrained, **kwargs)


@register_model
def faer_nano(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_nano", "nano", pretrained, **kwargs)


@register_model
def faer_tiny(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_tiny", "tiny", pretrained, **kwargs)


@register_model
def faer_small(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_small", "small", pretrained, **kwargs)


@register_model
def faer_base(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base, the paper's model (ConvNeXt-B depths 3-3-27-3, dims 128-1024)."""
    return _faer("faer_base", "base", pretrained, **kwargs)


@register_model
def faer_large(pretrained: bool = False, **kwargs: Any) -> FAER:
    return _faer("faer_large", "large", pretrained, **kwargs)


@register_model
def faer_celeba(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base for CelebA's 40 attributes (multi-label: apply a sigmoid per output)."""
    return _faer("faer_celeba", PAPER_SIZE, pretrained, **kwargs)


@register_model
def faer_raf(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base for RAF-DB's 7 basic expressions."""
    return _faer("faer_raf", PAPER_SIZE, pretrained, **kwargs)


@register_model
def faer_affectnet(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base for AffectNet's 7 expressions (codes 0-6)."""
    return _faer("faer_affectnet", PAPER_SIZE, pretrained, **kwargs)


@register_model
def faer_affectnet8(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base for AffectNet's 8 expressions (codes 0-7, with contempt)."""
    return _faer("faer_affectnet8", PAPER_SIZE, pretrained, **kwargs)


@register_model
def faer_affectnet_va(pretrained: bool = False, **kwargs: Any) -> FAER:
    """FAER-Base for AffectNet's valence and arousal (2 continuous outputs in [-1, 1]; not in the paper)."""
    return _faer("faer_affectnet_va", PAPER_SIZE, pretrained, **kwargs)
