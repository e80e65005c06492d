"""Model cards: one template fills the committed ``model_cards/*.md`` and every training export.

:func:`render_model_card` builds a Hugging Face model card (YAML metadata + markdown) for a task,
from ``faer_hub/hub/templates/model_card.md``. Only results measured with this package go into the
``model-index`` metadata; the paper's numbers appear in the text, labelled as the paper's (it has
none for valence/arousal). The training recipe is described from its file in ``training/configs/``
(:data:`RECIPE_DIR`); dataset facts come from :data:`faer_hub.tasks.DATASETS`. Classification
metrics are fractions shown in percent; valence/arousal metrics (CCC, PCC, RMSE, SAGR) keep their
own scale.
:func:`write_model_cards` regenerates the committed cards (``faer-hub cards --out model_cards``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..io import write_text
from ..settings import HUB_NAMESPACE, PUBLISHED_WEIGHTS
from ..tasks import TASKS, Task, get_task

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md"

RECIPE_DIR = Path(__file__).resolve().parents[2] / "training" / "configs"
"""The training recipes (``<task>.yaml``), the one home of their facts (epochs, batch size, loss ...).
They sit beside ``training/train.py`` in a checkout of faer_hub; an installed package has no copy,
and its cards name the recipe file instead of describing it."""

CARD_FACTS_KEY = "faer_hub"
"""Key of the card metadata recording what the card describes: ``architecture``, ``task``,
``repo_id`` and ``label_names``; publishing compares them with ``config.json``."""

CARD_FILES: dict[str, str] = {task.model_name: f"{task.model_name}.md" for task in TASKS.values()}
"""Committed card file name per task model (``faer_raf.md`` ...)."""

_PROTOCOLS = {
    "celeba": (
        "Mean accuracy over the 40 attributes (sigmoid, threshold 0.5) on the official CelebA test "
        "split (19,962 images). The best epoch is chosen on the official validation split "
        "(19,867 images), never on the test split."
    ),
    "rafdb": (
        "Overall accuracy on the 3,068 RAF-DB test images. RAF-DB has no official validation split, "
        "so `faer_hub` holds out part of the training set (fixed seed) to choose the best epoch. The "
        "authors' code picked the best epoch on the test split, which favours the paper's numbers."
    ),
    "affectnet": (
        "Overall accuracy on the official AffectNet validation set (500 images per class), used as "
        "the test set as in the literature. The best epoch is chosen on a part of the training set "
        "held out with a fixed seed, never on the test set."
    ),
    "affectnet_va": (
        "CCC (concordance correlation coefficient, Lin 1989), PCC (Pearson), RMSE and SAGR (sign "
        "agreement) of valence and arousal, each and averaged, on the official AffectNet validation set "
        "(used as the test set, as in the literature), on the rows with expression codes 0-8 (the "
        "seven basic expressions, contempt and None); Uncertain and No-Face rows have no values "
        "(Mollahosseini et al. 2017). Outputs are clipped to [-1, 1] before scoring. The best epoch is "
        "chosen on a part of the training set held out with a fixed seed (stratified by expression), "
        "never on the test set."
    ),
}

_LIMITATIONS = {
    "fae": (
        "- CelebA shows celebrities: mostly young, light-skinned, made-up, well-lit, frontal faces. "
        "Accuracy on other ages, skin tones, cultures and image conditions is unknown and likely lower.\n"
        "- Several attributes are subjective or social judgements (`Attractive`, `Young`, `Heavy_Makeup`) "
        "and `Male` is a binary annotation of perceived gender; outputs reproduce the annotators' "
        "biases and say nothing true about a person.\n"
        "- Attributes are strongly correlated and imbalanced in CelebA; mean accuracy hides poor "
        "recall on rare attributes (look at the class-wise numbers).\n"
        "- Trained on aligned 178x218 crops; unaligned or small faces need detection and cropping first."
    ),
    "fer": (
        "- Expression labels describe visible facial configurations, not felt emotions; the same "
        "expression means different things across people, cultures and contexts.\n"
        "- The training set is imbalanced (happiness and neutral dominate); rare classes such as fear "
        "and disgust are recognised much less reliably (see the class-wise numbers).\n"
        "- Demographic coverage of the dataset is uneven; accuracy across age, gender and skin tone "
        "has not been measured here.\n"
        "- Expects one face per crop; use face detection for whole photos."
    ),
    "va": (
        "- Valence and arousal describe how positive and how intense an expression looks to annotators, "
        "not what someone feels; two annotators of the same AffectNet image often disagree (the "
        "dataset paper measures this on a doubly annotated subset), which bounds what any model can reach.\n"
        "- The annotations are not evenly spread: most faces are neutral or happy, so strongly negative "
        "or high-arousal faces are estimated less reliably.\n"
        "- Demographic coverage of the dataset is uneven; errors across age, gender and skin tone "
        "have not been measured here.\n"
        "- Expects one face per crop; use face detection for whole photos."
    ),
}


_OUTPUTS = {
    "sigmoid": "one logit per attribute; apply a sigmoid to each (independent probabilities) and "
               "threshold at 0.5 by default.",
    "softmax": "one logit per class; a softmax gives class probabilities.",
    "clip": "two values, valence then arousal, on AffectNet's [-1, 1] scale (negative to positive, "
            "calm to excited); use them as they are, clipped to [-1, 1].",
}
"""What the outputs are, per :attr:`faer_hub.tasks.Kind.activation`."""

_ACTIVATION_CODE = {
    "sigmoid": "model(x).sigmoid()[0]  # per-attribute probabilities",
    "softmax": "model(x).softmax(-1)[0]  # class probabilities",
    "clip": "model(x).clamp(-1, 1)[0]  # valence, arousal",
}


def render_model_card(
    task: Task | str | None,
    *,
    architecture: str | None = None,
    repo_id: str | None = None,
    results: Mapping[str, Any] | None = None,
    training_config: Mapping[str, Any] | None = None,
) -> str:
    """Render the model card (README.md text) for one task.

    Args:
        task: A :class:`~faer_hub.tasks.Task` or task name (``'rafdb'`` ...).
        architecture: timm model name (``'faer_atto'``, ``'faer_raf'`` ...); default: the task model.
        repo_id: Hub repository the card describes; default: the model's ``hf_hub_id`` (or
            ``<HUB_NAMESPACE>/<architecture>.<task>``).
        results: Metrics measured with this package (for example ``metrics.json`` of
            ``faer-hub evaluate``): metric name -> value as a fraction in [0, 1]; optional keys
            ``split`` (default ``'test'``), ``dataset`` and ``dataset_name`` (id and title of what
            was evaluated when it is not the task's dataset, e.g. ``'synthetic'``), ``num_samples``
            and a class-wise dict (label -> fraction) under ``class_accuracy``. ``None`` means nothing
            was measured, and the card says so.
        training_config: The training configuration of these weights, shown verbatim as YAML.

    Returns:
        The card text; it parses with ``huggingface_hub.ModelCard`` and has a valid model-index.
    """
    if task is None:
        raise ValueError(
            "a model card needs the task the model was trained for (" + ", ".join(TASKS) + ")"
        )
    task = get_task(task) if isinstance(task, str) else task
    architecture = architecture or task.model_name
    cfg = _pretrained_cfg(architecture, task)
    repo_id = repo_id or cfg.get("hf_hub_id") or f"{HUB_NAMESPACE}/{architecture}.{task.name}"
    metrics = _measured_metrics(results, fractions=task.spec.fractions)
    split = str((results or {}).get("split", "test"))
    evaluated_on = str((results or {}).get("dataset_name", task.dataset_title))
    dataset_type = str((results or {}).get("dataset", task.dataset))

    card_data = ModelCardData(
        library_name="timm",
        license=cfg.get("license", "other"),
        tags=_tags(task),
        datasets=[task.dataset] if dataset_type == task.dataset else None,  # e.g. not for generated faces
        metrics=["accuracy"] if task.spec.fractions else ["ccc", "pearsonr", "rmse", "sagr"],
        pipeline_tag="image-classification",
        model_name=repo_id.split("/")[-1],
        eval_results=[
            EvalResult(
                task_type="image-classification",
                task_name=_task_description(task),
                dataset_type=dataset_type,
                dataset_name=evaluated_on,
                dataset_config=task.dataset_config,
                dataset_split=split,
                metric_type=name,
                metric_name=name.replace("_", " "),
                metric_value=round(100 * value, 2) if task.spec.fractions else round(value, 4),
            )
            for name, value in metrics.items()
        ]
        or None,
        **{CARD_FACTS_KEY: dict(architecture=architecture, task=task.name, repo_id=repo_id,
                                label_names=list(task.label_names))},
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(TEMPLATE_PATH),
        title=f"{architecture}: FAER for {task.dataset_title}",
        task_description=_task_description(task),
        dataset_title=task.dataset_title,
        dataset_url=task.data.url,
        architecture=architecture,
        repo_id=repo_id,
        weights_statement=_weights_statement(repo_id, results is not None, evaluated_on),
        output_description=_OUTPUTS[task.spec.activation],
        input_description=_input_description(cfg),
        face_crop=task.face_crop,
        face_crop_description=_FACE_CROPS[task.face_crop],
        label_list=", ".join(f"`{name}`" for name in task.label_names),
        activation_code=_ACTIVATION_CODE[task.spec.activation],
        regression=task.regression,
        out_of_scope_extra=(
            "Attribute predictions are not facts about a person."
            if task.multi_label
            else "An expression (or its valence and arousal) is not a reliable signal of what someone feels."
            if task.regression
            else "An expression is not a reliable signal of what someone feels."
        ),
        top_k=5 if task.multi_label else min(3, task.num_classes),
        predict_extra=" --threshold 0.5" if task.multi_label else "",
        recipe=_recipe(task),
        training_config=_yaml(training_config) if training_config else "",
        protocol=_PROTOCOLS.get(task.name, _PROTOCOLS[task.dataset]),
        results_section=_results_section(task, metrics, results, split, evaluated_on),
        paper_section=_paper_section(task),
        limitations=_LIMITATIONS[task.kind],
        dataset_licence=task.data.terms.format(url=task.data.url),
    )
    return str(card).rstrip() + "\n"


def card_facts(data: ModelCardData) -> dict[str, Any]:
    """The :data:`CARD_FACTS_KEY` metadata of a card (``ModelCard.load(path).data``); empty when it has none."""
    facts = getattr(data, CARD_FACTS_KEY, None)
    return dict(facts) if isinstance(facts, Mapping) else {}


def read_card_facts(card: str | os.PathLike) -> dict[str, Any]:
    """:func:`card_facts` of the card file ``card`` (an export's ``README.md``)."""
    return card_facts(ModelCard.load(card).data)


def render_all_cards() -> dict[str, str]:
    """The committed cards: file name -> text, one per task model, without measured results."""
    return {CARD_FILES[task.model_name]: render_model_card(task) for task in TASKS.values()}


def write_model_cards(out_dir: str | os.PathLike) -> list[Path]:
    """(Re)write the committed cards into ``out_dir`` atomically; returns the written paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all_cards().items():
        written.append(write_text(out / name, text))
    return written


def stale_cards(card_dir: str | os.PathLike) -> list[str]:
    """Names of committed cards in ``card_dir`` that are missing or differ from the template."""
    card_dir = Path(card_dir)
    return [
        name
        for name, text in render_all_cards().items()
        if not (card_dir / name).is_file() or (card_dir / name).read_text(encoding="utf-8") != text
    ]


_FACE_CROPS = {
    "celeba": "CelebA's align&cropped protocol: a similarity transform putting the eyes and the mouth centre "
              "on fixed points of a 178x218 image",
    "rafdb": "RAF-DB's aligned protocol: a similarity transform of the two eyes and the mouth centre, as RAF-DB's "
             "README describes it, onto 100x100; where RAF-DB put those points is not published, so the target "
             "positions are an estimate (faer_hub.faces.align.RAFDB_TEMPLATE), replaceable through the face_crop "
             "entry of the model's config",
    "affectnet": "AffectNet's protocol: the face box, squared and clamped to the image; for a detected face the "
                 "box comes from its five landmarks by an estimated rule (faer_hub.faces.align.AFFECTNET_BOX_RULE)",
}


# --- pieces -------------------------------------------------------------------------------------


def _pretrained_cfg(architecture: str, task: Task) -> dict[str, Any]:
    """The registered pretrained config of ``architecture`` (task tag preferred), or ``{}``."""
    try:
        import timm

        from .. import models  # noqa: F401  (registers the FAER family)
    except ImportError:  # models not importable: render from the task alone
        return {}
    names = [architecture] if "." in architecture else [f"{architecture}.{task.name}", architecture]
    for name in names:
        try:
            cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=False)
        except RuntimeError:  # architecture not registered
            cfg = None
        if cfg is not None:
            return cfg.to_dict()
    return {}


_OUTPUT_UNITS = {"fae": "attributes", "fer": "classes", "va": "outputs"}


def _task_description(task: Task) -> str:
    return f"{task.spec.description} ({task.num_classes} {_OUTPUT_UNITS[task.kind]})"


_KIND_TAGS = {
    "fae": ["facial-attribute-estimation"],
    "fer": ["facial-expression-recognition"],
    "va": ["valence-arousal-estimation", "affect-recognition"],
}
_PROBLEM_TAGS = {"multi_label_classification": ["multi-label-classification"], "regression": ["regression"]}


def _tags(task: Task) -> list[str]:
    tags = ["image-classification", "timm", "faer", "convnext", "face", *_KIND_TAGS[task.kind], task.dataset]
    return tags + _PROBLEM_TAGS.get(task.problem_type, [])


def _weights_statement(repo_id: str, trained_here: bool, evaluated_on: str) -> str:
    if repo_id in PUBLISHED_WEIGHTS:
        return f"Trained weights are published at `{repo_id}`."
    if trained_here and "synth" in evaluated_on.lower():
        return (
            "**These weights were trained and evaluated on synthetic faces** (`faer_hub.data.synthetic.write`): "
            "they check the pipeline end to end and are useless on real photos. No trained FAER "
            "weights are published yet."
        )
    if trained_here:
        return (
            "These weights were trained with `faer_hub` (configuration and measured results below). "
            "No official trained FAER weights are published yet; the paper's authors have not "
            "released theirs either."
        )
    return (
        f"**No trained FAER weights are published yet.** `{repo_id}` is the repository name the "
        "weights will get; until then, loading it with `pretrained=True` fails. Train your own with "
        "`training/train.py` and load the export folder with `local-dir:`. The paper's authors have "
        "not released their weights either."
    )


def _input_description(cfg: Mapping[str, Any]) -> str:
    _, h, w = cfg.get("input_size", (3, 224, 224))
    mean, std = cfg.get("mean"), cfg.get("std")
    norm = (
        f"normalised with mean {tuple(round(v, 3) for v in mean)} and std "
        f"{tuple(round(v, 3) for v in std)}"
        if mean and std
        else "normalised with ImageNet mean/std"
    )
    return f"{h}x{w} RGB face crop, {norm} (see `pretrained_cfg`)."


def _recipe(task: Task) -> str:
    """The training recipe, described from its file in :data:`RECIPE_DIR`."""
    from ..training.config import load_config

    name = f"training/configs/{task.name}.yaml"
    path = RECIPE_DIR / f"{task.name}.yaml"
    if not path.is_file():
        return f"The training recipe is `{name}` in the faer_hub repository (not part of the installed package)."
    c = load_config(path)
    intro = (
        f"The paper does not address valence and arousal; `{name}` keeps its expression recipe with a regression loss"
        if task.kind == "va"
        else f"The paper's recipe (Xu et al. 2024, Sec. 3.2), as `{name}` runs it"
    )
    loss = {
        "fae": f"sigmoid focal loss (gamma = {c.loss.focal_gamma:g}) on the {task.num_classes} outputs",
        "fer": "cross-entropy" + (f" plus {c.loss.center_weight:g} x center loss on the pooled features"
                                  if c.loss.center_weight else ""),
        "va": "the mean over valence and arousal of 1 - CCC (concordance correlation coefficient, Lin 1989, over "
              "each batch)" + (f" plus {c.loss.mse_weight:g} x the mean squared error" if c.loss.mse_weight else ""),
    }[task.kind]
    schedule = {
        "exponential": f"ExponentialLR (gamma {c.optim.gamma:g} per epoch)",
        "cosine": "cosine decay",
        "constant": "constant learning rate",
    }[c.optim.scheduler]
    lines = [
        f"{intro}: {loss}; {_OPTIMIZERS[c.optim.optimizer]}, learning rate {_sci(c.optim.lr)}, batch size "
        f"{c.train.global_batch_size}, {c.train.epochs} epochs, {schedule}; "
        + (f"random horizontal flip (p = {c.data.hflip:g}); " if c.data.hflip else "")
        + f"`{c.model.name}` at {c.model.img_size}x{c.model.img_size}."
    ]
    if c.data.balanced_sampling:
        lines.append("Class-balanced sampling (weight 1/class count, with replacement).")
    start = (f"starts from timm's ImageNet ConvNeXt weights (`{c.model.name}.in1k`)" if c.model.pretrained
             else "starts from random weights")
    lines.append(
        f"The backbone {start}." if task.kind == "va"
        else f"The paper initialises the backbone from MS-Celeb-1M pre-training that was never published; `faer_hub` {start}."
    )
    metric = (c.eval.select_metric or task.primary_metric).replace("_", " ").replace("ccc", "CCC")
    lines.append(f"The best epoch is the one with the highest validation {metric}.")
    return " ".join(lines)


_OPTIMIZERS = {"adamw": "AdamW", "adam": "Adam", "sgd": "SGD"}


def _sci(value: float) -> str:
    """``2.5e-4``, ``1e-3``: a learning rate as the recipes write it."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


_RESULT_INFO_KEYS = ("num_samples", "split", "dataset", "dataset_name")


def _measured_metrics(results: Mapping[str, Any] | None, *, fractions: bool = True) -> dict[str, float]:
    """Top-level numeric metrics of ``results`` (fractions in [0, 1] for classification; finite
    values on their own scale for valence/arousal), validated."""
    metrics: dict[str, float] = {}
    for name, value in (results or {}).items():
        if name in _RESULT_INFO_KEYS or isinstance(value, (bool, Mapping)):
            continue
        if isinstance(value, (int, float)):
            if not fractions:
                if not math.isfinite(float(value)):
                    raise ValueError(f"results[{name!r}] = {value!r} is not a finite number")
                metrics[name] = float(value)
                continue
            if not (0.0 <= float(value) <= 1.0) or math.isnan(float(value)):
                raise ValueError(
                    f"results[{name!r}] = {value!r}: metrics must be fractions in [0, 1] "
                    "(as the evaluate modules return them), not percentages"
                )
            metrics[name] = float(value)
    return metrics


def _results_section(
    task: Task,
    metrics: Mapping[str, float],
    results: Mapping[str, Any] | None,
    split: str,
    evaluated_on: str,
) -> str:
    if not metrics:
        return (
            "No results have been measured with this package for these weights: no trained FAER "
            "weights are published yet."
        )
    n = (results or {}).get("num_samples")
    where = f"{evaluated_on}, `{split}` split" + (f", {n} images" if n else "")
    if not task.spec.fractions:
        lines = [f"Measured with `faer_hub` ({where}; CCC, PCC in [-1, 1], SAGR in [0, 1], RMSE in the "
                 "values' units):", "", "| metric | value |", "|---|---|"]
        return "\n".join(lines + [f"| {name.replace('_', ' ')} | {v:.4f} |" for name, v in metrics.items()])
    lines = [f"Measured with `faer_hub` ({where}):", "", "| metric | value (%) |", "|---|---|"]
    lines += [f"| {name.replace('_', ' ')} | {100 * v:.2f} |" for name, v in metrics.items()]
    per_class = (results or {}).get("class_accuracy") or {}
    if per_class:
        header = "attribute" if task.multi_label else "class"
        lines += ["", f"| {header} | accuracy (%) |", "|---|---|"]
        lines += [f"| {label} | {100 * float(v):.2f} |" for label, v in per_class.items()]
    return "\n".join(lines)


def _paper_section(task: Task) -> str:
    if task.paper_accuracy is None:
        return (
            f"The paper reports no results for {task.dataset_title}; it evaluates AffectNet with "
            "7 classes only."
        )
    what = "mean attribute accuracy" if task.multi_label else "accuracy"
    lines = [
        "Reported by the paper (full FAER, ConvNeXt-Base, backbone pre-trained on MS-Celeb-1M; "
        "these numbers were **not** measured with this package):",
        "",
        "| metric | reported by the paper (%) |", "|---|---|", f"| {what} | {task.paper_accuracy:.2f} |"]
    if task.paper_class_accuracy:
        lines += ["", "| class | accuracy reported by the paper (%) |", "|---|---|"]
        lines += [f"| {label} | {acc:.2f} |" for label, acc in task.paper_class_accuracy.items()]
    elif task.multi_label:
        lines += ["", "The paper shows class-wise accuracy for all 40 attributes as bar charts (Fig. 4)."]
    return "\n".join(lines)


def _yaml(config: Mapping[str, Any]) -> str:
    return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    """Convert paths, tuples and other objects into YAML-safe plain values."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
