"""Training configuration: typed dataclasses loaded from YAML, with ``section.key=value`` overrides.

Every key is checked before any work starts: an unknown key, a value of the wrong type or out of
its range, or a model name timm does not know stops with a :class:`ConfigError` that names the
key, where it came from, and the valid keys or range, on one line of bounded length. YAML is read
by a safe loader with a cap on the file size and on what aliases expand to (an alias bomb fails
at once instead of filling the memory).

The checks are hand-written rather than pydantic: pydantic is not a dependency of faer_hub
(only gradio's, in the ``app`` extra), and its messages would need rewriting into these anyway.
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Optional, Sequence, Union

import yaml

__all__ = [
    "CheckpointConfig", "Config", "ConfigError", "DataConfig", "EvalConfig", "LossConfig",
    "ModelConfig", "OptimConfig", "TrainConfig", "TrackingConfig", "load_config", "config_to_dict",
]


class ConfigError(ValueError):
    """A training config that cannot be used as written."""


@dataclass
class ModelConfig:
    name: str = "faer_base"
    """timm model name (``faer_atto`` ... ``faer_large``; ``faer_base`` is the paper's)."""
    pretrained: bool = True
    """Initialise the backbone from timm's ImageNet ConvNeXt of the same size (``<name>.in1k``)."""
    pretrained_file: Optional[str] = None
    """Local backbone weights (timm or official ConvNeXt checkpoint) instead of the Hub."""
    img_size: int = 224
    drop_path_rate: float = 0.1
    ls_init_value: Optional[float] = None
    """Initial layer-scale of the ConvNeXt blocks (timm's default 1e-6 when null); a larger value
    (0.1) trains small models from scratch faster. Only the initialisation: exports don't need it."""
    channels_last: bool = False
    """Train in channels-last memory format (faster convolutions on GPUs); exports are always
    written in the default layout."""
    compile: Optional[bool] = None
    """``torch.compile`` the model through Accelerate (inductor backend). ``null``: whatever the
    launcher says (``accelerate launch --dynamo_backend``), off without one."""


@dataclass
class DataConfig:
    data_dir: Optional[str] = None
    """Dataset folder (official layout); ``--data-dir`` sets it."""
    synthetic: bool = False
    """Generate RAF-DB-format faces into ``<output-dir>/data`` when ``data_dir`` is not given."""
    synthetic_train: int = 600
    synthetic_test: int = 200
    validation_size: float = 0.1
    """Fraction of train held out (stratified, seeded) as validation when the dataset has none."""
    balanced_sampling: bool = False
    """Class-balanced sampling with replacement (weight 1/class count), as papers do on AffectNet."""
    hflip: float = 0.5
    """Probability of a random horizontal flip (the paper's only augmentation)."""
    jitter_degrees: float = 0.0
    """Random rotation of each training crop, up to this many degrees either way
    (:class:`faer_hub.data.loader.RandomSimilarity`; not in the paper's recipe; 0: off)."""
    jitter_translate: float = 0.0
    """Random shift of each training crop, up to this fraction of its side either way (0: off)."""
    jitter_scale: float = 0.0
    """Random scaling of each training crop by a factor in [1 - s, 1 + s] (0: off)."""
    num_workers: int = 4
    cache_dir: Optional[str] = None
    """Where the Arrow cache of the dataset is built (default: the Hugging Face datasets cache).
    For several machines, a folder on shared storage, built once ahead with ``faer-hub prepare``."""
    crop_short_side: int = 256
    """AffectNet face crops are stored in the cache with their short side at most this many pixels
    (0: native size, 360-720 px, whose decoding would need 40-100 cores to feed 8 GPUs)."""
    cache_per_node: bool = False
    """``cache_dir`` is local to each machine: the first process of every machine builds its copy
    (else the main process builds it once, on storage every machine sees); the others poll."""
    cache_wait_minutes: float = 240.0
    """How long processes poll for the cache another process builds."""
    skip_bad_rows: bool = False
    """Leave annotation rows that cannot be used out of the dataset (each one is listed in the
    build report) instead of stopping at the first."""


@dataclass
class OptimConfig:
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    lr: float = 2.5e-4
    """Learning rate of the new layers (CC Attention, classifier) at the global batch size."""
    backbone_lr_scale: float = 1.0
    """Multiplier of ``lr`` for the pretrained backbone (stem, stages, head norm)."""
    weight_decay: float = 0.05
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9
    """SGD only."""
    scheduler: Literal["exponential", "cosine", "constant"] = "exponential"
    gamma: float = 0.95
    """``exponential``: lr x gamma^epoch, stepped at each epoch end (torch's ExponentialLR)."""
    min_lr_ratio: float = 0.0
    """``cosine``: final lr as a fraction of the initial one."""
    warmup_epochs: float = 0.0
    """Linear warmup from 0, per optimizer step, over this many epochs."""
    grad_clip_norm: Optional[float] = None
    lr_scaling: Literal["none", "linear", "sqrt"] = "none"
    """Rescale ``lr`` (every group) for a global batch other than ``lr_reference_batch``: ``linear``
    x batch / reference, ``sqrt`` x its square root; ``none`` keeps ``lr`` as written. Logged."""
    lr_reference_batch: int = 256
    """The global batch ``lr`` was tuned for (the paper's 256)."""


@dataclass
class LossConfig:
    """The loss parameters and their defaults (the paper's recipe, Xu et al. 2024, Sec. 3.2; the
    valence/arousal ones are this package's): the one place they are set, for
    :func:`faer_hub.training.losses.build_criterion` as for the recipe files."""

    focal_gamma: float = 2.0
    """FAE: sigmoid focal loss gamma (torchvision)."""
    focal_alpha: Optional[float] = None
    """FAE: focal alpha; ``null`` weighs positives and negatives alike."""
    center_weight: float = 0.01
    """FER: weight of the center loss on the pooled features (0 disables it)."""
    center_lr_scale: float = 1.0
    """FER: the centers' own lr as a multiple of ``optim.lr`` (no weight decay on them)."""
    label_smoothing: float = 0.0
    """FER: cross-entropy label smoothing."""
    mse_weight: float = 1.0
    """Valence/arousal: weight of the mean squared error added to 1 - CCC (0: CCC alone)."""


@dataclass
class TrainConfig:
    epochs: int = 120
    global_batch_size: int = 256
    """per_device_batch_size x processes x gradient accumulation; checked at startup."""
    per_device_batch_size: int = 64
    eval_batch_size: int = 128
    mixed_precision: Optional[Literal["no", "bf16", "fp16"]] = None
    """``null``: the launcher's choice (``accelerate launch --mixed_precision``), ``no`` without
    one. A value here wins over the launcher, and a disagreement is reported."""
    ema: bool = False
    ema_decay: float = 0.9998
    ema_warmup: bool = True
    """timm ModelEmaV3 decay warmup (short runs need it)."""
    cpu_threads: Optional[int] = None
    """PyTorch CPU threads per process (null: PyTorch's default, one per core). Small models on
    busy machines run much faster with 1 (no thread spinning against other programs)."""
    log_every_steps: int = 20
    max_steps_per_epoch: Optional[int] = None
    """Stop each epoch after this many optimizer steps (smoke tests)."""
    dist_timeout_minutes: float = 15.0
    """Timeout of the process group's collectives: how long every GPU idles behind a stalled
    process before the run stops. Processes wait for a cache build by polling
    (``data.cache_wait_minutes``), not in a collective."""


@dataclass
class EvalConfig:
    select_metric: Optional[str] = None
    """Validation metric that picks the best epoch (default: ``accuracy`` for FER,
    ``mean_accuracy`` for FAE, ``ccc`` (mean of valence and arousal) for valence/arousal);
    higher is better."""
    use_ema: bool = True
    """Evaluate and export the EMA weights when ``train.ema`` is on."""
    every_epochs: int = 1
    """Validate (and select the best epoch) every N epochs; the last epoch is always validated."""


@dataclass
class CheckpointConfig:
    every_steps: int = 500
    """Save the full training state every N optimizer steps (0: only at epoch ends)."""
    every_epochs: int = 1
    """Also save it at the end of every N-th epoch (and always after the last)."""
    keep_last: int = 2


@dataclass
class TrackingConfig:
    report_to: Literal["auto", "tensorboard", "none"] = "auto"
    """``auto``: TensorBoard when installed; the JSON-lines log is always written."""
    project_name: str = "faer"


@dataclass
class Config:
    task: str = "rafdb"
    """``celeba``, ``rafdb``, ``affectnet7``, ``affectnet8`` or ``affectnet_va``."""
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)


