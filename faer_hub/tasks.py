"""The four tasks FAER is trained for, described once.

A :class:`Task` ties a dataset (and its builder config) to its label vocabulary, the
timm model name users ask for, and the results the paper reports. Models, datasets,
training, metrics and model cards all look tasks up here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .labels import AFFECTNET7_LABELS, AFFECTNET8_LABELS, CELEBA_ATTRIBUTES, RAFDB_LABELS


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
    multi_label: bool
    dataset_title: str
    dataset_url: str
    paper_accuracy: float | None = None
    """Mean (attribute) accuracy the paper reports for full FAER, in percent."""
    paper_class_accuracy: dict[str, float] = field(default_factory=dict)
    """Class-wise accuracy the paper reports (Table 5), in percent."""
    face_crop: str | None = None
    """How the dataset's faces were cut (a :data:`faer_hub.faces.align.PROTOCOLS` name)."""

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def kind(self) -> str:
        """``'fae'`` (facial attribute estimation) or ``'fer'`` (expression recognition)."""
        return "fae" if self.multi_label else "fer"


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task(
            name="celeba",
            model_name="faer_celeba",
            dataset="celeba",
            dataset_config=None,
            label_names=CELEBA_ATTRIBUTES,
            multi_label=True,
            dataset_title="CelebA",
            dataset_url="https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            paper_accuracy=91.87,
            face_crop="celeba",
        ),
        Task(
            name="rafdb",
            model_name="faer_raf",
            dataset="rafdb",
            dataset_config=None,
            label_names=RAFDB_LABELS,
            multi_label=False,
            dataset_title="RAF-DB (basic)",
            dataset_url="http://www.whdeng.cn/raf/model1.html",
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
            multi_label=False,
            dataset_title="AffectNet (7 classes)",
            dataset_url="http://mohammadmahoor.com/affectnet/",
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
            multi_label=False,
            dataset_title="AffectNet (8 classes)",
            dataset_url="http://mohammadmahoor.com/affectnet/",
            face_crop="affectnet",
        ),
    )
}


def get_task(name: str) -> Task:
    """Look a task up by name, with an error listing the valid names."""
    try:
        return TASKS[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}") from None
