"""FER metrics: accuracy, per-class accuracy, balanced accuracy, macro F1, confusion matrix."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import balanced_accuracy_score, confusion_matrix, f1_score

_DESCRIPTION = """
Single-label expression recognition metrics as fractions in [0, 1]: overall accuracy, the
accuracy of each class (its recall: papers' "class-wise accuracy"), balanced accuracy (mean of
the class accuracies), macro F1, and the confusion matrix (rows: true class, columns: predicted).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted class ids.
    references (list of int): true class ids.
    label_names (list of str, optional): class names; class accuracy is keyed by them.
        Without them, by the class id as a string.
    num_classes (int, optional): number of classes (defaults to len(label_names), else
        1 + the largest id seen).
Returns:
    accuracy, balanced_accuracy, macro_f1 (fractions), class_accuracy
    ({name: fraction, or None when the class has no sample}), confusion_matrix (list of lists),
    num_samples (int), label_names (list of str).
Example:
    >>> m = evaluate.load("faer_hub/evaluation/metrics/fer_accuracy")
    >>> m.compute(predictions=[0, 1, 1], references=[0, 1, 0], label_names=["a", "b"])["accuracy"]
    0.6666666666666666
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class FerAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}
            ),
        )

    def _compute(self, predictions, references, label_names=None, num_classes=None):
        y_pred = np.asarray(predictions, dtype=np.int64)
        y_true = np.asarray(references, dtype=np.int64)
        if num_classes is None:
            seen = int(max(y_pred.max(initial=-1), y_true.max(initial=-1))) + 1
            num_classes = len(label_names) if label_names is not None else seen
        if label_names is None:
            label_names = [str(i) for i in range(num_classes)]
        if len(label_names) != num_classes:
            raise ValueError(f"{len(label_names)} label names for {num_classes} classes")
        for name, ids in (("predictions", y_pred), ("references", y_true)):
            if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
                raise ValueError(f"{name} hold ids outside 0..{num_classes - 1}")
        labels = list(range(num_classes))
        cm = confusion_matrix(y_true, y_pred, labels=labels)
        support = cm.sum(axis=1)
        per_class = {
            str(name): float(cm[i, i] / support[i]) if support[i] else None
            for i, name in enumerate(label_names)
        }
        present = support > 0
        return {
            "accuracy": float((y_pred == y_true).mean()) if y_true.size else None,
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred))
            if present.any() else None,
            "macro_f1": float(
                f1_score(y_true, y_pred, labels=[i for i in labels if present[i]],
                         average="macro", zero_division=0)
            ) if present.any() else None,
            "class_accuracy": per_class,
            "confusion_matrix": cm.tolist(),
            "num_samples": int(y_true.size),
            "label_names": [str(n) for n in label_names],
        }
