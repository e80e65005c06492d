"""Config loading, overrides and validation; the shipped recipes; errors before any work."""

from __future__ import annotations


import pytest

from faer_hub.training.config import ConfigError, load_config
from faer_hub.training.outputs import OutputDirError, check_output_dir
from faer_hub.training.run import gradient_accumulation_steps, resolve_resume_config

from .conftest import REPO, TINY_FER, load_train_module, write_config

CONFIGS = REPO / "training" / "configs"


@pytest.mark.parametrize("task", ["celeba", "rafdb", "affectnet7", "affectnet8"])
def test_paper_recipes(task):
    c = load_config(CONFIGS / f"{task}.yaml")
    assert c.task == task
    assert (c.model.name, c.model.img_size, c.model.pretrained) == ("faer_base", 224, True)
    assert (c.optim.optimizer, c.optim.scheduler, c.optim.gamma) == ("adamw", "exponential", 0.95)
    assert c.train.global_batch_size == 256 and c.data.hflip == 0.5
    if task == "celeba":
        assert (c.optim.lr, c.train.epochs, c.loss.focal_gamma) == (1e-3, 60, 2.0)
    else:
        assert (c.optim.lr, c.loss.center_weight) == (2.5e-4, 0.01)
        assert c.train.epochs == (120 if task == "rafdb" else 60)
        assert c.data.balanced_sampling == task.startswith("affectnet")
    for processes in (1, 2, 4):
        assert gradient_accumulation_steps(c.train, processes) * c.train.per_device_batch_size * processes == 256


def test_valence_arousal_recipe():
    """Not from the paper: its AffectNet recipe with the regression loss, selected on validation CCC."""
    c = load_config(CONFIGS / "affectnet_va.yaml")
    assert (c.task, c.model.name, c.model.img_size, c.model.pretrained) == ("affectnet_va", "faer_base", 224, True)
    assert (c.optim.lr, c.optim.scheduler, c.train.epochs, c.train.global_batch_size) == (2.5e-4, "exponential", 60, 256)
    assert (c.loss.mse_weight, c.eval.select_metric, c.data.balanced_sampling) == (1.0, "ccc", False)
    with pytest.raises(ConfigError, match="data.balanced_sampling' needs single-label classes to balance; task "
                                          "'affectnet_va' is valence and arousal estimation"):
        load_config(CONFIGS / "affectnet_va.yaml", ["data.balanced_sampling=true"])


def test_demo_config_is_small_and_offline():
    c = load_config(CONFIGS / "demo.yaml")
    assert (c.task, c.model.name, c.model.pretrained, c.data.synthetic) == ("rafdb", "faer_atto", False, True)


def test_overrides_are_typed():
    c = load_config(None, ["optim.lr=1e-3", "train.epochs=3", "optim.betas=[0.9, 0.99]", "train.mixed_precision=no",
                           "model.pretrained_file=/w.safetensors", "optim.grad_clip_norm=null"])
    assert (c.optim.lr, c.train.epochs, c.optim.betas) == (1e-3, 3, (0.9, 0.99))
    assert c.train.mixed_precision == "no" and c.model.pretrained_file == "/w.safetensors"
    assert c.optim.grad_clip_norm is None


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", r"unknown config key 'optim.lrr'; valid keys in optim: optimizer, lr, "),
    ("trian.epochs=1", r"unknown config key 'trian'; valid keys in top level: task, seed, model"),
    ("train.epochs=ten", r"'train.epochs' must be int, got 'ten' \(str\)"),
    ("train.epochs=2.5", r"'train.epochs' must be int"),
    ("train.ema=1", r"'train.ema' must be bool"),
    ("train.mixed_precision=fp8", r"'train.mixed_precision' must be 'no' \| 'bf16' \| 'fp16'"),
    ("optim=3", r"'optim' must be a mapping"),
    ("task=mnist", r"'task' must be one of celeba, rafdb, affectnet7, affectnet8"),
    ("data.hflip=2", r"'data.hflip' must be a probability"),
    ("oops", r"expected section.key=value"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
    with pytest.raises(ConfigError, match=r"^--set " + override.split("=")[0] if "=" in override else "--set"):
        load_config(None, [override])


def test_bad_file_names_the_file_and_key(tmp_path):
    path = write_config(tmp_path / "c.yaml", {"optim": {"lr": 1e-3, "warmup": 2}})
    with pytest.raises(ConfigError, match=rf"{path}: unknown config key 'optim.warmup'.*warmup_epochs"):
        load_config(path)
    (tmp_path / "bad.yaml").write_text("optim: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml")


def test_global_batch_must_split_into_devices_and_accumulation():
    c = load_config(None, ["train.global_batch_size=256", "train.per_device_batch_size=48"])
    with pytest.raises(ConfigError, match=r"global_batch_size 256 is not .*48 x 2 process\(es\).*per_device_batch_size="):
        gradient_accumulation_steps(c.train, 2)
    assert gradient_accumulation_steps(load_config(None, ["train.per_device_batch_size=32"]).train, 2) == 4


def test_train_script_stops_on_bad_config_before_any_work(tmp_path, fer_config):
    train = load_train_module()
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match="train.epochz"):
        train.main(["--config", str(fer_config), "--output-dir", str(out), "--set", "train.epochz=1"])
    with pytest.raises(ConfigError, match="per_device_batch_size 3"):
        train.main(["--config", str(fer_config), "--output-dir", str(out), "--set", "train.per_device_batch_size=3"])
    assert not out.exists()


def test_selection_metric_must_be_one_the_task_reports():
    from faer_hub.tasks import get_task
    from faer_hub.training.run import selection_metric

    assert selection_metric(load_config(None), get_task("rafdb")) == "accuracy"
    assert selection_metric(load_config(None, ["task=celeba"]), get_task("celeba")) == "mean_accuracy"
    assert selection_metric(load_config(None, ["eval.select_metric=macro_f1"]), get_task("rafdb")) == "macro_f1"
    with pytest.raises(ConfigError, match="must be one of mean_accuracy for task 'celeba', got 'accuracy'"):
        selection_metric(load_config(None, ["eval.select_metric=accuracy"]), get_task("celeba"))


def test_previous_run_is_refused_without_resume_or_overwrite(tmp_path):
    (tmp_path / "config.yaml").write_text("task: rafdb\n")
    with pytest.raises(OutputDirError, match=r"previous run \(config.yaml\).*--resume.*--overwrite"):
        check_output_dir(tmp_path, resume=False, overwrite=False)
    assert check_output_dir(tmp_path, resume=True, overwrite=False) == ["config.yaml"]
    with pytest.raises(OutputDirError, match="contradict"):
        check_output_dir(tmp_path, resume=True, overwrite=True)
    assert check_output_dir(tmp_path / "new", resume=False, overwrite=False) == []
    with pytest.raises(OutputDirError, match="nothing to resume"):
        check_output_dir(tmp_path / "new", resume=True, overwrite=False)


def test_resume_keeps_the_recipe(tmp_path, fer_config):
    saved = write_config(tmp_path / "config.yaml", TINY_FER)
    assert resolve_resume_config(saved, None, ["data.num_workers=2"]).data.num_workers == 2
    with pytest.raises(ConfigError, match="--set may not change optim.lr"):
        resolve_resume_config(saved, None, ["optim.lr=0.1"])
    other = write_config(tmp_path / "other.yaml", dict(TINY_FER, seed=1))
    with pytest.raises(ConfigError, match="differs from the run's .* in seed"):
        resolve_resume_config(saved, other, [])
    assert resolve_resume_config(saved, fer_config, []).seed == 0
