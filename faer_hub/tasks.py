"""The tasks FAER is trained for, described once.

A :class:`Task` ties a dataset (and its builder config) to its label vocabulary, the
timm model name users ask for, and the results the paper reports. Models, datasets,
training, metrics and model cards all look tasks up here.

A task's :attr:`Task.kind` (:data:`KINDS`) is the one place that knows what the outputs are:
one class among several (``'fer'``), independent attributes (``'fae'``) or continuous values
(``'va'``, valence and arousal). Code that must act differently per kind asks the task or its
:class:`Kind` (:meth:`Task.activate`, :meth:`Task.predictions`, :attr:`Task.problem_type`, the
:class:`Loss` it trains with, the wording of its cards and Spaces, ...) instead of switching on
the kind's name; for a model, :meth:`Task.from_model`, :func:`kind_of_model` and
:func:`label_names_of_model` read what its pretrained config says, and :func:`label_name_problems`
is the one check of label names.

The datasets (:data:`DATASETS`: title, download page, terms of use) and their label vocabularies
are described here too, so builders, model configs, ``ClassLabel`` features, metrics, cards and
publishing can never disagree. This module imports nothing heavy (no torch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from string import Formatter
from typing import Any


@dataclass(frozen=True)
class Dataset:
    """A dataset the tasks use: the facts its builder, the cards and publishing share."""

    name: str
    """Builder name in :mod:`faer_hub.data` (``Task.dataset``)."""
    title: str
    url: str
    """Download page."""
    terms: str
    """Who may use it, as the model cards state it (markdown; ``{url}`` is filled in)."""
    redistributable: bool = False
    """May be pushed publicly to the Hub by anyone (else only by who holds the rights)."""


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "celeba", "CelebA", "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            "[CelebA]({url}) is available for non-commercial research purposes only; its images are "
            "not owned by its authors (see the CelebA agreement on the dataset page).",
        ),
        Dataset(
            "rafdb", "RAF-DB (basic)", "http://www.whdeng.cn/raf/model1.html",
            "[RAF-DB]({url}) is available for non-commercial research purposes only, under an "
            "agreement signed with its authors.",
        ),
        Dataset(
            "affectnet", "AffectNet", "http://mohammadmahoor.com/affectnet/",
            "[AffectNet]({url}) is available for non-commercial research purposes only, under a "
            "licence agreement with its authors (academic requesters).",
        ),
    )
}
"""The datasets, by builder name; :attr:`Task.dataset` is a key."""


CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin",
    "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
    "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young",
)
"""CelebA's 40 attributes in the order of ``list_attr_celeba.txt``."""

RAFDB_LABELS: tuple[str, ...] = (
    "surprise", "fear", "disgust", "happiness", "sadness", "anger", "neutral",
)
"""RAF-DB basic expressions; the file's ids 1-7 map to indices 0-6."""

AFFECTNET8_LABELS: tuple[str, ...] = (
    "neutral", "happiness", "sadness", "surprise", "fear", "disgust", "anger", "contempt",
)
"""AffectNet expression codes 0-7 (codes 8-10, None/Uncertain/No-Face, are never used)."""

AFFECTNET7_LABELS: tuple[str, ...] = AFFECTNET8_LABELS[:7]
"""AffectNet-7: codes 0-6 (contempt dropped)."""

AFFECTNET_VA_LABELS: tuple[str, ...] = ("valence", "arousal")
"""AffectNet's continuous annotations, both in [-1, 1] (Mollahosseini et al. 2017): the outputs of
the valence/arousal task and the dataset columns of the same names."""

AFFECTNET_VA_EXPRESSIONS: tuple[str, ...] = (*AFFECTNET8_LABELS, "none")
"""Expression codes 0-8 of the rows the valence/arousal task keeps (``expression`` column of the
``'va'`` builder config): codes 9-10 (Uncertain, No-Face) carry no valence/arousal."""


