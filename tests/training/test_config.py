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
    ("data.jitter_translate=0.5", r"'data.jitter_translate' must be a fraction in \[0, 0.25\]"),
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


@pytest.mark.parametrize("override, message", [
    ("optim.betas=[2,2]", r"'optim.betas\[0\]' must be in \[0, 1\), got 2.0"),
    ("model.img_size=0", r"'model.img_size' must be between 32 .* got 0"),
    ("model.name=nonexistent_model", r"'model.name' must be a timm model name, got 'nonexistent_model'; FAER sizes: "
                                     r"faer_atto"),
    ("seed=-1", r"'seed' must be in \[0, 2\*\*32\), got -1"),
    ("data.validation_size=1.5", r"'data.validation_size' must be a fraction in \(0, 1\), got 1.5"),
    ("train.max_steps_per_epoch=-1", r"'train.max_steps_per_epoch' must be at least 1, or null"),
    ("train.max_steps_per_epoch=0", r"'train.max_steps_per_epoch' must be at least 1, or null"),
    ("optim.lr=.inf", r"'optim.lr' must be float, got inf"),
    ("optim.weight_decay=-0.1", r"'optim.weight_decay' must be 0 or more"),
    ("loss.focal_alpha=1.5", r"'loss.focal_alpha' must be in \[0, 1\], or null"),
    ("train.ema_decay=1", r"'train.ema_decay' must be in \[0, 1\)"),
    ("optim.grad_clip_norm=0", r"'optim.grad_clip_norm' must be positive, or null"),
    ("data.synthetic_train=0", r"'data.synthetic_train' must be between 1 and 1,000,000 images"),
])
def test_out_of_range_values_are_refused_at_load_time(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])
    assert load_config(None, ["train.max_steps_per_epoch=null"]).train.max_steps_per_epoch is None


def test_an_alias_bomb_or_a_huge_value_fails_at_once_on_one_short_line(tmp_path):
    rows = ["task: rafdb", "model:", "  name: &a [x, x, x, x, x, x, x, x, x, x]", "tracking:"]
    rows += [f"  l{i}: &l{i} [" + ", ".join([f"*{'a' if i == 0 else f'l{i - 1}'}"] * 10) + "]" for i in range(9)]
    bomb = tmp_path / "bomb.yaml"  # 10**10 values once expanded
    bomb.write_text("\n".join(rows) + "\n")
    with pytest.raises(ConfigError, match=rf"^{bomb}: refused: its aliases expand to more than 10,000 values"):
        load_config(bomb)
    (tmp_path / "loop.yaml").write_text("a: &a [*a]\n")
    with pytest.raises(ConfigError, match="refers to the node that contains it"):
        load_config(tmp_path / "loop.yaml")
    (tmp_path / "big.yaml").write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="more than a training config's limit of 1,048,576"):
        load_config(tmp_path / "big.yaml")
    for override in ["model.name=" + "x" * 100_000, "optim.lr=[" + ",".join(["1"] * 5000) + "]", "optim." + "y" * 5000 + "=1"]:
        with pytest.raises(ConfigError) as err:
            load_config(None, [override])
        assert len(str(err.value)) < 500 and "\n" not in str(err.value)


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


def test_an_output_dir_that_is_a_file_is_refused_before_any_work(tmp_path):
    (tmp_path / "afile").write_text("mine")
    for resume, overwrite in ((False, False), (False, True)):
        with pytest.raises(OutputDirError, match=r"--output-dir .*afile is a file, not a folder"):
            check_output_dir(tmp_path / "afile", resume=resume, overwrite=overwrite)
    assert (tmp_path / "afile").read_text() == "mine"


def test_overwrite_replaces_only_what_a_run_wrote(tmp_path):
    """A user's own config.yaml and files in checkpoints/ have a run's names but are not a run:
    --overwrite refuses them, naming them; a run's own entries (marked config.yaml or log.jsonl) pass."""
    from faer_hub.training.outputs import write_run_config

    (tmp_path / "config.yaml").write_text("task: rafdb  # my recipe\n")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "important.pt").write_bytes(b"mine")
    with pytest.raises(OutputDirError, match=r"holds config.yaml, checkpoints, which training/train.py did not write"):
        check_output_dir(tmp_path, resume=False, overwrite=True)
    write_run_config(tmp_path, {"task": "rafdb"})  # now the run's own config ...
    with pytest.raises(OutputDirError, match=r"holds checkpoints/important.pt, which training/train.py did not write"):
        check_output_dir(tmp_path, resume=False, overwrite=True)  # ... but not the file in checkpoints/
    (tmp_path / "checkpoints" / "important.pt").unlink()
    (tmp_path / "checkpoints" / "step-00000004").mkdir()
    assert check_output_dir(tmp_path, resume=False, overwrite=True) == ["config.yaml", "checkpoints"]
    (tmp_path / "config.yaml").write_text("task: rafdb\n")  # a log.jsonl of a run is the other mark
    (tmp_path / "log.jsonl").write_text('{"event": "start", "time": 1.0}\n')
    assert check_output_dir(tmp_path, resume=False, overwrite=True) == ["config.yaml", "log.jsonl", "checkpoints"]


def test_resume_keeps_the_recipe(tmp_path, fer_config):
    saved = write_config(tmp_path / "config.yaml", TINY_FER)
    assert resolve_resume_config(saved, None, ["data.num_workers=2"]).data.num_workers == 2
    with pytest.raises(ConfigError, match="--set may not change optim.lr"):
        resolve_resume_config(saved, None, ["optim.lr=0.1"])
    other = write_config(tmp_path / "other.yaml", dict(TINY_FER, seed=1))
    with pytest.raises(ConfigError, match="differs from the run's .* in seed"):
        resolve_resume_config(saved, other, [])
    assert resolve_resume_config(saved, fer_config, []).seed == 0
