"""Model cards: one template fills the committed ``model_cards/*.md`` and every export's card.

:func:`render_model_card` builds a Hugging Face model card (YAML metadata + markdown) for a task,
from ``faer_hub/hub/templates/model_card.md``. A card says only what it is given: the export's own
``config.json`` (architecture, input size, licence), the facts of the run that made the weights
(:class:`RunFacts`: recipe file, overrides, resolved configuration, data, split sizes), or, for the
committed zoo cards, the paper's recipe (:data:`faer_hub.hub.paper_recipes.PAPER_RECIPES`). It
never reads ``training/configs``. Only results measured with this package go into the
``model-index`` metadata; the paper's numbers appear in the text, labelled as the paper's (it has
none for valence/arousal). Dataset facts come from :data:`faer_hub.tasks.DATASETS`.
Classification metrics are fractions shown in percent; valence/arousal metrics (CCC, PCC, RMSE,
SAGR) keep their own scale. :func:`write_model_cards` regenerates the committed cards
(``faer-hub cards --out model_cards``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData

from ..io import plain_data, write_text
from ..settings import HUB_NAMESPACE, PUBLISHED_WEIGHTS
from ..tasks import TASKS, Task, get_task
from .paper_recipes import PAPER_RECIPES, paper_recipe_file

TEMPLATE_PATH = Path(__file__).parent / "templates" / "model_card.md"

TRAINING_DATA_KEY = "faer_training_data"
"""``config.json`` key of what the weights were trained on, when a training run made them:
``"generated"`` (faces from ``faer_hub.data.synthetic``) or the dataset's name (``"rafdb"`` ...).
Kept when an export is exported again; the card and the app's notice read it."""

INSTALL_LINE = 'pip install -e ".[app,detect]"'
"""How to install faer_hub today: it is not on PyPI, so from a checkout of its repository."""


