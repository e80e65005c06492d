"""Library code of the training loop in ``training/train.py``.

config      typed YAML config with ``--set`` overrides and validation
data        resumable data order and per-sample augmentation seeds (over faer_hub.data.loader)
model       model construction and the model+loss module
optim       parameter groups (backbone lr scale, centers) and the lr schedule
checkpoint  atomic checkpoints, resume, best-epoch weights
guard       the non-finite loss stop
outputs     output folder, JSON-lines log, atomic files
run         batch arithmetic, datasets, resume config, trackers, EMA, card results
"""

from .config import Config, ConfigError, config_to_dict, load_config

__all__ = ["Config", "ConfigError", "config_to_dict", "load_config"]
