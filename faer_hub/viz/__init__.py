"""Visual explanations and result figures: Grad-CAM (:mod:`.gradcam`) and plots (:mod:`.figures`)."""

from .figures import figures_for_metrics, paper_series, plot_class_accuracy, plot_confusion_matrix

__all__ = ["figures_for_metrics", "paper_series", "plot_class_accuracy", "plot_confusion_matrix"]
