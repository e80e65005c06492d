"""Valence/arousal metrics: CCC, PCC, RMSE and SAGR per dimension, and their means."""

import datasets
import evaluate
import numpy as np
from scipy.stats import pearsonr
from sklearn.metrics import mean_squared_error

_DESCRIPTION = """
Continuous affect (valence and arousal, each in [-1, 1]) metrics, per dimension and averaged over
the dimensions: CCC, the concordance correlation coefficient (Lin 1989), in [-1, 1], higher is
better; PCC, Pearson's correlation, in [-1, 1]; RMSE, the root mean squared error, in the values'
units (0 is perfect); SAGR, the sign agreement (fraction of samples whose prediction has the
label's sign), in [0, 1]. These are the numbers AffectNet papers report (Mollahosseini et al. 2017).
CCC and PCC use population (1/n) moments; they are None where undefined (a constant series).
"""

_KWARGS_DESCRIPTION = """
Args:
    predictions (list of list of float): per sample, the predicted value of every dimension.
    references (list of list of float): per sample, the annotated value of every dimension.
    label_names (list of str, optional): dimension names (default "valence", "arousal" for two
        dimensions, else the index as a string).
Returns:
    ccc, pcc, rmse, sagr: means over the dimensions; ccc_<name>, pcc_<name>, rmse_<name>,
    sagr_<name> for every dimension; num_samples (int), label_names (list of str).
Example:
    >>> m = evaluate.load("faer_hub/evaluation/metrics/va_regression")
    >>> m.compute(predictions=[[0.5, 0.1], [-0.5, 0.2]], references=[[0.4, 0.0], [-0.6, 0.3]])["sagr_valence"]
    1.0
"""

METRICS = ("ccc", "pcc", "rmse", "sagr")


def concordance(pred: np.ndarray, true: np.ndarray) -> float | None:
    """Lin's concordance correlation coefficient 2 s_xy / (s_x^2 + s_y^2 + (mean_x - mean_y)^2).

    Written out: neither scipy nor scikit-learn has it."""
    dp, dt = pred - pred.mean(), true - true.mean()
    denominator = (dp**2).mean() + (dt**2).mean() + (pred.mean() - true.mean()) ** 2
    return float(2 * (dp * dt).mean() / denominator) if denominator > 0 else None


def pearson(pred: np.ndarray, true: np.ndarray) -> float | None:
    """scipy's Pearson correlation; None for a constant series, where it is undefined."""
    if np.ptp(pred) == 0 or np.ptp(true) == 0:
        return None
    return float(pearsonr(pred, true).statistic)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VaRegression(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=(
                "Lin, L. I.-K. (1989). A concordance correlation coefficient to evaluate reproducibility. "
                "Biometrics 45(1), 255-268."
            ),
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Sequence(datasets.Value("float64")),
                }
            ),
        )

    def _compute(self, predictions, references, label_names=None):
        y_pred = np.asarray(predictions, dtype=np.float64)
        y_true = np.asarray(references, dtype=np.float64)
        if y_pred.shape != y_true.shape or y_pred.ndim != 2 or y_pred.shape[0] == 0:
            raise ValueError(
                f"predictions {y_pred.shape} and references {y_true.shape} must both be "
                "(num_samples > 0, num_dimensions)"
            )
        if not (np.isfinite(y_pred).all() and np.isfinite(y_true).all()):
            raise ValueError("predictions and references must be finite numbers")
        dims = y_true.shape[1]
        if label_names is None:
            label_names = ["valence", "arousal"] if dims == 2 else [str(i) for i in range(dims)]
        if len(label_names) != dims:
            raise ValueError(f"{len(label_names)} names for {dims} dimensions")
        per_dim = {}
        for i, name in enumerate(label_names):
            p, t = y_pred[:, i], y_true[:, i]
            per_dim[str(name)] = {
                "ccc": concordance(p, t),
                "pcc": pearson(p, t),
                "rmse": float(np.sqrt(mean_squared_error(t, p))),
                "sagr": float((np.sign(p) == np.sign(t)).mean()),
            }
        out = {}
        for metric in METRICS:
            values = [d[metric] for d in per_dim.values()]
            out[metric] = None if any(v is None for v in values) else float(np.mean(values))
        for name, values in per_dim.items():
            out.update({f"{metric}_{name}": values[metric] for metric in METRICS})
        out["num_samples"] = int(y_true.shape[0])
        out["label_names"] = [str(n) for n in label_names]
        return out
