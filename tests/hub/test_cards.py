"""Model cards: Hugging Face format, valid model-index, honest results, committed cards in sync."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from faer_hub.hub.cards import (
    CARD_FILES, RunFacts, model_stats, render_all_cards, render_model_card, stale_cards, weights_licence, write_model_cards,
)
from faer_hub.tasks import TASKS

REPO_ROOT = Path(__file__).resolve().parents[2]


def _metadata(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


@pytest.mark.parametrize("task", list(TASKS))
def test_card_parses_and_has_required_metadata(task):
    text = render_model_card(task)
    card = ModelCard(text)  # raises on invalid YAML or model-index
    meta = _metadata(text)
    assert card.data.library_name == "timm" and meta["pipeline_tag"] == "image-classification"
    headline = "accuracy" if TASKS[task].spec.fractions else "ccc"  # valence/arousal: no accuracy
    assert meta["datasets"] == [TASKS[task].dataset] and headline in meta["metrics"]
    # weights that saw the dataset carry its research-only terms, named and linked as the Hub asks
    assert (meta["license"], meta["license_link"]) == ("other", TASKS[task].data.url) and meta["license_name"]
    # nothing measured -> no model-index, and the card says no weights exist
    assert "model-index" not in meta
    assert "No trained FAER weights are published yet" in text
    for section in ("## Intended use", "## Out-of-scope use", "## How to use", "## Training recipe",
                    "## Evaluation protocol", "## Results", "## Limitations and bias",
                    "## Datasets and licences", "## Citation"):
        assert section in text, section
    assert "10.11772/j.issn.1001-9081.2024010098" in text
    assert "non-commercial research" in text
    for label in TASKS[task].label_names:
        assert f"`{label}`" in text


def test_paper_numbers_come_from_tasks_and_are_labelled():
    text = render_model_card("rafdb")
    paper = text.split("Reported by the paper")[1]
    assert "| accuracy | 91.75 |" in paper and "| fear | 72.37 |" in paper
    assert "not** measured with this package" in paper
    assert "No results have been measured" in text.split("Reported by the paper")[0]


def test_measured_results_go_into_model_index():
    results = {"accuracy": 0.8123, "split": "test", "num_samples": 48,
               "class_accuracy": {"anger": 0.5, "fear": 1.0}}
    text = render_model_card("rafdb", architecture="faer_atto", repo_id="me/faer_atto.rafdb",
                             results=results, run=_demo_run(generated_data=False))
    card = ModelCard(text)
    name, evals = model_index_to_eval_results(_metadata(text)["model-index"])
    assert name == "faer_atto.rafdb"
    assert [(e.metric_type, e.metric_value, e.dataset_split) for e in evals] == [("accuracy", 81.23, "test")]
    assert card.data.eval_results[0].dataset_type == "rafdb"
    assert "| accuracy | 81.23 |" in text and "| anger | 50.00 |" in text
    assert "lr: 0.002" in text and "hf-hub:me/faer_atto.rafdb" in text
    # paper numbers stay out of the model-index
    assert all(e.metric_value != 91.75 for e in evals)


def test_valence_arousal_card_carries_measured_values_on_their_own_scale():
    results = {"ccc": 0.4215, "pcc": -0.05, "rmse": 1.2, "sagr": 0.75, "ccc_valence": 0.61234,
               "num_samples": 30, "split": "test", "class_accuracy": {}}
    text = render_model_card("affectnet_va", architecture="faer_atto", repo_id="me/faer_atto.affectnet_va",
                             results=results)
    ModelCard(text)
    meta = _metadata(text)
    assert "regression" in meta["tags"] and "ccc" in meta["metrics"]
    _, evals = model_index_to_eval_results(meta["model-index"])
    assert [(e.metric_type, e.metric_value) for e in evals] == [
        ("ccc", 0.4215), ("pcc", -0.05), ("rmse", 1.2), ("sagr", 0.75), ("ccc_valence", 0.6123)]
    assert "| ccc | 0.4215 |" in text and "| rmse | 1.2000 |" in text
    assert "The paper reports no results for AffectNet (valence and arousal)" in text
    assert 'problem_type: "regression"' in text and "no softmax" in text
    with pytest.raises(ValueError, match="not a finite number"):
        render_model_card("affectnet_va", results={"ccc": float("nan")})
    # nothing measured: no model-index at all
    assert "model-index" not in _metadata(render_model_card("affectnet_va"))


def test_synthetic_results_are_flagged():
    text = render_model_card("celeba", architecture="faer_atto", results={
        "accuracy": 0.9, "dataset": "synthetic", "dataset_name": "synthetic faces"})
    assert "trained on generated faces" in text
    _, evals = model_index_to_eval_results(_metadata(text)["model-index"])
    assert evals[0].dataset_type == "synthetic" and "datasets" not in _metadata(text)


def test_percentages_are_rejected():
    with pytest.raises(ValueError, match="fractions"):
        render_model_card("rafdb", results={"accuracy": 91.2})


def test_write_and_drift_detection(tmp_path):
    paths = write_model_cards(tmp_path)
    assert sorted(p.name for p in paths) == sorted(CARD_FILES.values())
    assert stale_cards(tmp_path) == []
    (tmp_path / "faer_raf.md").write_text("edited by hand\n")
    assert stale_cards(tmp_path) == ["faer_raf.md"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif("FAER_HUB_NAMESPACE" in os.environ, reason="committed cards use the default namespace")
def test_committed_cards_match_template():
    stale = stale_cards(REPO_ROOT / "model_cards")
    assert stale == [], f"model_cards/ drifted from the template: {stale}; run `faer-hub cards --out model_cards`"
    assert set(render_all_cards()) == {p.name for p in (REPO_ROOT / "model_cards").glob("*.md")}


def test_paper_recipe_table_matches_the_recipe_files():
    """The zoo cards describe the paper's recipes from a table in hub/ (hub never reads training/):
    every value of the table is the one the recipe file gives."""
    from faer_hub.hub.paper_recipes import PAPER_RECIPES, paper_recipe_file
    from faer_hub.training.config import config_to_dict, load_config

    assert set(PAPER_RECIPES) == set(TASKS)
    for task, recipe in PAPER_RECIPES.items():
        resolved = config_to_dict(load_config(REPO_ROOT / paper_recipe_file(task)))
        assert resolved["task"] == task
        assert {s: {k: resolved[s][k] for k in keys} for s, keys in recipe.items()} == recipe, task
    recipe = render_all_cards()["faer_raf.md"].split("## Training recipe")[1].split("##")[0]
    assert "`training/configs/rafdb.yaml`" in recipe and "120 epochs" in recipe and "learning rate 2.5e-4" in recipe


def test_a_card_without_run_facts_does_not_guess_the_recipe():
    recipe = render_model_card("celeba").split("## Training recipe")[1].split("##")[0]
    assert "Not recorded" in recipe and "`training/configs/celeba.yaml`" in recipe and "epochs" not in recipe


def test_a_runs_card_states_the_loss_and_schedule_values_the_run_recorded_and_guesses_none():
    def loss_line(task, loss, optim=None):
        config = {"model": {"name": "faer_atto", "img_size": 64}, "loss": loss, "optim": optim or {}}
        text = render_model_card(task, architecture="faer_atto", run=RunFacts(config=config))
        return text.split("## Training recipe")[1].split("\n\n")[1]

    assert "sigmoid focal loss (gamma = 1) on the 40 outputs" in loss_line("celeba", {"focal_gamma": 1.0})
    assert "sigmoid focal loss on the 40 outputs" in loss_line("celeba", {})  # not recorded: no default stated
    assert "cross-entropy plus 0.02 x center loss on the pooled features" in loss_line("rafdb", {"center_weight": 0.02})
    assert "as it ran: cross-entropy; `faer_atto`" in loss_line("rafdb", {"center_weight": 0.0})
    assert "plus 0.5 x the mean squared error" in loss_line("affectnet_va", {"mse_weight": 0.5})
    assert "; ExponentialLR (gamma 0.9 per epoch);" in loss_line("rafdb", {}, {"scheduler": "exponential", "gamma": 0.9})
    assert "; ExponentialLR;" in loss_line("rafdb", {}, {"scheduler": "exponential"})


def test_a_cards_kind_wording_is_its_kinds():
    for task in TASKS.values():
        text = render_model_card(task)
        kind = task.spec
        assert kind.limitations in text and kind.outputs in text and kind.out_of_scope in text
        assert f"({task.num_classes} {kind.output_unit})" in text
        assert set(kind.tags + kind.problem_tags) <= set(_metadata(text)["tags"])


def test_hub_imports_nothing_from_training():
    import ast

    hub = REPO_ROOT / "faer_hub" / "hub"
    for path in hub.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                assert "training" not in module.split("."), f"{path.name} imports {module}"
            elif isinstance(node, ast.Import):
                assert not any("training" in a.name.split(".") for a in node.names), path.name


def _demo_run(**changes) -> RunFacts:
    config = {"task": "rafdb", "model": {"name": "faer_atto", "pretrained": False, "img_size": 64},
              "data": {"synthetic": True, "hflip": 0.5, "jitter_degrees": 4, "jitter_translate": 0.03, "jitter_scale": 0.05},
              "optim": {"optimizer": "adamw", "lr": 2e-3, "scheduler": "cosine"},
              "loss": {"center_weight": 0.01}, "train": {"epochs": 20, "global_batch_size": 32}, "eval": {}}
    facts = dict(config=config, config_file="training/configs/demo.yaml", overrides=("train.epochs=20",),
                 generated_data=True, split_sizes={"train": 540, "validation": 60, "test": 210})
    return RunFacts(**{**facts, **changes})


def test_an_export_card_describes_its_own_run(tmp_path):
    """The demo export's card: 64 px, demo.yaml and its override, generated faces and their count,
    one licence in config.json and the card (issue: it said 224 px, rafdb.yaml, 3,068 RAF-DB images)."""
    import json

    import timm

    from helpers import SMALL_INPUT
    from faer_hub.hub.export import save_export

    model = timm.create_model("faer_atto.rafdb", **SMALL_INPUT)
    results = {"accuracy": 0.5, "num_samples": 210, "split": "test", "dataset": "synthetic",
               "dataset_name": "generated faces"}
    export = save_export(model, tmp_path / "export", task="rafdb", results=results, run=_demo_run())
    text, config = (export / "README.md").read_text(), json.loads((export / "config.json").read_text())
    meta = _metadata(text)
    assert "64x64 RGB face crop" in text and "224x224" not in text and "224 x 224" not in text
    recipe = text.split("## Training recipe")[1].split("## Evaluation")[0]
    assert "`training/configs/demo.yaml` with `--set train.epochs=20`" in recipe
    assert "`faer_atto` at 64x64" in recipe and "20 epochs" in recipe and "120" not in recipe
    assert "rotated by up to 4 degrees, shifted by up to 3% and scaled by up to 5%" in recipe
    assert "generated by `faer_hub.data.synthetic`" in recipe and "540 train, 60 validation, 210 test images" in recipe
    protocol = text.split("## Evaluation protocol")[1].split("##")[0]
    assert "210 generated test faces" in protocol and "3,068" not in protocol
    assert "trained on generated faces" in text and "datasets" not in meta
    # one licence story: from scratch on generated faces -> MIT, in config.json and the card alike
    assert meta["license"] == config["pretrained_cfg"]["license"] == "mit"
    assert "license_name" not in config and "license_name" not in meta
    assert "Commercial use" not in text and "non-commercial" not in text.split("## Datasets")[0]
    # a run on the real dataset: research-only terms, named and linked, in both
    real = save_export(model, tmp_path / "real", task="rafdb", run=_demo_run(generated_data=False))
    real_meta = _metadata((real / "README.md").read_text())
    real_config = json.loads((real / "config.json").read_text())
    assert real_meta["license"] == real_config["pretrained_cfg"]["license"] == "other"
    assert real_meta["license_name"] == real_config["license_name"] == weights_licence("rafdb").name
    assert real_meta["license_link"] == real_config["license_link"] == TASKS["rafdb"].data.url
    assert timm.create_model(f"local-dir:{real}", pretrained=True).num_classes == 7  # still loads


def test_exporting_an_export_again_keeps_its_licence_and_training_data(tmp_path):
    """`faer-hub export --model runs/demo/export other/`: the run's recipe is not known there, but the
    weights are the same, so their licence and the fact that they learnt generated faces are kept."""
    import json

    import timm

    from helpers import SMALL_INPUT
    from faer_hub.cli import main
    from faer_hub.hub.export import save_export

    first = save_export(timm.create_model("faer_atto.rafdb", **SMALL_INPUT), tmp_path / "demo", task="rafdb",
                        run=_demo_run())
    assert main(["export", "--model", str(first), str(tmp_path / "again")]) == 0
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    text = (tmp_path / "again" / "README.md").read_text()
    assert config["faer_training_data"] == "generated" and config["pretrained_cfg"]["license"] == "mit"
    assert _metadata(text)["license"] == "mit" and "trained on generated faces" in text
    assert "Not recorded" in text.split("## Training recipe")[1]


def test_every_card_has_model_stats_and_an_install_line_that_works():
    stats = model_stats("faer_atto", (3, 64, 64), 7)
    import timm

    assert stats.params == sum(p.numel() for p in timm.create_model("faer_atto", num_classes=7).parameters())
    assert 0.01 < stats.gmacs < 0.2 and stats.image_size == (64, 64)
    assert model_stats("faer_atto", (3, 128, 128), 7).gmacs == pytest.approx(4 * stats.gmacs, rel=0.05)
    for name, text in render_all_cards().items():
        details = text.split("## Model details")[1].split("##")[0]
        assert "Params (M): 101.7" in details and "GMACs: " in details and "Image size: 224 x 224" in details, name
        assert 'pip install -e ".[app,detect]"' in text and 'pip install "faer_hub' not in text, name


def test_task_is_required():
    with pytest.raises(ValueError, match="needs the task"):
        render_model_card(None)


@pytest.mark.slow  # imports transformers (about 20 s)
def test_card_usage_claims_hold_for_an_export(tmp_path):
    """The card's 'how to use' paths (timm local-dir, transformers pipeline, faer-hub predict) agree."""
    pytest.importorskip("transformers")
    import timm
    from transformers import pipeline

    import faer_hub
    from faer_hub.hub.export import save_export
    from faer_hub.inference.predict import Predictor

    model = timm.create_model("faer_atto.rafdb", pretrained_cfg_overlay=dict(input_size=(3, 64, 64))).eval()
    export = save_export(model, tmp_path / "export", task="rafdb")
    assert "hf-hub:faer-hub/faer_atto.rafdb" in (export / "README.md").read_text()
    from photos import skimage_photo

    skimage_photo("astronaut").save(tmp_path / "x.png")
    ours = Predictor(f"local-dir:{export}", top_k=3).predict([tmp_path / "x.png"]).predictions[0].top_k
    # the card's recipe: read, detect, cut with the protocol named in config.json, then the pipeline
    loaded = timm.create_model(f"local-dir:{export}", pretrained=True)
    image = faer_hub.read_image(tmp_path / "x.png")
    crop = faer_hub.align_face(image, faer_hub.detect_faces(image)[0], loaded.pretrained_cfg["face_crop"])
    classify = pipeline("image-classification", model=str(export))
    assert classify.model.config.face_crop == "rafdb"
    theirs = classify(crop, top_k=3)
    assert [label for label, _ in ours] == [r["label"] for r in theirs]
    assert [score for _, score in ours] == pytest.approx([r["score"] for r in theirs], abs=1e-4)