def check_repo_id(repo_id: str, *, where: str = "repo_id", namespaced: bool = False) -> str:
    """``repo_id`` when it is a valid Hub repo id (huggingface_hub's rules: letters, digits, ``-``,
    ``_``, ``.``; ``org/name`` when ``namespaced``), else :class:`ValueError` naming ``where``.
    Repo ids go into cards' usage code and a Space's files, so nothing else may pass."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
        if namespaced and "/" not in repo_id:
            raise HFValidationError("expected org/name")
    except HFValidationError:
        shown = repo_id if len(str(repo_id)) <= 80 else str(repo_id)[:77] + "..."
        raise ValueError(f"{where}: {shown!r} is not a Hub repo id; use org/name with letters, digits, '-', '_' "
                         "and '.' only") from None
    return repo_id


@dataclass(frozen=True)
class RunFacts:
    """What the training run that made an export tells its card (passed in, never looked up).

    ``config`` is the run's resolved configuration as plain values (its ``config.yaml``: sections
    ``model``, ``data``, ``optim``, ``loss``, ``train``, ``eval``); ``config_file`` and
    ``overrides`` are what the run was started with (``--config``, ``--set``); ``generated_data``
    says the faces were generated (``faer_hub.data.synthetic``), not the dataset's;
    ``split_sizes`` counts the images of each split used (``train``, ``validation``, ``test``).
    """

    config: Mapping[str, Any]
    config_file: str | None = None
    overrides: Sequence[str] = ()
    generated_data: bool = False
    split_sizes: Mapping[str, int] = field(default_factory=dict)

    def value(self, section: str, key: str, default: Any = None) -> Any:
        return (self.config.get(section) or {}).get(key, default)


@dataclass(frozen=True)
class Licence:
    """The weights' licence, written alike into ``config.json`` and the card's metadata."""

    id: str
    """Hub licence id (``mit``, ``apache-2.0``, ``other``)."""
    name: str | None = None
    """``license_name`` when ``id`` is ``other``."""
    link: str | None = None
    """``license_link`` when ``id`` is ``other``: the terms."""


def weights_licence(task: Task | str, run: RunFacts | None = None) -> Licence:
    """The licence of weights trained for ``task``: the dataset's research-only terms for weights
    that saw its images; faer_hub's MIT licence for weights trained from scratch on generated faces
    (timm's Apache-2.0 when the backbone started from its ImageNet ConvNeXt weights)."""
    task = get_task(task) if isinstance(task, str) else task
    if run is not None and run.generated_data:
        return Licence("apache-2.0" if run.value("model", "pretrained") else "mit")
    return Licence("other", f"{task.dataset}-research-only", task.data.url)


@dataclass(frozen=True)
class ModelStats:
    """timm-style model statistics of one architecture at one input size."""

    params: int
    gmacs: float | None
    """Multiply-accumulates of one image, in billions (convolutions and matrix products); None
    when the model could not be traced."""
    image_size: tuple[int, int]


@functools.lru_cache(maxsize=32)
def _stats(architecture: str, height: int, width: int, num_classes: int, model_args: tuple) -> ModelStats:
    import timm
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ..models import faer  # noqa: F401  (registers the FAER family)

    with torch.device("meta"):  # shapes only: no memory, no weights, fast
        model = timm.create_model(architecture, num_classes=num_classes, **dict(model_args)).eval()
        x = torch.empty(1, 3, height, width)
    params = sum(p.numel() for p in model.parameters())
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(x)
        gmacs = counter.get_total_flops() / 2e9
    except Exception:  # noqa: BLE001  (an op without a meta kernel: say nothing rather than guess)
        gmacs = None
    return ModelStats(params, gmacs, (height, width))


def model_stats(architecture: str, input_size: Sequence[int], num_classes: int,
                model_args: Mapping[str, Any] | None = None) -> ModelStats | None:
    """Parameters and GMACs of ``architecture`` at ``input_size`` (C, H, W), counted on the meta
    device (no weights, about a second); None when the architecture cannot be built here."""
    _, h, w = input_size
    args = tuple(sorted((k, v) for k, v in (model_args or {}).items() if isinstance(v, (int, float, str, bool))))
    try:
        return _stats(architecture.split(".")[0], int(h), int(w), int(num_classes), args)
    except (ImportError, RuntimeError, TypeError, ValueError):
        return None


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
    export_config: Mapping[str, Any] | None = None,
    run: RunFacts | None = None,
    paper_recipe: bool = False,
) -> str:
    """Render the model card (README.md text) for one task.

    Args:
        task: A :class:`~faer_hub.tasks.Task` or task name (``'rafdb'`` ...).
        architecture: timm model name (``'faer_atto'``, ``'faer_raf'`` ...); default: the export
            config's, else the task model.
        repo_id: Hub repository the card describes; default: the model's ``hf_hub_id`` (or
            ``<HUB_NAMESPACE>/<architecture>.<task>``).
        results: Metrics measured with this package (for example ``metrics.json`` of
            ``faer-hub evaluate``): metric name -> value as a fraction in [0, 1]; optional keys
            ``split`` (default ``'test'``), ``dataset`` and ``dataset_name`` (id and title of what
            was evaluated when it is not the task's dataset, e.g. ``'synthetic'``), ``num_samples``
            and a class-wise dict (label -> fraction) under ``class_accuracy``. ``None`` means nothing
            was measured, and the card says so.
        export_config: The export's ``config.json``: its input size, normalisation, model
            arguments and licence are what the card states. Default: the registered pretrained
            config of ``architecture`` (the zoo cards).
        run: The facts of the training run that made these weights (recipe file, overrides,
            resolved configuration, data); the card describes that run.
        paper_recipe: Without ``run``: describe the paper's recipe for the task (the committed zoo
            cards); otherwise the card says the recipe is unknown.

    Returns:
        The card text; it parses with ``huggingface_hub.ModelCard`` and has a valid model-index.
    """
    if task is None:
        raise ValueError(
            "a model card needs the task the model was trained for (" + ", ".join(TASKS) + ")"
        )
    task = get_task(task) if isinstance(task, str) else task
    architecture = architecture or (export_config or {}).get("architecture") or task.model_name
    cfg = dict((export_config or {}).get("pretrained_cfg") or {}) if export_config else _pretrained_cfg(architecture, task)
    repo_id = check_repo_id(repo_id or cfg.get("hf_hub_id") or f"{HUB_NAMESPACE}/{architecture}.{task.name}")
    metrics = _measured_metrics(results, fractions=task.spec.fractions)
    split = str((results or {}).get("split", "test"))
    evaluated_on = str((results or {}).get("dataset_name", task.dataset_title))
    dataset_type = str((results or {}).get("dataset", task.dataset))
    generated = ((run is not None and run.generated_data) or dataset_type == "synthetic"
                 or (export_config or {}).get(TRAINING_DATA_KEY) == "generated")
    licence = _export_licence(export_config) or weights_licence(task, run)
    input_size = tuple(cfg.get("input_size") or (3, 224, 224))
    stats = model_stats(architecture, input_size, (export_config or {}).get("num_classes", task.num_classes),
                        (export_config or {}).get("model_args"))
    recipe = _paper_recipe_facts(task) if run is None and paper_recipe else run

    card_data = ModelCardData(
        library_name="timm",
        license=licence.id,
        license_name=licence.name,
        license_link=licence.link,
        tags=_tags(task),
        datasets=[task.dataset] if dataset_type == task.dataset and not generated else None,  # not for generated faces
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
        weights_statement=_weights_statement(repo_id, results is not None, generated),
        output_description=task.spec.outputs,
        input_description=_input_description(cfg),
        stats=_stats_lines(stats, input_size),
        install_line=INSTALL_LINE,
        face_crop=task.face_crop,
        face_crop_description=_FACE_CROPS[task.face_crop],
        label_list=", ".join(f"`{name}`" for name in task.label_names),
        activation_code=_ACTIVATION_CODE[task.spec.activation],
        regression=task.regression,
        generated=generated,
        out_of_scope_extra=task.spec.out_of_scope,
        top_k=5 if task.multi_label else min(3, task.num_classes),
        predict_extra=" --threshold 0.5" if task.multi_label else "",
        recipe=_recipe(task, recipe, is_run=run is not None),
        data_section=_data_section(task, run),
        training_config=_yaml(run.config) if run is not None and run.config else "",
        protocol=_protocol(task, run, generated),
        results_section=_results_section(task, metrics, results, split, evaluated_on),
        paper_section=_paper_section(task),
        limitations=task.spec.limitations,
        licence_section=_licence_section(task, licence, generated),
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
    """The committed cards: file name -> text, one per task model, with the paper's recipe and
    without measured results."""
    return {CARD_FILES[task.model_name]: render_model_card(task, paper_recipe=True) for task in TASKS.values()}


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

        from ..models import faer  # noqa: F401  (registers the FAER family)
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


def _task_description(task: Task) -> str:
    return f"{task.spec.description} ({task.num_classes} {task.spec.output_unit})"


def _tags(task: Task) -> list[str]:
    return ["image-classification", "timm", "faer", "convnext", "face", *task.spec.tags, task.dataset,
            *task.spec.problem_tags]


def _weights_statement(repo_id: str, trained_here: bool, generated: bool) -> str:
    if repo_id in PUBLISHED_WEIGHTS:
        return f"Trained weights are published at `{repo_id}`."
    if generated:
        return (
            "**These weights were trained on generated faces** (`faer_hub.data.synthetic`), not on real photos: "
            "they check the pipeline end to end and are useless on real faces. No trained FAER "
            "weights are published yet."
        )
    if trained_here:
        return (
            "These weights were trained with `faer_hub` (recipe, configuration and measured results below). "
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


def _export_licence(export_config: Mapping[str, Any] | None) -> Licence | None:
    """The licence an export's ``config.json`` records (``pretrained_cfg.license``, and
    ``license_name``/``license_link`` beside it), or None when it records none."""
    if not export_config:
        return None
    licence = (export_config.get("pretrained_cfg") or {}).get("license")
    if not licence:
        return None
    return Licence(licence, export_config.get("license_name"), export_config.get("license_link"))


def _paper_recipe_facts(task: Task) -> RunFacts:
    return RunFacts(config=PAPER_RECIPES[task.name], config_file=paper_recipe_file(task.name))


def _stats_lines(stats: ModelStats | None, input_size: Sequence[int]) -> str:
    _, h, w = input_size
    if stats is None:
        return f"  - Image size: {h} x {w}"
    macs = ("not counted" if stats.gmacs is None
            else f"{stats.gmacs:.2f}" if stats.gmacs >= 0.1 else f"{stats.gmacs:.3f}")
    return "\n".join([
        f"  - Params (M): {stats.params / 1e6:.2f}",
        f"  - GMACs: {macs} (one {h} x {w} image; convolutions and matrix products, `torch.utils.flop_counter`)",
        f"  - Image size: {h} x {w}",
    ])


def _recipe(task: Task, facts: RunFacts | None, *, is_run: bool) -> str:
    """The training recipe, described from the run's (or the paper table's) configuration facts."""
    paper_file = f"`{paper_recipe_file(task.name)}`"
    if facts is None:
        return (
            "Not recorded: these weights were not exported by a `faer_hub` training run (they come from "
            "`faer-hub export` or `faer-hub convert`), so this card cannot say how they were trained. The "
            f"paper's recipe for this task is {paper_file} in the faer_hub repository."
        )
    name = f"`{facts.config_file}`" if facts.config_file else "the configuration below"
    if is_run:
        overrides = ", ".join(f"`--set {o}`" for o in facts.overrides)
        intro = (f"This run's recipe, {name}" if facts.config_file else "This run's recipe (its resolved configuration below)")
        intro += (f" with {overrides}" if overrides else "") + ", as it ran"
    elif not task.spec.in_paper:
        intro = task.spec.recipe_note.format(recipe=name)
    else:
        intro = f"The paper's recipe (Xu et al. 2024, Sec. 3.2), as {name} runs it"
    v = facts.value
    loss = task.spec.loss.describe(facts.config.get("loss") or {}, task.num_classes)
    scheduler, decay = v("optim", "scheduler"), v("optim", "gamma")
    schedule = {
        "exponential": "ExponentialLR" + (f" (gamma {decay:g} per epoch)" if decay is not None else ""),
        "cosine": "cosine decay",
        "constant": "constant learning rate",
        None: None,
    }.get(scheduler, f"{scheduler} schedule")
    optimizer = v("optim", "optimizer")
    lr, batch, epochs = v("optim", "lr"), v("train", "global_batch_size"), v("train", "epochs")
    arch, size = v("model", "name"), v("model", "img_size")
    parts = [  # a configuration given in code may lack some: say what is known, guess nothing
        _OPTIMIZERS.get(optimizer, str(optimizer)) if optimizer else None,
        f"learning rate {_sci(float(lr))}" if lr is not None else None,
        f"batch size {batch}" if batch is not None else None,
        f"{epochs} epochs" if epochs is not None else None,
        schedule,
    ]
    setup = ", ".join(part for part in parts if part)
    lines = [
        f"{intro}: {loss}" + (f"; {setup}" if setup else "") + "; "
        + (f"random horizontal flip (p = {v('data', 'hflip'):g}); " if v("data", "hflip") else "")
        + (f"`{arch}` at {size}x{size}." if arch and size else f"`{arch}`." if arch else "")
    ]
    if v("data", "balanced_sampling"):
        lines.append("Class-balanced sampling (weight 1/class count, with replacement).")
    jitter = [float(v("data", f"jitter_{k}") or 0) for k in ("degrees", "translate", "scale")]
    if any(jitter):
        lines.append(f"Each crop randomly rotated by up to {jitter[0]:g} degrees, shifted by up to {jitter[1]:.0%} "
                     f"and scaled by up to {jitter[2]:.0%} (`data.jitter_*`; not in the paper's recipe).")
    start = (f"starts from timm's ImageNet ConvNeXt weights (`{arch}.in1k`)" if v("model", "pretrained")
             else "starts from random weights")
    lines.append(
        f"The backbone {start}." if is_run or not task.spec.in_paper
        else f"The paper initialises the backbone from MS-Celeb-1M pre-training that was never published; `faer_hub` {start}."
    )
    metric = (v("eval", "select_metric") or task.primary_metric).replace("_", " ").replace("ccc", "CCC")
    lines.append(f"The best epoch is the one with the highest validation {metric}.")
    return " ".join(lines)


def _data_section(task: Task, run: RunFacts | None) -> str:
    """What the run trained and was tested on (empty without run facts)."""
    if run is None:
        return ""
    sizes = ", ".join(f"{n:,} {split}" for split, n in run.split_sizes.items() if n is not None)
    counts = f" ({sizes} images)" if sizes else ""
    if run.generated_data:
        return (f"**Data**: faces generated by `faer_hub.data.synthetic` in {task.dataset_title}'s on-disk format{counts}; "
                f"no {task.dataset_title} image was used. The numbers below say the pipeline works, nothing about "
                "real faces.")
    return f"**Data**: {task.dataset_title}{counts}."


def _protocol(task: Task, run: RunFacts | None, generated: bool) -> str:
    if generated:
        test = (run.split_sizes.get("test") if run is not None else None)
        metric = task.primary_metric.replace("_", " ").replace("ccc", "CCC")
        n = f"{test:,} " if test else ""
        return (f"{metric[0].upper() + metric[1:]} on the run's {n}generated test faces (not {task.dataset_title}'s "
                "test set). The best epoch is chosen on generated faces held out from the training set, never "
                "on the test set.")
    protocol = _PROTOCOLS.get(task.name, _PROTOCOLS[task.dataset])
    test = run.split_sizes.get("test") if run is not None else None
    return protocol + (f" This run's test split held {test:,} images." if test else "")


def _licence_section(task: Task, licence: Licence, generated: bool) -> str:
    terms = task.data.terms.format(url=task.data.url)
    if generated:
        owner = ("faer_hub's MIT licence" if licence.id == "mit"
                 else f"the `{licence.id}` licence of timm's ImageNet ConvNeXt weights it started from")
        return (f"These weights never saw a {task.dataset_title} image: they were trained on generated faces, and "
                f"carry {owner} (`license: {licence.id}`, as in `config.json`). Weights trained on the real data "
                f"do not: {terms}")
    return (f"{terms} The dataset is not redistributed by `faer_hub`; download it yourself after accepting its "
            f"terms and point `faer-hub` at the folder.\n\nThe model weights inherit these terms "
            f"(`license: other`, `license_name: {licence.name}`, `license_link` to the dataset's page, as in "
            "`config.json`): use them for non-commercial research only.")


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
    return yaml.safe_dump(plain_data(config), sort_keys=False, allow_unicode=True)
