"""FAE metrics: mean attribute accuracy and the accuracy of every attribute."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = """
Multi-label facial attribute metrics as fractions in [0, 1]: the accuracy of each binary
attribute (predicted 0/1 against true 0/1) and their mean, the figure CelebA papers report.
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of int): per sample, a 0/1 prediction for every attribute.
    references (list of list of int): per sample, the true 0/1 value of every attribute.
    label_names (list of str, optional): attribute names; class_accuracy is keyed by them
        (by the attribute index as a string without them).
Returns:
    mean_accuracy (fraction), class_accuracy ({attribute name: fraction}),
    num_samples (int), label_names (list of str).
Example:
    >>> m = evaluate.load("faer_hub/evaluation/metrics/fae_accuracy")
    >>> m.compute(predictions=[[1, 0]], references=[[1, 1]], label_names=["a", "b"])["mean_accuracy"]
    0.5
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class FaeAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int8")),
                    "references": datasets.Sequence(datasets.Value("int8")),
                }
            ),
        )

    def _compute(self, predictions, references, label_names=None):
        y_pred = np.asarray(predictions, dtype=np.int64)
        y_true = np.asarray(references, dtype=np.int64)
        if y_pred.shape != y_true.shape or y_pred.ndim != 2:
            raise ValueError(
                f"predictions {y_pred.shape} and references {y_true.shape} must both be "
                "(num_samples, num_attributes)"
            )
        if not np.isin(y_pred, (0, 1)).all() or not np.isin(y_true, (0, 1)).all():
            raise ValueError("attribute values must be 0 or 1")
        num_attributes = y_true.shape[1]
        if label_names is None:
            label_names = [str(i) for i in range(num_attributes)]
        if len(label_names) != num_attributes:
            raise ValueError(f"{len(label_names)} names for {num_attributes} attributes")
        per_attribute = (y_pred == y_true).mean(axis=0)
        return {
            "mean_accuracy": float(per_attribute.mean()),
            "class_accuracy": {
                str(n): float(a) for n, a in zip(label_names, per_attribute)
            },
            "num_samples": int(y_true.shape[0]),
            "label_names": [str(n) for n in label_names],
        }
