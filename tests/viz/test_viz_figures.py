"""Result figures: paper-style class-wise bars and the normalised confusion matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from faer_hub.tasks import get_task
from faer_hub.viz.figures import (
    MEAN_LABEL, PAPER_LABEL, figures_for_metrics, paper_series, plot_class_accuracy, plot_confusion_matrix,
)


def _bars(ax, series_name):
    container = next(c for c in ax.containers if c.get_label() == series_name)
    return [b.get_height() for b in container]


def test_celeba_bars_two_panels_with_mean():
    task = get_task("celeba")
    acc = {name: 0.5 + i / 100 for i, name in enumerate(task.label_names)}
    fig = plot_class_accuracy(acc, label_names=task.label_names, mean=0.9,
                              comparison={PAPER_LABEL: paper_series(task)})
    top, bottom = fig.axes[:2]
    assert [t.get_text() for t in top.get_xticklabels()][:2] == ["5 o Clock Shadow", "Arched Eyebrows"]
    assert len(top.get_xticklabels()) == 21 and len(bottom.get_xticklabels()) == 20
    assert bottom.get_xticklabels()[-1].get_text() == MEAN_LABEL
    measured = _bars(top, "measured") + _bars(bottom, "measured")
    assert measured[:40] == pytest.approx([100 * acc[n] for n in task.label_names])
    assert measured[-1] == pytest.approx(90.0)
    paper = _bars(bottom, PAPER_LABEL)
    assert paper[-1] == pytest.approx(91.87) and all(math.isnan(h) for h in paper[:-1])


def test_fer_comparison_uses_the_papers_table():
    task = get_task("rafdb")
    acc = dict.fromkeys(task.label_names, 0.8)
    fig = plot_class_accuracy(acc, comparison={PAPER_LABEL: paper_series(task)})
    (ax,) = [a for a in fig.axes]
    heights = dict(zip([t.get_text() for t in ax.get_xticklabels()], _bars(ax, PAPER_LABEL)))
    assert heights["fear"] == pytest.approx(72.37) and heights[MEAN_LABEL] == pytest.approx(91.75)
    assert "reported by the paper" in fig.legends[0].get_texts()[1].get_text()


def test_missing_class_is_an_error():
    with pytest.raises(KeyError, match="fear"):
        plot_class_accuracy({"anger": 0.5}, label_names=["anger", "fear"])


def test_confusion_matrix_rows_normalised():
    counts = np.array([[8, 2, 0], [0, 0, 0], [1, 1, 2]])
    fig = plot_confusion_matrix(counts, ["a", "b", "c"])
    image = fig.axes[0].images[0].get_array()
    assert np.allclose(image[0], [0.8, 0.2, 0.0]) and np.allclose(image[1], 0) and np.allclose(image[2].sum(), 1)
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        plot_confusion_matrix(counts, ["a", "b"])


def test_figures_for_metrics_writes_pngs(tmp_path):
    task = get_task("rafdb")
    metrics = {"accuracy": 0.5, "class_accuracy": dict.fromkeys(task.label_names, 0.5),
               "confusion_matrix": (np.eye(7, dtype=int) * 3).tolist()}
    paths = figures_for_metrics(metrics, task, tmp_path)
    assert [p.name for p in paths] == ["class_accuracy.png", "confusion_matrix.png"]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.width > 300
    assert not list(tmp_path.glob(".*"))
