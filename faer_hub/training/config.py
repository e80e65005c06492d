"""Training configuration: typed dataclasses loaded from YAML, with ``section.key=value`` overrides.

Every key is checked before any work starts: an unknown key or a value of the wrong type
stops with a :class:`ConfigError` that names the key, where it came from, and the valid keys.
"""

from __future__ import annotations

import dataclasses
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
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {err}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping of sections, got {type(loaded).__name__}")
        raw = _deep_merge(raw, loaded)
    _check_values(_build(Config, raw, prefix="", source=source), source)  # file errors name the file
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set optim.lr=1e-3")
        try:
            parsed = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError:
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
        _check_values(_build(Config, raw, prefix="", source=f"--set {item}"), f"--set {item}")
    return _build(Config, raw, prefix="", source=source)


def _check_values(config: Config, source: str) -> None:
    from ..tasks import TASKS

    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"{source}: config key '{key}' {what}")

    need(config.task in TASKS, "task", f"must be one of {', '.join(TASKS)}, got {config.task!r}")
    task = TASKS[config.task]
    need(not config.data.balanced_sampling or task.kind == "fer", "data.balanced_sampling",
         f"needs single-label classes to balance; task {task.name!r} is {task.spec.description}")
    need(config.train.epochs >= 1, "train.epochs", "must be at least 1")
    need(config.train.cpu_threads is None or config.train.cpu_threads >= 1, "train.cpu_threads", "must be at least 1")
    for key in ("global_batch_size", "per_device_batch_size", "eval_batch_size", "log_every_steps"):
        need(getattr(config.train, key) >= 1, f"train.{key}", "must be at least 1")
    need(config.optim.lr > 0, "optim.lr", "must be positive")
    need(0.0 <= config.data.hflip <= 1.0, "data.hflip", "must be a probability in [0, 1]")
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
        raise ConfigError(f"{source}: '{where}' must be a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in raw if k not in fields]
    if unknown:
        raise ConfigError(
            f"{source}: unknown config key '{prefix}{unknown[0]}'; valid keys in {where}: "
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
            f"{source}: config key '{key}' must be {_type_name(hint)}, got {value!r} ({type(value).__name__})"
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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # PyYAML reads `1e-3` (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise fail()
    if hint is str:
        if isinstance(value, str):
            return value
        raise fail()
    raise TypeError(f"unsupported config type {hint!r} for {key}")
