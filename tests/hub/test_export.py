"""Export folders load back every way users load models: local-dir:, hf-hub: (cached), transformers."""


import numpy as np
import pytest
import timm
import torch

import faer_hub
from faer_hub.data.transforms import build_transform, resolve_data_config
from faer_hub.hub.export import EXPORT_FILES, read_export_config, save_export

from offline_hub import populate_hf_cache, run_offline


@pytest.fixture(scope="module")
def rafdb_export(tmp_path_factory):
    torch.manual_seed(0)
    model = timm.create_model("faer_atto.rafdb").eval()
    folder = save_export(model, tmp_path_factory.mktemp("export") / "faer_atto.rafdb")
    return model, folder


def test_export_folder_contents(rafdb_export):
    _, folder = rafdb_export
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPORT_FILES)
    config = read_export_config(folder)
    assert config["architecture"] == "faer_atto"
    assert config["label_names"] == list(faer_hub.RAFDB_LABELS)
    assert config["pretrained_cfg"]["label_names"] == list(faer_hub.RAFDB_LABELS)
    assert config["pretrained_cfg"]["mean"] == [0.485, 0.456, 0.406]
    assert config["problem_type"] == "single_label_classification"
    assert config["faer_task"] == "rafdb"
    assert "num_classes" not in config.get("model_args", {})
    assert (folder / "README.md").read_text().startswith("---")


def test_local_dir_round_trip_gives_identical_logits(rafdb_export):
    model, folder = rafdb_export
    loaded = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    assert tuple(loaded.pretrained_cfg["label_names"]) == faer_hub.RAFDB_LABELS
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_pretrained_cfg_overlay_file_gives_identical_logits(rafdb_export):
    model, folder = rafdb_export
    loaded = timm.create_model(
        "faer_atto.rafdb", pretrained=True, pretrained_cfg_overlay=dict(file=str(folder / "model.safetensors"))
    ).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_celeba_export_declares_multi_label(tmp_path):
    model = timm.create_model("faer_atto.celeba")
    config = read_export_config(save_export(model, tmp_path / "celeba"))
    assert config["problem_type"] == "multi_label_classification"
    assert len(config["label_names"]) == 40


def test_export_writes_only_into_an_empty_folder_or_over_an_export_with_overwrite(tmp_path, rafdb_export):
    from faer_hub.io import DestinationError

    model, _ = rafdb_export
    folder = tmp_path / "out"
    folder.mkdir()
    save_export(model, folder)  # an empty folder is fine
    with pytest.raises(DestinationError, match=f"{folder} already holds an export .*pass --overwrite"):
        save_export(model, folder)
    (folder / "README.md").write_text("edited")
    save_export(model, folder, overwrite=True)
    assert "edited" not in (folder / "README.md").read_text()
    (folder / "notes.txt").write_text("the user's")  # no longer only an export: never replaced
    with pytest.raises(DestinationError, match=r"holds files that are not an export \(notes.txt\)"):
        save_export(model, folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "the user's" and (folder / "model.safetensors").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("files", [{"README.md": "my notes"},
                                   {"config.json": '{"model_type": "vit"}', "model.safetensors": "", "README.md": "x"}])
def test_overwrite_never_replaces_a_folder_of_export_file_names_that_faer_hub_did_not_write(tmp_path, rafdb_export,
                                                                                          files):
    """A user's README.md alone, or a transformers model folder (config.json, model.safetensors,
    README.md), has an export's file names but is not an export: refused even with overwrite."""
    from faer_hub.io import DestinationError

    model, _ = rafdb_export
    folder = tmp_path / "theirs"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    with pytest.raises(DestinationError, match=f"{folder} holds .* but not an export faer_hub wrote"):
        save_export(model, folder, overwrite=True)
    assert {p.name: p.read_text() for p in folder.iterdir()} == files


def test_label_names_must_be_distinct_wherever_they_enter(tmp_path, rafdb_export):
    import json

    from faer_hub.hub.export import ExportError

    _, folder = rafdb_export  # the check itself: tests/test_tasks.py::test_label_name_problems_name_where_the_names_came_from
    copy = tmp_path / "dup"
    copy.mkdir()
    for f in folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    config = json.loads((copy / "config.json").read_text())
    config["label_names"][6] = "happiness"
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="label_names repeat 'happiness'"):
        read_export_config(copy)


