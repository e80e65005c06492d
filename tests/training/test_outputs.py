"""What a run hands its export: the run facts its card describes (faer_hub/training/outputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from faer_hub.training.outputs import run_facts


def test_run_facts_carry_the_recipe_file_overrides_data_and_split_sizes():
    splits = {"train": [0] * 539, "validation": [0] * 61, "test": [0] * 210}
    facts = run_facts({"model": {"img_size": 64}}, config_file=Path("training/configs/demo.yaml"),
                      overrides=["optim.lr=1e-3", "data.data_dir=/home/me/private"], generated_data=True, splits=splits)
    assert facts.config_file == "training/configs/demo.yaml" and facts.overrides == ("optim.lr=1e-3",)
    assert facts.generated_data and dict(facts.split_sizes) == {"train": 539, "validation": 61, "test": 210}
    assert facts.value("model", "img_size") == 64


def test_a_training_export_card_describes_that_run(baseline_run, fer_config):
    """train.py passes its facts: the card names the config file it was given and the run's input
    size and split sizes, and config.json agrees on the licence (real-format data: research only)."""
    card = (baseline_run / "export" / "README.md").read_text()
    config = json.loads((baseline_run / "export" / "config.json").read_text())
    meta = yaml.safe_load(card.split("---\n")[1])
    recipe = card.split("## Training recipe")[1].split("## Evaluation protocol")[0]
    assert f"This run's recipe, `{fer_config}`" in recipe and "at 32x32" in recipe
    assert "32x32 RGB face crop" in card and "224x224" not in card
    assert "35 test images" in recipe
    assert meta["license"] == config["pretrained_cfg"]["license"] == "other"
    assert meta["license_name"] == config["license_name"] and config["faer_training_data"] == "rafdb"