@pytest.mark.slow  # a fresh interpreter imports timm, MTCNN and transformers (20-40 s)
def test_the_cards_code_runs_as_printed(tmp_path):
    """The card's two Python snippets, copied verbatim from an export's README.md and run in a fresh
    interpreter (faer_hub imported first, as printed), with its hf-hub repo served from an offline cache."""
    import re
    import subprocess
    import sys

    pytest.importorskip("transformers")
    import timm

    from helpers import SMALL_INPUT
    from faer_hub.hub.export import EXPORT_FILES, save_export
    from faer_hub.tasks import RAFDB_LABELS
    from offline_hub import populate_hf_cache
    from photos import skimage_photo

    export = save_export(timm.create_model("faer_atto.rafdb", **SMALL_INPUT), tmp_path / "export", task="rafdb")
    card = (export / "README.md").read_text()
    snippets = re.findall(r"```python\n(.*?)```", card, re.S)
    assert len(snippets) == 2 and snippets[0].startswith("import faer_hub") and "from transformers" in snippets[1]
    repo_id = _metadata(card)["faer_hub"]["repo_id"]
    cache = tmp_path / "hf_cache"
    populate_hf_cache(cache, repo_id, {name: export / name for name in EXPORT_FILES})
    skimage_photo("astronaut").save(tmp_path / "photo.jpg")
    script = "\n".join(snippets) + "\nprint(sorted(r['label'] for r in classify(crop, top_k=7)))\n"
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(cache), HF_HOME=str(tmp_path / "hf_home"))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(sorted(RAFDB_LABELS))