@dataclass(frozen=True)
class Loss:
    """A training loss, named and described; :data:`faer_hub.training.losses.CRITERIA` builds it
    from its name and the run's ``loss`` configuration (whose defaults are the recipe's)."""

    name: str
    """``'focal'``, ``'ce_center'`` or ``'ccc'``."""
    wording: tuple[str, ...]
    """What it is, as model cards say it, in pieces joined together: a piece naming a value of the
    run's ``loss`` configuration (``{focal_gamma:g}``) is said only when the run records that value;
    ``{num_outputs}`` is always known."""
    added_term: tuple[str, str] | None = None
    """``(loss configuration key of its weight, what it weighs)``, said as ``plus <weight> x <what>``
    when the run records a weight other than 0."""

    def describe(self, values: Mapping[str, Any], num_outputs: int) -> str:
        """The loss as a card states it, from the run's ``loss`` values (nothing guessed)."""
        known = {key: value for key, value in values.items() if value is not None}
        known["num_outputs"] = num_outputs
        text = "".join(piece.format(**known) for piece in self.wording if _fields(piece) <= known.keys())
        if self.added_term is not None:
            key, what = self.added_term
            if known.get(key):
                text += f" plus {known[key]:g} x {what}"
        return text


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


@dataclass(frozen=True)
class Kind:
    """What a task's outputs are, and everything that follows from it: how they are scored,
    trained and selected, and how cards and Spaces describe them."""

    name: str
    """``'fer'``, ``'fae'`` or ``'va'``."""
    description: str
    problem_type: str
    """transformers' ``config.problem_type`` of exports."""
    activation: str
    """How outputs become scores: ``'softmax'`` (one class), ``'sigmoid'`` (per attribute) or
    ``'clip'`` (values clipped to [-1, 1])."""
    metric: str
    """Packaged ``evaluate`` metric (:mod:`faer_hub.evaluation.metrics`)."""
    select_metrics: tuple[str, ...]
    """Validation metrics that may pick the best epoch (higher is better); the first is the default
    and the headline number."""
    fractions: bool
    """Metrics are fractions in [0, 1] (shown in percent); otherwise values on their own scale."""
    loss: Loss
    """The training loss (Xu et al. 2024, Sec. 3.2, for the kinds the paper trains)."""
    output_unit: str
    """What one output is called in a count (``40 attributes``)."""
    outputs: str
    """What the outputs are and how to use them, as cards say it."""
    tags: tuple[str, ...]
    """Hub tags of its cards (listed before the dataset's)."""
    problem_tags: tuple[str, ...]
    """Hub tags of its problem type (listed after the dataset's)."""
    out_of_scope: str
    """The card's sentence on what the outputs are not."""
    limitations: str
    """The card's limitations (markdown list)."""
    space_shows: str
    """What a Space page shows per face."""
    recipe_note: str | None = None
    """``None`` for a kind the paper trains (Xu et al. 2024); else what its recipe keeps of the
    paper's, as cards say it (``{recipe}``: the recipe's name)."""

    @property
    def multi_label(self) -> bool:
        """Independent attributes (sigmoid per output)."""
        return self.problem_type == "multi_label_classification"

    @property
    def single_label(self) -> bool:
        """One class among several (softmax), the only kind whose classes can be balanced."""
        return self.problem_type == "single_label_classification"

    @property
    def regression(self) -> bool:
        """Continuous outputs (valence, arousal), used as they are."""
        return self.problem_type == "regression"

    @property
    def in_paper(self) -> bool:
        """The paper trains this kind (its recipe is the paper's)."""
        return self.recipe_note is None


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            name="fer", description="facial expression recognition", problem_type="single_label_classification",
            activation="softmax", metric="fer_accuracy", select_metrics=("accuracy", "balanced_accuracy", "macro_f1"),
            fractions=True,
            loss=Loss("ce_center", ("cross-entropy",), added_term=("center_weight", "center loss on the pooled features")),
            output_unit="classes",
            outputs="one logit per class; a softmax gives class probabilities.",
            tags=("facial-expression-recognition",), problem_tags=(),
            out_of_scope="An expression is not a reliable signal of what someone feels.",
            limitations=(
                "- Expression labels describe visible facial configurations, not felt emotions; the same "
                "expression means different things across people, cultures and contexts.\n"
                "- The training set is imbalanced (happiness and neutral dominate); rare classes such as fear "
                "and disgust are recognised much less reliably (see the class-wise numbers).\n"
                "- Demographic coverage of the dataset is uneven; accuracy across age, gender and skin tone "
                "has not been measured here.\n"
                "- Expects one face per crop; use face detection for whole photos."
            ),
            space_shows="expression probabilities",
        ),
        Kind(
            name="fae", description="facial attribute estimation", problem_type="multi_label_classification",
            activation="sigmoid", metric="fae_accuracy", select_metrics=("mean_accuracy",), fractions=True,
            loss=Loss("focal", ("sigmoid focal loss", " (gamma = {focal_gamma:g})", " on the {num_outputs} outputs")),
            output_unit="attributes",
            outputs="one logit per attribute; apply a sigmoid to each (independent probabilities) and "
                    "threshold at 0.5 by default.",
            tags=("facial-attribute-estimation",), problem_tags=("multi-label-classification",),
            out_of_scope="Attribute predictions are not facts about a person.",
            limitations=(
                "- CelebA shows celebrities: mostly young, light-skinned, made-up, well-lit, frontal faces. "
                "Accuracy on other ages, skin tones, cultures and image conditions is unknown and likely lower.\n"
                "- Several attributes are subjective or social judgements (`Attractive`, `Young`, `Heavy_Makeup`) "
                "and `Male` is a binary annotation of perceived gender; outputs reproduce the annotators' "
                "biases and say nothing true about a person.\n"
                "- Attributes are strongly correlated and imbalanced in CelebA; mean accuracy hides poor "
                "recall on rare attributes (look at the class-wise numbers).\n"
                "- Trained on aligned 178x218 crops; unaligned or small faces need detection and cropping first."
            ),
            space_shows="attribute probabilities",
        ),
        Kind(
            name="va", description="valence and arousal estimation", problem_type="regression",
            activation="clip", metric="va_regression",
            select_metrics=("ccc", "ccc_valence", "ccc_arousal", "pcc", "sagr"), fractions=False,
            loss=Loss("ccc", ("the mean over valence and arousal of 1 - CCC (concordance correlation coefficient, "
                              "Lin 1989, over each batch)",), added_term=("mse_weight", "the mean squared error")),
            output_unit="outputs",
            outputs="two values, valence then arousal, on AffectNet's [-1, 1] scale (negative to positive, "
                    "calm to excited); use them as they are, clipped to [-1, 1].",
            tags=("valence-arousal-estimation", "affect-recognition"), problem_tags=("regression",),
            out_of_scope="An expression (or its valence and arousal) is not a reliable signal of what someone feels.",
            limitations=(
                "- Valence and arousal describe how positive and how intense an expression looks to annotators, "
                "not what someone feels; two annotators of the same AffectNet image often disagree (the "
                "dataset paper measures this on a doubly annotated subset), which bounds what any model can reach.\n"
                "- The annotations are not evenly spread: most faces are neutral or happy, so strongly negative "
                "or high-arousal faces are estimated less reliably.\n"
                "- Demographic coverage of the dataset is uneven; errors across age, gender and skin tone "
                "have not been measured here.\n"
                "- Expects one face per crop; use face detection for whole photos."
            ),
            space_shows="valence and arousal",
            recipe_note="The paper does not address valence and arousal; {recipe} keeps its expression recipe "
                        "with a regression loss",
        ),
    )
}
"""The task kinds; :attr:`Task.kind` is a key."""

