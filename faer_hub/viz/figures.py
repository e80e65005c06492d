"""Result figures: class-wise accuracy bars (paper Fig. 4 style), FER confusion matrices, and
valence-arousal scatters of predictions against labels.

Values are fractions in [0, 1] (as :func:`faer_hub.evaluation.loop.evaluate_model` returns them) and
are drawn in percent. Comparison series (for example the paper's Table 5, via
:func:`paper_series`) are drawn next to the measured bars, labelled with their source.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..io import atomic_path
from ..tasks import Task, get_task

PAPER_LABEL = "FAER, reported by the paper"
MEAN_LABEL = "Mean"


def pyplot():
    """matplotlib's pyplot on a file backend (Agg) unless a notebook's inline backend is active;
    imported on first use so nothing else pays for matplotlib."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def paper_series(task: Task | str) -> dict[str, float]:
    """The paper's class-wise accuracy of FAER for ``task`` (fractions), plus its mean under ``'Mean'``.

    Read from :mod:`faer_hub.tasks` (the single source); empty when the paper reports nothing.
    """
    task = get_task(task) if isinstance(task, str) else task
    series = {label: acc / 100 for label, acc in task.paper_class_accuracy.items()}
    if task.paper_accuracy is not None:
        series[MEAN_LABEL] = task.paper_accuracy / 100
    return series


def plot_class_accuracy(
    class_accuracy: Mapping[str, float],
    *,
    label_names: Sequence[str] | None = None,
    series_name: str = "measured",
    comparison: Mapping[str, Mapping[str, float]] | None = None,
    mean: float | None = None,
    panels: int | None = None,
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    path: str | os.PathLike | None = None,
):
    """Grouped bars of class-wise accuracy with a final "Mean" group; returns the figure.

    Args:
        class_accuracy: label -> accuracy (fraction) of the measured model.
        label_names: Order of the bars (default: the order of ``class_accuracy``).
        series_name: Legend label of the measured bars.
        comparison: Extra series, name -> {label -> fraction}; missing labels are left empty.
            A value under ``'Mean'`` is drawn in the mean group.
        mean: Mean shown in the last group (default: mean of ``class_accuracy``).
        panels: Number of stacked panels (default: 2 for more than 20 labels, like the paper's
            Fig. 4a/4b for CelebA's 40 attributes; else 1).
        ylim: y-axis range in percent (default: from the data, at most 0-100).
        path: Save as PNG here (atomically) when given.
    """
    plt = pyplot()
    labels = list(label_names or class_accuracy)
    missing = [name for name in labels if name not in class_accuracy]
    if missing:
        raise KeyError(f"class_accuracy has no value for {missing}")
    mean = float(np.mean([class_accuracy[name] for name in labels])) if mean is None else mean
    series = {series_name: {**{k: class_accuracy[k] for k in labels}, MEAN_LABEL: mean}}
    series.update({name: dict(values) for name, values in (comparison or {}).items()})
    groups = labels + [MEAN_LABEL]
    panels = panels or (2 if len(labels) > 20 else 1)
    per_panel = math.ceil(len(groups) / panels)

    values = [100 * v for s in series.values() for v in s.values() if v is not None and not math.isnan(v)]
    if ylim is None:
        low = max(0.0, math.floor((min(values) - 5) / 10) * 10) if values else 0.0
        ylim = (low, 100.0)
    width = 0.8 / len(series)
    fig, axes = plt.subplots(panels, 1, figsize=(max(6.0, 0.55 * per_panel + 2), 3.6 * panels), squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for p, ax in enumerate(axes[:, 0]):
        chunk = groups[p * per_panel:(p + 1) * per_panel]
        x = np.arange(len(chunk))
        for i, (name, vals) in enumerate(series.items()):
            heights = [100 * vals[g] if vals.get(g) is not None else np.nan for g in chunk]
            ax.bar(x + (i - (len(series) - 1) / 2) * width, heights, width, label=name,
                   color=colors[i % len(colors)], edgecolor="black", linewidth=0.4)
        ax.set_xticks(x, [g.replace("_", " ") for g in chunk], rotation=45, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(chunk) - 0.4)
        ax.set_ylim(*ylim)
        ax.set_ylabel("accuracy (%)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        if MEAN_LABEL in chunk:
            ax.axvline(chunk.index(MEAN_LABEL) - 0.5, color="gray", linewidth=0.8, linestyle="--")
    handles, names = axes[0, 0].get_legend_handles_labels()
    top = 1.0
    if title:
        fig.suptitle(title, y=0.995)
        top -= 0.06 / panels
    fig.legend(handles, names, loc="upper center", bbox_to_anchor=(0.5, top), ncol=len(series), frameon=False,
               fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, top - 0.035 / panels))
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_confusion_matrix(
    confusion: Sequence[Sequence[int]] | np.ndarray,
    label_names: Sequence[str],
    *,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Row-normalised confusion matrix (rows: true class, each row sums to 1), counts kept per cell."""
    plt = pyplot()
    from sklearn.metrics import ConfusionMatrixDisplay

    counts = np.asarray(confusion, dtype=np.int64)
    n = len(label_names)
    if counts.shape != (n, n):
        raise ValueError(f"confusion matrix has shape {counts.shape}, expected ({n}, {n}) for {n} labels")
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * n, 0.8 + 0.7 * n))
    ConfusionMatrixDisplay(normalised, display_labels=list(label_names)).plot(
        ax=ax, cmap="Blues", values_format=".2f", colorbar=True, xticks_rotation=45, im_kw=dict(vmin=0, vmax=1))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_va_scatter(
    predictions: Sequence[Sequence[float]] | np.ndarray,
    references: Sequence[Sequence[float]] | np.ndarray,
    *,
    label_names: Sequence[str] = ("valence", "arousal"),
    metrics: Mapping | None = None,
    max_links: int = 400,
    title: str | None = None,
    path: str | os.PathLike | None = None,
):
    """Valence-arousal predictions against labels: the circumplex plane with each label linked to
    its prediction (at most ``max_links`` links, evenly chosen), and one predicted-vs-labelled
    scatter per dimension with the identity line and, when ``metrics`` (of the ``va_regression``
    metric) are given, the dimension's CCC and RMSE in its title."""
    plt = pyplot()
    pred = np.asarray(predictions, dtype=float)
    true = np.asarray(references, dtype=float)
    if pred.shape != true.shape or pred.ndim != 2 or pred.shape[1] != 2 or not len(pred):
        raise ValueError(f"predictions {pred.shape} and references {true.shape} must both be (N > 0, 2)")
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.6))
    plane = axes[0]
    links = np.linspace(0, len(pred) - 1, min(max_links, len(pred))).round().astype(int)
    for i in np.unique(links):
        plane.plot([true[i, 0], pred[i, 0]], [true[i, 1], pred[i, 1]], color="gray", linewidth=0.4, alpha=0.5)
    plane.scatter(true[:, 0], true[:, 1], s=12, label="label", color="tab:blue", alpha=0.7)
    plane.scatter(pred[:, 0], pred[:, 1], s=12, marker="x", label="prediction", color="tab:orange", alpha=0.8)
    plane.axhline(0, color="black", linewidth=0.5)
    plane.axvline(0, color="black", linewidth=0.5)
    plane.set_xlabel(label_names[0])
    plane.set_ylabel(label_names[1])
    plane.set_title(f"{len(pred)} faces: label -> prediction")
    plane.legend(loc="lower right", fontsize=8)
    for d, ax in enumerate(axes[1:]):
        name = label_names[d]
        ax.scatter(true[:, d], pred[:, d], s=10, alpha=0.6)
        ax.plot([-1, 1], [-1, 1], color="black", linewidth=0.8, linestyle="--", label="prediction = label")
        ax.set_xlabel(f"{name} (label)")
        ax.set_ylabel(f"{name} (prediction)")
        ccc, rmse = (metrics or {}).get(f"ccc_{name}"), (metrics or {}).get(f"rmse_{name}")
        ax.set_title(name + (f": CCC {ccc:.3f}, RMSE {rmse:.3f}" if ccc is not None and rmse is not None else ""))
        ax.legend(loc="upper left", fontsize=8)
    for ax in axes:
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path: str | os.PathLike, *, dpi: int = 110) -> Path:
    """Save ``fig`` as PNG through a temporary file, then close it."""
    plt = pyplot()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return path