def test_export_refuses_head_that_does_not_match_task(tmp_path):
    model = timm.create_model("faer_atto", num_classes=5)
    with pytest.raises(ValueError, match="5 outputs but task 'rafdb' has 7 labels"):
        save_export(model, tmp_path / "x", task="rafdb")
    with pytest.raises(ValueError, match="pass task="):
        save_export(model, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_read_export_config_names_missing_files(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="missing model.safetensors, README.md"):
        read_export_config(tmp_path)


def test_transformers_auto_model_and_pipeline_match_timm(rafdb_export):
    transformers = pytest.importorskip("transformers")
    from PIL import Image

    model, folder = rafdb_export
    hf_model = transformers.AutoModelForImageClassification.from_pretrained(folder).eval()
    assert hf_model.config.id2label[0] == "surprise"
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(hf_model(pixel_values=x).logits, model(x), rtol=0, atol=0)

    classify = transformers.pipeline("image-classification", model=str(folder))
    out = classify(Image.new("RGB", (100, 100), (200, 150, 120)), top_k=7)
    assert {o["label"] for o in out} == set(faer_hub.RAFDB_LABELS)
    assert sum(o["score"] for o in out) == pytest.approx(1.0, abs=1e-4)

    # a face crop that is not square (CelebA's are 178 x 218) is stretched as faer_hub does
    face = Image.fromarray(np.random.default_rng(0).integers(0, 256, (218, 178, 3), dtype=np.uint8))
    with torch.no_grad():
        expected = model(build_transform(resolve_data_config(model))(face)[None]).softmax(-1)[0]
    scores = {o["label"]: o["score"] for o in classify(face, top_k=7)}
    assert [scores[name] for name in faer_hub.RAFDB_LABELS] == pytest.approx(expected.tolist(), abs=1e-5)


def test_hub_loading_from_populated_cache_offline(rafdb_export, hf_cache, tmp_path):
    """pretrained=True and hf-hub: read the HF cache with HF_HUB_OFFLINE=1; missing weights get a clear error."""
    model, folder = rafdb_export
    populate_hf_cache(hf_cache, "faer-hub/faer_atto.rafdb", {n: folder / n for n in EXPORT_FILES})
    expected = tmp_path / "expected.pt"
    x = torch.randn(1, 3, 64, 64)
    torch.save({"x": x, "y": model(x).detach()}, expected)
    result = run_offline(
        f"""
        import timm, torch, faer_hub
        ref = torch.load({str(expected)!r}, weights_only=True)
        for name in ["faer_atto.rafdb", "hf-hub:faer-hub/faer_atto.rafdb"]:
            m = timm.create_model(name, pretrained=True).eval()
            # the same weights; the subprocess may sum over another thread count (OMP_NUM_THREADS)
            assert torch.allclose(m(ref["x"]), ref["y"], rtol=0, atol=1e-5), name
            assert m.pretrained_cfg["label_names"][0] == "surprise", name
        try:
            timm.create_model("faer_atto.celeba", pretrained=True)
        except faer_hub.FAERWeightsNotFoundError as err:
            print("ERROR:", err)
        """,
        hf_cache,
    )
    assert result.returncode == 0, result.stderr
    assert "'faer-hub/faer_atto.celeba'" in result.stdout
    assert "No trained FAER weights are published yet" in result.stdout
    assert "local-dir:" in result.stdout and "pretrained_cfg_overlay" in result.stdout


def test_backbone_init_from_timm_imagenet_convnext(hf_cache, tmp_path):
    """faer_<size>.in1k loads timm's ConvNeXt weights (offline from the cache); CC Attention and head stay at init."""
    from safetensors.torch import save_file

    torch.manual_seed(1)
    convnext = timm.create_model("convnext_atto")
    weights = tmp_path / "model.safetensors"
    save_file(convnext.state_dict(), weights)
    populate_hf_cache(hf_cache, "timm/convnext_atto.d2_in1k", {"model.safetensors": weights})

    # a local file, in process
    faer = timm.create_model("faer_atto", pretrained=True, num_classes=7, pretrained_cfg_overlay=dict(file=str(weights)))
    backbone = {k: v for k, v in convnext.state_dict().items() if not k.startswith("head.fc")}
    for k, v in backbone.items():
        assert torch.equal(faer.state_dict()[k], v), k
    assert faer.head.fc.out_features == 7

    # the in1k tag, through the HF cache, offline
    result = run_offline(
        f"""
        import timm, torch, faer_hub
        from safetensors.torch import load_file
        ref = load_file({str(weights)!r})
        m = timm.create_model("faer_atto.in1k", pretrained=True, num_classes=7)
        sd = m.state_dict()
        assert all(torch.equal(sd[k], v) for k, v in ref.items() if not k.startswith("head.fc"))
        assert m.head.fc.out_features == 7 and "cca.conv.weight" in sd
        print("OK")
        """,
        hf_cache,
    )
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_export_of_a_channels_last_model_is_contiguous_fp32_with_identical_logits(tmp_path, dtype):
    from safetensors import safe_open

    torch.manual_seed(0)
    model = timm.create_model("faer_atto.rafdb").eval().to(dtype=dtype, memory_format=torch.channels_last)
    assert not model.stem[0].weight.is_contiguous()  # the layout that crashed safetensors
    folder = save_export(model, tmp_path / "export")
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F32"}
    loaded = timm.create_model(f"local-dir:{folder}", pretrained=True).eval()
    assert loaded.stem[0].weight.is_contiguous()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = model.float()(x.contiguous(memory_format=torch.channels_last))
        assert torch.equal(loaded(x), expected)
