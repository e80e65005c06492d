"""The `faer-hub` entry point's own commands (`list`; `convert` is in test_convert.py)."""

import pytest

from faer_hub.cli import main


def test_list_command_prints_a_table(capsys):
    assert main(["list", "--filter", "faer_a*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["model", "tags", "task", "classes", "params", "(M)"]
    assert [line.split()[0] for line in lines[1:]] == ["faer_affectnet", "faer_affectnet8", "faer_affectnet_va", "faer_atto"]


def test_errors_are_reported_with_exit_status_2(tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing.pth"), str(tmp_path / "out"), "--task", "rafdb"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


def test_export_command_writes_a_loadable_folder(tmp_path, capsys):
    import timm
    import torch

    out = tmp_path / "export"
    assert main(["export", "--model", "faer_atto.affectnet8", str(out), "--allow-untrained"]) == 0
    assert "local-dir:" in capsys.readouterr().out
    model = timm.create_model(f"local-dir:{out}", pretrained=True)
    assert model.num_classes == 8 and model.pretrained_cfg["label_names"][-1] == "contempt"
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 8)


def test_export_command_names_a_wrong_task(tmp_path, capsys):
    assert main(["export", "--model", "faer_atto.rafdb", str(tmp_path / "x"), "--task", "celeba", "--allow-untrained"]) == 2
    assert "7 outputs but task 'celeba' has 40 labels" in capsys.readouterr().err


def test_missing_weights_are_reported_without_a_traceback(tmp_path, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    assert main(["export", "--model", "faer_atto.rafdb", str(tmp_path / "x"), "--pretrained"]) == 2
    err = capsys.readouterr().err
    assert "faer-hub export: error:" in err and "No trained FAER weights are published yet" in err
    assert "timm.create_model('local-dir:<output-dir>/export', pretrained=True)" in err  # without it: random weights
    assert "Traceback" not in err


def test_every_command_taking_a_model_source_names_it_with_model():
    """One convention: a model source (timm name, hf-hub:, local-dir:, export folder) is --model."""
    import argparse

    from faer_hub.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    takes_model = {name for name, p in commands.items() if any("--model" in a.option_strings for a in p._actions)}
    assert takes_model >= {"evaluate", "export", "export-onnx", "predict", "cam", "app"}
    positional = {name for name, p in commands.items() for a in p._actions if not a.option_strings and a.dest == "model"}
    assert not positional


@pytest.mark.parametrize("argv, message", [
    (["app", "--model", "m", "--port", "99999"], "argument --port: a TCP port is 1-65535, got 99999"),
    (["synth", "rafdb", "out", "--image-size", "0"], "argument --image-size: must be 1 or more, got '0'"),
    (["predict", "x.jpg", "--model", "m", "--max-pixels", "-1"], "argument --max-pixels: must be 0 or more"),
    (["evaluate", "--model", "m", "--data-dir", "d", "--image-size", "0"], "argument --image-size: must be 1 or more"),
    (["export-onnx", "--model", "m", "out.onnx", "--image-size", "0"], "argument --image-size: must be 1 or more"),
])
def test_impossible_flag_values_are_usage_errors_naming_the_flag(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