def figures_for_metrics(
    metrics: Mapping,
    task: Task | str,
    out_dir: str | os.PathLike,
    *,
    compare_paper: bool = True,
    series_name: str = "measured",
    predictions: Sequence | None = None,
    references: Sequence | None = None,
) -> list[Path]:
    """Write the figures for an evaluation result: class-wise bars, and a confusion matrix for FER;
    for valence/arousal the scatter of ``predictions`` against ``references`` (``va_scatter.png``)."""
    task = get_task(task) if isinstance(task, str) else task
    out = Path(out_dir)
    if task.regression:
        if predictions is None or references is None:
            raise ValueError("valence/arousal figures need the predictions and references (evaluate_model("
                             "..., return_predictions=True))")
        return [save_figure(plot_va_scatter(
            predictions, references, label_names=task.label_names, metrics=metrics,
            title=task.dataset_title,
        ), out / "va_scatter.png")]
    paper = paper_series(task) if compare_paper else {}
    primary = metrics.get("mean_accuracy", metrics.get("accuracy"))
    written = [
        save_figure(plot_class_accuracy(
            metrics["class_accuracy"], label_names=task.label_names, series_name=series_name,
            comparison={PAPER_LABEL: paper} if paper else None, mean=primary,
            title=f"Class-wise accuracy, {task.dataset_title}",
        ), out / "class_accuracy.png")
    ]
    if not task.multi_label and metrics.get("confusion_matrix") is not None:
        written.append(save_figure(plot_confusion_matrix(
            metrics["confusion_matrix"], task.label_names,
            title=f"Confusion matrix (row-normalised), {task.dataset_title}",
        ), out / "confusion_matrix.png"))
    return written
