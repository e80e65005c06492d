"""The tasks FAER is trained for, described once.

A :class:`Task` ties a dataset (and its builder config) to its label vocabulary, the
timm model name users ask for, and the results the paper reports. Models, datasets,
training, metrics and model cards all look tasks up here.

A task's :attr:`Task.kind` (:data:`KINDS`) is the one place that knows what the outputs are:
one class among several (``'fer'``), independent attributes (``'fae'``) or continuous values
(``'va'``, valence and arousal). Code that must act differently per kind asks the task
(:meth:`Task.activate`, :meth:`Task.predictions`, :attr:`Task.problem_type`, ...) instead of
deciding again; for a model, :meth:`Task.from_model`, :func:`kind_of_model` and
:func:`label_names_of_model` read what its pretrained config says.

The datasets (:data:`DATASETS`: title, download page, terms of use) and their label vocabularies
are described here too, so builders, model configs, ``ClassLabel`` features, metrics, cards and
publishing can never disagree. This module imports nothing heavy (no torch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
class Kind:
    """What a task's outputs are, and everything that follows from it."""

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

    @property
    def multi_label(self) -> bool:
        """Independent attributes (sigmoid per output)."""
        return self.problem_type == "multi_label_classification"

    @property
    def regression(self) -> bool:
        """Continuous outputs (valence, arousal), used as they are."""
        return self.problem_type == "regression"


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("fer", "facial expression recognition", "single_label_classification", "softmax",
             "fer_accuracy", ("accuracy", "balanced_accuracy", "macro_f1"), True),
        Kind("fae", "facial attribute estimation", "multi_label_classification", "sigmoid",
             "fae_accuracy", ("mean_accuracy",), True),
        Kind("va", "valence and arousal estimation", "regression", "clip",
             "va_regression", ("ccc", "ccc_valence", "ccc_arousal", "pcc", "sagr"), False),
    )
}
"""The task kinds; :attr:`Task.kind` is a key."""

PROBLEM_TYPE_KINDS = {k.problem_type: k for k in KINDS.values()}
"""Kind by transformers problem type (for models whose task is unknown but whose config says it)."""


def activate(logits: Any, kind: Kind | str) -> Any:
    """Scores of a kind from raw outputs (a tensor): softmax, sigmoid, or values clipped to [-1, 1]."""
    kind = KINDS[kind] if isinstance(kind, str) else kind
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

        if self.kind == "fae":
            return (logits > 0).to(torch.int8)
        if self.kind == "fer":
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
    return PROBLEM_TYPE_KINDS.get(_pretrained_cfg(model).get("problem_type"), KINDS["fer"])


def label_names_of_model(model: Any) -> list[str]:
    """Label names of a model's outputs (``class_<i>`` when its config has none, or too few)."""
    names = list(_pretrained_cfg(model).get("label_names") or [])
    n = model.num_classes
    return names if len(names) == n else [f"class_{i}" for i in range(n)]


def get_task(name: str) -> Task:
    """Look a task up by name, with an error listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