PROBLEM_TYPE_KINDS = {k.problem_type: k for k in KINDS.values()}
"""Kind by transformers problem type (for models whose task is unknown but whose config says it)."""


def activate(logits: Any, kind: Kind | str) -> Any:
    """Scores of a kind from raw outputs (a tensor): softmax, sigmoid, or values clipped to [-1, 1]."""
    kind = get_kind(kind) if isinstance(kind, str) else kind
    if kind.activation == "softmax":
        return logits.softmax(-1)
    if kind.activation == "sigmoid":
        return logits.sigmoid()
    return logits.clamp(-1.0, 1.0)


@dataclass(frozen=True)
class Task:
    name: str
    """Task tag, also the pretrained tag on sized models (``faer_base.rafdb``)."""
    model_name: str
    """The task model users create (``faer_raf``)."""
    dataset: str
    """Dataset builder name in :mod:`faer_hub.data`."""
    dataset_config: str | None
    label_names: tuple[str, ...]
    kind: str
    """Key of :data:`KINDS`: ``'fer'``, ``'fae'`` or ``'va'``."""
    dataset_title: str
    """What the task is trained on (``'AffectNet (7 classes)'``); the dataset's own title is
    ``DATASETS[dataset].title``."""
    paper_accuracy: float | None = None
    """Mean (attribute) accuracy the paper reports for full FAER, in percent."""
    paper_class_accuracy: dict[str, float] = field(default_factory=dict)
    """Class-wise accuracy the paper reports (Table 5), in percent."""
    face_crop: str | None = None
    """How the dataset's faces were cut (a :data:`faer_hub.faces.align.PROTOCOLS` name)."""

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.dataset not in DATASETS:
            raise ValueError(f"task {self.name!r}: dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")

    @property
    def data(self) -> Dataset:
        """The :class:`Dataset` this task is trained on."""
        return DATASETS[self.dataset]

    @property
    def spec(self) -> Kind:
        """The :class:`Kind` of this task."""
        return KINDS[self.kind]

    @property
    def multi_label(self) -> bool:
        """Independent attributes (sigmoid per output)."""
        return self.spec.multi_label

    @property
    def regression(self) -> bool:
        """Continuous outputs (valence, arousal), used as they are."""
        return self.spec.regression

    @property
    def problem_type(self) -> str:
        """transformers' ``problem_type``: single/multi-label classification or regression."""
        return self.spec.problem_type

    @property
    def primary_metric(self) -> str:
        """The headline metric (``accuracy``, ``mean_accuracy`` or ``ccc``)."""
        return self.spec.select_metrics[0]

    def activate(self, logits: Any) -> Any:
        """Scores from raw outputs: class probabilities, attribute probabilities, or values in [-1, 1]."""
        return activate(logits, self.spec)

    def predictions(self, logits: Any) -> Any:
        """What the task's metric compares with the references: class ids (argmax), 0/1 per
        attribute (logit > 0, i.e. sigmoid > 0.5), or values clipped to [-1, 1]."""
        import torch

        if self.multi_label:
            return (logits > 0).to(torch.int8)
        if self.spec.single_label:
            return logits.argmax(dim=-1)
        return self.activate(logits.float())

    @classmethod
    def from_model(cls, model: Any) -> Task | None:
        """The task a model was built or trained for, from its pretrained config (the task an
        export records, the pretrained tag, the task model's name, then the label names); None
        when it cannot be told."""
        cfg = _pretrained_cfg(model)
        for key in ("faer_task", "tag"):
            if cfg.get(key) in TASKS:
                return TASKS[cfg[key]]
        for task in TASKS.values():
            if cfg.get("architecture") == task.model_name:
                return task
        labels = tuple(cfg.get("label_names") or ())
        matches = [t for t in TASKS.values() if t.label_names == labels]
        return matches[0] if len(matches) == 1 else None

    def references(self, targets: Any) -> Any:
        """Targets as the metric takes them: integer ids / 0-1 values, or float values."""
        import torch

        return targets.to(torch.float32 if self.regression else torch.int64)


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="celeba",
            model_name="faer_celeba",
            dataset="celeba",
            dataset_config=None,
            label_names=CELEBA_ATTRIBUTES,
            kind="fae",
            dataset_title="CelebA",
            paper_accuracy=91.87,
            face_crop="celeba",
        ),
        Task(
            name="rafdb",
            model_name="faer_raf",
            dataset="rafdb",
            dataset_config=None,
            label_names=RAFDB_LABELS,
            kind="fer",
            dataset_title="RAF-DB (basic)",
            paper_accuracy=91.75,
            paper_class_accuracy=dict(
                anger=90.06, disgust=79.62, fear=72.37, happiness=97.11,
                neutral=86.99, sadness=92.94, surprise=92.72,
            ),
            face_crop="rafdb",
        ),
        Task(
            name="affectnet7",
            model_name="faer_affectnet",
            dataset="affectnet",
            dataset_config="7",
            label_names=AFFECTNET7_LABELS,
            kind="fer",
            dataset_title="AffectNet (7 classes)",
            paper_accuracy=66.66,
            paper_class_accuracy=dict(
                anger=62.25, disgust=72.86, fear=70.22, happiness=80.97,
                neutral=56.57, sadness=66.33, surprise=59.93,
            ),
            face_crop="affectnet",
        ),
        Task(
            name="affectnet8",
            model_name="faer_affectnet8",
            dataset="affectnet",
            dataset_config="8",
            label_names=AFFECTNET8_LABELS,
            kind="fer",
            dataset_title="AffectNet (8 classes)",
            face_crop="affectnet",
        ),
        Task(
            name="affectnet_va",
            model_name="faer_affectnet_va",
            dataset="affectnet",
            dataset_config="va",
            label_names=AFFECTNET_VA_LABELS,
            kind="va",
            dataset_title="AffectNet (valence and arousal)",
            face_crop="affectnet",
        ),
    )
}


