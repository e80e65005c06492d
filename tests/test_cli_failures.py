"""Bad input, table-driven: each case ends in one line naming the file and the fix, with the exit
status `faer-hub --help` documents (2: input error), and nothing valid is lost or half-written."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest

from faer_hub.cli import EXIT_STATUSES, main

from helpers import SMALL_INPUT


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    import timm
    import torch

    from faer_hub.hub.export import save_export

    torch.manual_seed(0)
    return save_export(timm.create_model("faer_atto.rafdb", **SMALL_INPUT), tmp_path_factory.mktemp("e") / "raf",
                       task="rafdb")


def _copy_export(export: Path, dst: Path) -> Path:
    dst.mkdir()
    for f in export.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def _truncated_weights(export, tmp):
    folder = _copy_export(export, tmp / "truncated")
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 3])
    return folder


def _five_label_names(export, tmp):
    folder = _copy_export(export, tmp / "five")
    config = json.loads((folder / "config.json").read_text())
    config["label_names"] = config["pretrained_cfg"]["label_names"] = config["label_names"][:5]
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _broken_json(export, tmp):
    folder = _copy_export(export, tmp / "json")
    (folder / "config.json").write_text((folder / "config.json").read_text()[:200])
    return folder


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {Path.cwd() / 'PWNED'}",))


def _edited_export(export: Path, tmp: Path, name: str, edit) -> Path:
    folder = _copy_export(export, tmp / name)
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _duplicate_label(config):
    config["label_names"][1] = config["pretrained_cfg"]["label_names"][1] = config["label_names"][0]


def _wrongly_shaped_weights(export, tmp):
    import torch
    from safetensors.torch import load_file, save_file

    folder = _copy_export(export, tmp / "shape")
    weights = load_file(folder / "model.safetensors")
    weights["stem.0.weight"] = torch.zeros(8, 3, 4, 4)
    save_file(weights, folder / "model.safetensors")
    return folder


def _plain_convnext_checkpoint(tmp):
    import timm
    import torch

    path = tmp / "convnext.pth"
    torch.save({"state_dict": timm.create_model("convnext_atto", num_classes=7).state_dict()}, path)
    return path


def _user_folder(tmp: Path) -> Path:
    (tmp / "thesis" / "src").mkdir(parents=True)
    (tmp / "thesis" / "thesis.tex").write_text("years of work")
    return tmp / "thesis"


def _image(tmp: Path) -> Path:
    from PIL import Image

    path = tmp / "face.png"
    Image.new("RGB", (64, 64), (200, 150, 120)).save(path)
    return path


# id, argv builder (export, tmp) -> argv, message pattern parts (all must appear in the one line)
CASES = [
    ("predict-output-is-a-folder",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--output", str(t)],
     ["cannot write {t}: it is a folder; give a file name"]),
    ("predict-output-folder-missing",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--output", str(t / "no" / "p.csv")],
     ["cannot write {t}/no/p.csv: {t}/no does not exist"]),
    ("export-onnx-under-a-file",
     lambda e, t: ["export-onnx", "--model", str(e), str(_image(t) / "model.onnx")],
     ["{t}/face.png"]),
    ("predict-truncated-weights",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_truncated_weights(e, t))],
     ["{t}/truncated/model.safetensors cannot be read", "may be truncated", "Re-export the folder"]),
    ("predict-label-names-mismatch",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_five_label_names(e, t))],
     ["{t}/five/config.json: 5 label_names but num_classes = 7"]),
    ("predict-invalid-config-json",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_broken_json(e, t))],
     ["{t}/json/config.json is not valid JSON"]),
    ("convert-a-text-file",
     lambda e, t: ["convert", str(_write(t / "notes.pth", b"not a checkpoint\n")), str(t / "out"), "--task", "rafdb"],
     ["{t}/notes.pth is not a loadable FAER or ConvNeXt checkpoint"]),
    ("convert-a-malicious-pickle",
     lambda e, t: ["convert", str(_write(t / "evil.pth", pickle.dumps(_Exploit()))), str(t / "out"), "--task", "rafdb"],
     ["{t}/evil.pth is not a loadable FAER or ConvNeXt checkpoint", "weights_only loading refuses to run"]),
    ("convert-a-picture",
     lambda e, t: ["convert", str(_image(t)), str(t / "out"), "--task", "rafdb"],
     ["{t}/face.png is not a loadable FAER or ConvNeXt checkpoint", "not a checkpoint"]),
    ("evaluate-out-is-a-file",
     lambda e, t: ["evaluate", "--model", str(e), "--data-dir", str(t), "--out", str(_image(t))],
     ["--out {t}/face.png: it is a file, not a folder"]),
    ("push-without-a-token",
     lambda e, t: ["push", str(e), "--repo-id", "me/x", "--retarget-card"],
     ["no Hugging Face token", "hf auth login"]),
    ("cam-not-an-image",
     lambda e, t: ["cam", str(_write(t / "notes.jpg", b"hello")), "--model", str(e), "--out", str(t / "cam")],
     ["{t}/notes.jpg: not an image"]),
    ("export-into-a-folder-of-the-users-files",
     lambda e, t: ["export", "--model", str(e), str(_user_folder(t)), "--overwrite"],
     ["{t}/thesis holds files that are not an export (src, thesis.tex)", "never replaces a folder it did not write"]),
    ("export-over-an-export-without-overwrite",
     lambda e, t: ["export", "--model", str(e), str(_copy_export(e, t / "old"))],
     ["{t}/old already holds an export", "pass --overwrite"]),
    ("convert-into-a-folder-of-the-users-files",
     lambda e, t: ["convert", str(e / "model.safetensors"), str(_user_folder(t)), "--task", "rafdb"],
     ["{t}/thesis holds files that are not an export"]),
    ("convert-a-checkpoint-without-cc-attention",
     lambda e, t: ["convert", str(_plain_convnext_checkpoint(t)), str(t / "out"), "--task", "rafdb",
                   "--model", "faer_atto"],
     ["{t}/convnext.pth holds no CC Attention weights", "--allow-missing-weights"]),
    ("export-wrongly-shaped-weights",
     lambda e, t: ["export", "--model", str(_wrongly_shaped_weights(e, t)), str(t / "out")],
     ["{t}/shape/model.safetensors: stem.0.weight has shape [8, 3, 4, 4] but {t}/shape/config.json builds"]),
    ("export-a-billion-classes-in-model-args",
     lambda e, t: ["export", "--model", str(_edited_export(e, t, "big", lambda c: c["model_args"].update(
         num_classes=10**9))), str(t / "out")],
     ["{t}/big/model.safetensors: head.fc.bias has shape [7] but {t}/big/config.json builds [1000000000]"]),
    ("predict-duplicate-label-names",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_edited_export(e, t, "dup", _duplicate_label))],
     ["{t}/dup/config.json: label_names repeat 'surprise'"]),
    ("predict-pretrained-cfg-not-an-object",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_edited_export(e, t, "cfg", lambda c: c.update(
         pretrained_cfg="hello")))],
     ["{t}/cfg/config.json: pretrained_cfg = 'hello', expected a JSON object"]),
    ("push-input-size-not-numbers",
     lambda e, t: ["push", str(_edited_export(e, t, "size", lambda c: c["pretrained_cfg"].update(input_size="abc"))),
                   "--repo-id", "me/x", "--dry-run"],
     ["{t}/size/config.json: pretrained_cfg.input_size = 'abc', expected [3, height, width]"]),
    ("app-no-model-loads",
     lambda e, t: ["app", "--model", str(_broken_json(e, t)), "--port", "7999"],
     ["no model could be loaded: {t}/json: {t}/json/config.json is not valid JSON"]),
    ("push-dry-run-bad-repo-id",
     lambda e, t: ["push", str(e), "--repo-id", "bad id!", "--dry-run", "--retarget-card"],
     ["--repo-id: 'bad id!' is not a Hub repo id"]),
    ("predict-zero-std",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_edited_export(e, t, "std", lambda c: c[
         "pretrained_cfg"].update(std=[0, 0, 0])))],
     ["{t}/std/config.json: pretrained_cfg.std = [0, 0, 0], expected three numbers above 0"]),
    ("predict-unknown-interpolation",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_edited_export(e, t, "interp", lambda c: c[
         "pretrained_cfg"].update(interpolation="zzz")))],
     ["{t}/interp/config.json: pretrained_cfg.interpolation = 'zzz', expected one of nearest, bilinear"]),
    ("predict-unknown-face-crop",
     lambda e, t: ["predict", str(_image(t)), "--model", str(_edited_export(e, t, "crop", lambda c: c.update(
         face_crop="weird")))],
     ["{t}/crop/config.json: face_crop = 'weird' is not a face crop (unknown face crop 'weird'"]),
    ("predict-device-tpu",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--device", "tpu"],
     ["--device tpu: not a device torch knows; pass cpu, cuda"]),
    ("predict-untrained-model",
     lambda e, t: ["predict", str(_image(t)), "--model", "faer_atto.rafdb"],
     ["--model faer_atto.rafdb has random weights", "training/train.py", "--allow-untrained"]),
    ("export-untrained-model",
     lambda e, t: ["export", "--model", "faer_atto.rafdb", str(t / "out")],
     ["--model faer_atto.rafdb has random weights", "--allow-untrained"]),
    ("export-onnx-untrained-model",
     lambda e, t: ["export-onnx", "--model", "faer_atto.rafdb", str(t / "m.onnx")],
     ["--model faer_atto.rafdb has random weights", "--allow-untrained"]),
    ("cam-imagenet-head",
     lambda e, t: ["cam", str(_image(t)), "--model", "faer_atto", "--pretrained", "--out", str(t / "cam")],
     ["--model faer_atto --pretrained loads in1k weights", "--allow-untrained"]),
    ("app-untrained-model",
     lambda e, t: ["app", "--model", str(e), "--model", "faer_raf"],
     ["--model faer_raf has random weights"]),
    ("predict-output-read-only",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--output", "/proc/preds.csv"],
     ["--output: cannot write in /proc"]),
    ("predict-save-crops-into-a-file",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--save-crops", str(_image(t))],
     ["--save-crops {t}/face.png: it is a file, not a folder"]),
    ("predict-annotate-read-only",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--annotate", "/proc/seen"],
     ["--annotate /proc/seen: cannot create the folder"]),
    ("predict-output-is-someone-elses-file",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--output", str(_write(t / "thesis.txt", b"mine\n"))],
     ["--output {t}/thesis.txt exists and is not an output of faer-hub predict"]),
    ("predict-resume-without-output",
     lambda e, t: ["predict", str(_image(t)), "--model", str(e), "--resume"],
     ["--resume continues an --output file; pass --output FILE"]),
    ("evaluate-missing-data-folder",
     lambda e, t: ["evaluate", "--model", str(e), "--data-dir", str(t / "nowhere"), "--out", str(t / "eval")],
     ["{t}/nowhere"]),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_naming_the_file_with_exit_status_2(case, export, tmp_path, capsys, monkeypatch):
    _, argv, parts = case
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))  # no saved token
    monkeypatch.delenv("HF_TOKEN", raising=False)
    before = {p: p.stat().st_mtime_ns for p in export.iterdir()}
    status = main(argv(export, tmp_path))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part.format(t=tmp_path) in lines[0], lines[0]
    assert not (tmp_path / "PWNED").exists()  # the pickle's payload never ran
    assert not list(tmp_path.rglob(".*tmp-*")) and not list(tmp_path.rglob(".*partial-*"))  # nothing half-written
    assert {p: p.stat().st_mtime_ns for p in export.iterdir()} == before  # the valid export is untouched
    if (tmp_path / "thesis").exists():  # the user's folder is as it was
        assert sorted(p.name for p in (tmp_path / "thesis").iterdir()) == ["src", "thesis.tex"]
        assert (tmp_path / "thesis" / "thesis.tex").read_text() == "years of work"
    assert not (tmp_path / "out").exists()


def test_push_offline_is_one_line(export, capsys, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_TOKEN", "hf_not_a_real_token")
    assert main(["push", str(export), "--repo-id", "me/faer_atto.rafdb", "--retarget-card"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"faer-hub push: error: could not push {export} to me/faer_atto.rafdb")
    assert "HF_HUB_OFFLINE" in err and "\n" not in err


def test_an_internal_error_has_its_own_status_and_asks_for_a_report(monkeypatch, capsys):
    import faer_hub.models.zoo

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(faer_hub.models.zoo, "list_models", broken)
    assert main(["list"]) == 3
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError" in err and "please report it" in err and "Traceback" not in err
    monkeypatch.setenv("FAER_HUB_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["list"])


def test_help_documents_the_exit_statuses(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert EXIT_STATUSES in out and "3  internal error" in out


def test_skipped_rows_are_summarised_once_and_the_advice_names_the_cli_flag(tmp_path, export, capsys, caplog):
    from faer_hub.data import write_synthetic

    data = write_synthetic("rafdb", tmp_path / "raf", num_train=14, num_test=7)
    labels = data / "basic" / "EmoLabel" / "list_patition_label.txt"
    labels.write_text(labels.read_text() + "test_0002.jpg 9\n")
    argv = ["evaluate", "--model", str(export), "--data-dir", str(data), "--out", str(tmp_path / "eval"),
            "--cache-dir", str(tmp_path / "cache")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{labels}:22" in err and "--skip-bad-rows (faer-hub)" in err
    with caplog.at_level("WARNING"):
        assert main([*argv, "--skip-bad-rows"]) == 0
    summaries = [r.getMessage() for r in caplog.records if "rows read" in r.getMessage()]
    assert len(summaries) == 1 and "test: 8 rows read, 1 skipped" in summaries[0]


def test_bad_files_among_good_ones_are_each_reported_and_the_rest_still_run(export, tmp_path, capsys):
    """Exit status 1: every bad file named on its own line and given a CSV row; the good ones classified."""
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    good = _image(folder)
    Image.new("RGB", (64, 64)).save(folder / "full.jpg")
    (folder / "truncated.jpg").write_bytes((folder / "full.jpg").read_bytes()[:200])
    (folder / "empty.png").write_bytes(b"")
    (folder / "text.webp").write_text("not a picture")
    Image.new("1", (10_000, 9_000)).save(folder / "huge.png")  # 90 megapixels: over the 80 MP default
    (folder / "loop_a.jpg").symlink_to("loop_b.jpg")
    (folder / "loop_b.jpg").symlink_to("loop_a.jpg")
    out = tmp_path / "preds.csv"
    assert main(["predict", str(folder), "--model", str(export), "--no-detect", "--format", "csv",
                 "--output", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    bad = {"truncated.jpg": "unreadable image", "empty.png": "not an image", "text.webp": "not an image",
           "huge.png": "image too large: 10000x9000 = 90,000,000 pixels (limit 80,000,000; raise --max-pixels",
           "loop_a.jpg": "leads nowhere", "loop_b.jpg": "leads nowhere"}
    for name, reason in bad.items():
        assert any(line.startswith(f"faer-hub predict: error: {folder / name}: ") and reason in line for line in err), name
    assert err[-1] == "faer-hub predict: 6 file(s) failed, 2 result(s) written" and "Traceback" not in "".join(err)
    import csv

    rows = {r["path"]: r["status"] for r in csv.DictReader(out.open())}
    assert rows[str(good)] == rows[str(folder / "full.jpg")] == "ok"
    assert {Path(p).name for p, status in rows.items() if status.startswith("error: ")} == set(bad)
    assert main(["predict", str(folder / "huge.png"), "--model", str(export), "--no-detect",
                 "--max-pixels", "100000000"]) == 0  # raising the limit works, also past Pillow's own


@pytest.mark.parametrize("command", ["export", "export-onnx"])
def test_a_full_disk_names_the_file_being_written_with_exit_status_2(command, export, tmp_path, capsys, monkeypatch):
    """The writers themselves fail (safetensors wraps the OS error in its own words): one line naming the
    file, exit 2, nothing half-written."""
    import errno

    from safetensors import SafetensorError

    if command == "export":
        def full(*args, **kwargs):
            raise SafetensorError('Error while serializing: IoError(Os { code: 28, kind: StorageFull, '
                                  'message: "No space left on device" })')

        monkeypatch.setattr("faer_hub.hub.export.save_file", full)
        target, argv = tmp_path / "out", ["export", "--model", str(export), str(tmp_path / "out")]
        named = target / "model.safetensors"
    else:
        pytest.importorskip("onnx")

        def full(proto, path, *args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr("onnx.save", full)
        target = named = tmp_path / "model.onnx"
        argv = ["export-onnx", "--model", str(export), str(target)]
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot write {named}: no space left on device" in err
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_cuda_on_a_machine_without_it_is_exit_2_with_the_fix(export, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for command in (["predict", str(_image(tmp_path)), "--model", str(export)], ["app", "--model", str(export)]):
        assert main([*command, "--device", "cuda"]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert "--device cuda: this machine has no CUDA GPU" in line and "pass --device cpu" in line


def test_a_full_disk_names_the_output_and_is_exit_2(export, tmp_path, capsys):
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    assert main(["predict", str(_image(tmp_path)), "--model", str(export), "--no-detect", "--format", "jsonl",
                 "--output", "/dev/full"]) == 2
    err = capsys.readouterr().err
    assert "faer-hub predict: error: cannot write /dev/full: the disk is full" in err and "--resume" in err
    assert "Traceback" not in err and "Errno" not in err