# ----------------------------------------------------------------------------- loading

MAX_CONFIG_BYTES = 1 << 20
"""Largest config file read (a training config is a few kilobytes)."""
MAX_YAML_VALUES = 10_000
"""Most values a config may hold once its YAML aliases are expanded (a config has about 80)."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses documents whose aliases expand past :data:`MAX_YAML_VALUES`
    values, or refer to themselves, before any Python object is built from them."""

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        _expanded_size(node, {}, set())
        return node


class _YamlTooLarge(yaml.YAMLError):
    pass


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` stands for with every alias written out (shared nodes counted once
    per use, computed once each)."""
    if id(node) in sizes:
        return sizes[id(node)]
    if id(node) in open_nodes:
        raise _YamlTooLarge("an alias refers to the node that contains it (a recursive anchor)")
    open_nodes.add(id(node))
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes, open_nodes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes, open_nodes) + _expanded_size(v, sizes, open_nodes) for k, v in node.value)
    if size > MAX_YAML_VALUES:
        raise _YamlTooLarge(f"its aliases expand to more than {MAX_YAML_VALUES:,} values (an alias bomb?); "
                            "a training config holds about 80")
    open_nodes.discard(id(node))
    sizes[id(node)] = size
    return size


def _parse_yaml(text: str, source: str) -> Any:
    """``text`` parsed by :class:`_BoundedLoader`; a :class:`ConfigError` naming ``source`` otherwise."""
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: {len(text):,} characters, more than a training config's limit of "
                          f"{MAX_CONFIG_BYTES:,}; pass a training config such as training/configs/rafdb.yaml")
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506  (a SafeLoader subclass)
    except _YamlTooLarge as err:
        raise ConfigError(f"{source}: refused: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{source} is not valid YAML: {_short_text(str(err))}") from None
    except RecursionError:
        raise ConfigError(f"{source}: refused: nested too deeply to be a training config") from None


def _short_text(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict, _SHOWN.maxlevel = 60, 60, 6, 6, 2


def _shown(value: Any) -> str:
    """``repr(value)`` cut short: config values go into one-line messages."""
    return _SHOWN.repr(value)


def load_config(
    path: Union[str, Path, None] = None, overrides: Sequence[str] = (), *, base: Optional[Mapping[str, Any]] = None
) -> Config:
    """Read a YAML config (all keys optional, defaults above), apply ``section.key=value``
    overrides (values parsed as YAML), and validate every key and type."""
    raw: dict[str, Any] = dict(base or {})
    source = "config"
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"cannot read config file {path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path} is not a YAML text file (not UTF-8 text); pass a training config such as "
                              "training/configs/rafdb.yaml") from None
        loaded = _parse_yaml(text, str(path))
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of sections, got {type(loaded).__name__}")
        raw = _deep_merge(raw, loaded)
    _check_values(_build(Config, raw, prefix="", source=source), source)  # file errors name the file
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {_shown(item)}: expected section.key=value, e.g. --set optim.lr=1e-3")
        try:
            parsed = _parse_yaml(value, f"--set {key.strip()}") if value.strip() else None
        except ConfigError as err:
            if "refused" in str(err):
                raise
            parsed = value
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = parsed
        shown = f"--set {_short_text(item, 100)}"
        _check_values(_build(Config, raw, prefix="", source=shown), shown)
    return _build(Config, raw, prefix="", source=source)


def _check_values(config: Config, source: str) -> None:
    from ..tasks import TASKS

    def need(ok: bool, key: str, what: str) -> None:  # every message: one line, the key, the range
        if not ok:
            raise ConfigError(f"{source}: config key '{key}' {what}")

    need(config.task in TASKS, "task", f"must be one of {', '.join(TASKS)}, got {_shown(config.task)}")
    task = TASKS[config.task]
    need(not config.data.balanced_sampling or task.spec.single_label, "data.balanced_sampling",
         f"needs single-label classes to balance; task {task.name!r} is {task.spec.description}")
    need(config.train.epochs >= 1, "train.epochs", "must be at least 1")
    need(config.train.cpu_threads is None or config.train.cpu_threads >= 1, "train.cpu_threads", "must be at least 1")
    for key in ("global_batch_size", "per_device_batch_size", "eval_batch_size", "log_every_steps"):
        need(getattr(config.train, key) >= 1, f"train.{key}", "must be at least 1")
    need(config.optim.lr > 0, "optim.lr", "must be positive")
    need(0.0 <= config.data.hflip <= 1.0, "data.hflip", "must be a probability in [0, 1]")
    need(0.0 <= config.data.jitter_degrees <= 45.0, "data.jitter_degrees", "must be in [0, 45]")
    need(0.0 <= config.data.jitter_translate <= 0.25, "data.jitter_translate", "must be a fraction in [0, 0.25]")
    need(0.0 <= config.data.jitter_scale <= 0.5, "data.jitter_scale", "must be a fraction in [0, 0.5]")
    need(config.data.num_workers >= 0, "data.num_workers", "must be 0 or more")
    need(0.0 < config.optim.gamma <= 1.0, "optim.gamma", "must be in (0, 1]")
    need(config.optim.warmup_epochs >= 0, "optim.warmup_epochs", "must be 0 or more")
    need(config.checkpoint.keep_last >= 1, "checkpoint.keep_last", "must be at least 1")
    need(config.checkpoint.every_steps >= 0, "checkpoint.every_steps", "must be 0 or more")
    need(config.checkpoint.every_epochs >= 1, "checkpoint.every_epochs", "must be at least 1")
    need(config.eval.every_epochs >= 1, "eval.every_epochs", "must be at least 1")
    need(config.optim.lr_reference_batch >= 1, "optim.lr_reference_batch", "must be at least 1")
    need(config.data.crop_short_side >= 0, "data.crop_short_side", "must be 0 (native size) or more")
    need(config.data.cache_wait_minutes > 0, "data.cache_wait_minutes", "must be positive")
    need(config.train.dist_timeout_minutes > 0, "train.dist_timeout_minutes", "must be positive")
    need(0.0 <= config.loss.label_smoothing < 1.0, "loss.label_smoothing", "must be in [0, 1)")
    need(config.loss.center_weight >= 0, "loss.center_weight", "must be 0 or more")
    need(config.loss.mse_weight >= 0, "loss.mse_weight", "must be 0 or more")
    need(0 <= config.seed < 2**32, "seed", f"must be in [0, 2**32), got {config.seed}")
    _check_model(config.model, need)
    need(0.0 < config.data.validation_size < 1.0, "data.validation_size",
         f"must be a fraction in (0, 1), got {config.data.validation_size}")
    for key in ("synthetic_train", "synthetic_test"):
        need(1 <= getattr(config.data, key) <= 1_000_000, f"data.{key}", "must be between 1 and 1,000,000 images")
    for i, beta in enumerate(config.optim.betas):
        need(0.0 <= beta < 1.0, f"optim.betas[{i}]", f"must be in [0, 1), got {beta}")
    need(config.optim.weight_decay >= 0, "optim.weight_decay", "must be 0 or more")
    need(config.optim.backbone_lr_scale >= 0, "optim.backbone_lr_scale", "must be 0 or more")
    need(0.0 <= config.optim.momentum < 1.0, "optim.momentum", "must be in [0, 1)")
    need(0.0 <= config.optim.min_lr_ratio <= 1.0, "optim.min_lr_ratio", "must be in [0, 1]")
    need(config.optim.grad_clip_norm is None or config.optim.grad_clip_norm > 0, "optim.grad_clip_norm",
         "must be positive, or null for no clipping")
    need(config.loss.focal_gamma >= 0, "loss.focal_gamma", "must be 0 or more")
    need(config.loss.focal_alpha is None or 0.0 <= config.loss.focal_alpha <= 1.0, "loss.focal_alpha",
         "must be in [0, 1], or null")
    need(config.loss.center_lr_scale >= 0, "loss.center_lr_scale", "must be 0 or more")
    need(config.train.max_steps_per_epoch is None or config.train.max_steps_per_epoch >= 1,
         "train.max_steps_per_epoch", "must be at least 1, or null for whole epochs")
    need(0.0 <= config.train.ema_decay < 1.0, "train.ema_decay", "must be in [0, 1)")
    need(bool(config.tracking.project_name.strip()), "tracking.project_name", "must not be empty")


MAX_IMG_SIZE = 4096


def _check_model(model: ModelConfig, need: Any) -> None:
    """The model name against timm's registry and the sizes the architecture accepts."""
    import timm

    from .. import models  # noqa: F401  (registers the faer_* architectures)

    need(timm.is_model(model.name), "model.name",
         f"must be a timm model name, got {_shown(model.name)}; FAER sizes: {', '.join(_faer_sizes())}")
    need(32 <= model.img_size <= MAX_IMG_SIZE, "model.img_size",
         f"must be between 32 (ConvNeXt downsamples by 32) and {MAX_IMG_SIZE}, got {model.img_size}")
    need(0.0 <= model.drop_path_rate < 1.0, "model.drop_path_rate", "must be in [0, 1)")
    need(model.ls_init_value is None or model.ls_init_value > 0, "model.ls_init_value", "must be positive, or null")


def _faer_sizes() -> list[str]:
    import timm

    sizes = ("atto", "femto", "pico", "nano", "tiny", "small", "base", "large")
    return [name for name in (f"faer_{size}" for size in sizes) if timm.is_model(name)]


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain (YAML/JSON-serialisable) dict of a config."""
    def convert(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple):
            return [convert(v) for v in value]
        return value
    return convert(config)


def _deep_merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _build(cls: type, raw: Any, *, prefix: str, source: str) -> Any:
    where = prefix.rstrip(".") or "top level"
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: '{where}' must be a mapping of keys, got {_shown(raw)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        raise ConfigError(
            f"{source}: unknown config key '{prefix}{_short_text(str(unknown[0]), 60)}'; valid keys in {where}: "
            + ", ".join(fields)
        )
    values = {}
    for name, value in raw.items():
        hint = hints[name]
        key = f"{prefix}{name}"
        if dataclasses.is_dataclass(hint):
            values[name] = _build(hint, value, prefix=f"{key}.", source=source)
        else:
            values[name] = _check(value, hint, key, source)
    return cls(**values)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(hint))
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is tuple:
        return "[" + ", ".join(_type_name(a) for a in typing.get_args(hint)) + "]"
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _check(value: Any, hint: Any, key: str, source: str) -> Any:
    def fail() -> ConfigError:
        return ConfigError(
            f"{source}: config key '{key}' must be {_type_name(hint)}, got {_shown(value)} ({type(value).__name__})"
        )

    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return _check(value, arg, key, source)
            except ConfigError:
                continue
        raise fail()
    if origin is Literal:
        if value in typing.get_args(hint) and not isinstance(value, bool):
            return value
        # YAML reads a bare `no` as False: accept it for the mixed-precision choice 'no'
        if value is False and "no" in typing.get_args(hint):
            return "no"
        raise fail()
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise fail()
        return tuple(_check(v, a, f"{key}[{i}]", source) for i, (v, a) in enumerate(zip(value, args)))
    if hint is type(None):
        if value is None:
            return None
        raise fail()
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise fail()
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail()
    if hint is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None and math.isfinite(number):  # nan and inf are no setting
            return number
        raise fail()
    if hint is str:
        if isinstance(value, str):
            return value
        raise fail()
    raise TypeError(f"unsupported config type {hint!r} for {key}")