def _pretrained_cfg(model: Any) -> dict[str, Any]:
    return getattr(model, "pretrained_cfg", None) or {}


def kind_of_model(model: Any, multi_label: bool | None = None) -> Kind:
    """What a model's outputs are: its task's kind, else the ``problem_type`` its config declares,
    else single-label classes. ``multi_label`` forces sigmoid (True) or softmax (False) scores."""
    if multi_label is not None:
        return KINDS["fae" if multi_label else "fer"]
    task = Task.from_model(model)
    if task is not None:
        return task.spec
    return kind_of_config(_pretrained_cfg(model))


def kind_of_config(config: Mapping[str, Any]) -> Kind:
    """What the outputs of a model with this config are (an export's ``config.json``, a pretrained
    config): its FAER task's kind (``faer_task``), else the kind of the ``problem_type`` it
    declares, else single-label classes."""
    task = config.get("faer_task")
    if isinstance(task, str) and task in TASKS:
        return TASKS[task].spec
    problem_type = config.get("problem_type")
    if isinstance(problem_type, str) and problem_type in PROBLEM_TYPE_KINDS:
        return PROBLEM_TYPE_KINDS[problem_type]
    return KINDS["fer"]


# Label names count only if they name each output once: weights recording others are refused; other models get class_<i>.


