"""Checks before the work: devices, trained weights, writable outputs."""

from __future__ import annotations

import pytest
import torch

from faer_hub.inference.preflight import (
    check_device, check_output_file, check_output_folder, check_predict_output, untrained_reason,
)


def test_a_device_this_machine_lacks_is_named_with_the_fix(monkeypatch):
    with pytest.raises(ValueError, match="--device tpu: not a device torch knows; pass cpu, cuda"):
        check_device("tpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="--device cuda: this machine has no CUDA GPU .*; pass --device cpu"):
        check_device("cuda")
    assert check_device(None) == torch.device("cpu") and check_device("cpu") == torch.device("cpu")


def test_which_models_have_trained_weights(raf_export):
    assert untrained_reason(str(raf_export)) is None  # an export folder: its weights are its point
    assert untrained_reason(f"local-dir:{raf_export}") is None
    assert untrained_reason("hf-hub:someone/faer_raf") is None
    assert untrained_reason("faer_raf", pretrained=True) is None  # a FAER task tag: trained weights (or an error)
    assert "faer_raf has random weights" in untrained_reason("faer_raf")
    assert "training/train.py" in untrained_reason("faer_atto.rafdb")
    assert "loads in1k weights" in untrained_reason("faer_atto", pretrained=True)  # an ImageNet head
    assert "loads in1k weights" in untrained_reason("faer_atto.in1k", pretrained=True)


def test_outputs_are_checked_before_the_work(tmp_path):
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        check_output_file(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output_file(tmp_path / "no" / "out.csv")
    with pytest.raises(OSError, match="--output: cannot write in /proc"):  # read-only, even for root
        check_output_file("/proc/out.csv")
    (tmp_path / "file").write_text("mine")
    with pytest.raises(NotADirectoryError, match="--save-crops .*file: it is a file, not a folder"):
        check_output_folder(tmp_path / "file", option="--save-crops")
    with pytest.raises(OSError, match="--annotate /proc/seen: cannot create the folder"):
        check_output_folder("/proc/seen", option="--annotate")
    assert check_output_folder(tmp_path / "new" / "crops", option="--save-crops").is_dir()
    assert [p.name for p in (tmp_path / "new" / "crops").iterdir()] == []  # the probe is gone
    assert check_output_file(tmp_path / "file").read_text() == "mine"  # checked, not touched


def test_only_our_own_outputs_are_replaced(tmp_path):
    from faer_hub.inference.output import RowWriter, format_table
    from faer_hub.inference.predict import PredictionReport

    ours = {"rows.csv": RowWriter(None, "csv", labels=["a"], ranks=1, multi_label=False).header_text(),
            "rows.jsonl": '{"path": "x.jpg", "faces": 0, "status": "no face"}\n',
            "rows.txt": format_table(PredictionReport()), "empty.csv": ""}
    for name, text in ours.items():
        (tmp_path / name).write_text(text)
        check_predict_output(tmp_path / name, overwrite=True)
        check_predict_output(tmp_path / name, resume=True)
        if text:  # an earlier output is replaced only when asked to
            with pytest.raises(FileExistsError, match=f"{name} holds an earlier faer-hub predict output; pass "
                                                      "--resume to continue it, --overwrite to replace it"):
                check_predict_output(tmp_path / name)
    check_predict_output(tmp_path / "new.csv")
    (tmp_path / "thesis.tex").write_text("\\documentclass{article}\n")
    (tmp_path / "manifest.jsonl").write_text('{"path": "img1.jpg", "label": 3}\n')  # JSON lines, not ours
    for name in ("thesis.tex", "manifest.jsonl"):
        with pytest.raises(FileExistsError, match=f"{name} exists and is not an output of faer-hub predict"):
            check_predict_output(tmp_path / name, overwrite=True)