def label_name_problems(labels: Sequence[Any] | None, num_classes: Any, where: str) -> list[str]:
    """What is wrong with ``labels`` as the names of ``num_classes`` outputs, each problem naming
    ``where``; empty when they name every output once (or there are none to check). The one check
    of label names wherever they come from (an export's or a Hub repo's config.json, a model's
    pretrained config): a duplicate would merge two outputs' probabilities."""
    if labels is None:
        return []
    problems = []
    if isinstance(num_classes, int) and len(labels) != num_classes:
        problems.append(f"{where}: {len(labels)} label_names but num_classes = {num_classes}")
    if not all(isinstance(name, str) and name.strip() for name in labels):
        problems.append(f"{where}: label_names must be non-empty strings")
    else:
        seen: set[str] = set()
        duplicates = sorted({name for name in labels if name in seen or seen.add(name)})
        if duplicates:
            problems.append(f"{where}: label_names repeat {', '.join(repr(d) for d in duplicates[:5])}; each output "
                            "needs its own name")
    return problems


def label_names_of_model(model: Any) -> list[str]:
    """Label names of a model's outputs: its config's when they name every output once, else
    ``class_<i>`` (no names, or names registered for a head of another size)."""
    names = list(_pretrained_cfg(model).get("label_names") or [])
    n = model.num_classes
    if names and not label_name_problems(names, n, "label_names"):
        return names
    return [f"class_{i}" for i in range(n)]


def get_kind(name: str) -> Kind:
    """Look a task kind up by name, with an error listing the valid names."""
    if name not in KINDS:
        raise ValueError(f"unknown task kind {name!r}; expected one of {', '.join(KINDS)}")
    return KINDS[name]


def get_task(name: str) -> Task:
    """Look a task up by name, with an error listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
