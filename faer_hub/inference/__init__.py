"""Using trained models on new pictures: photos and videos to per-face answers (:mod:`.predict`,
streamed jobs :mod:`.run`, rows :mod:`.output`, checks :mod:`.preflight`, :mod:`.video`,
:mod:`.annotate`) and ONNX export (:mod:`.onnx_export`).
"""

from .predict import Analyzer, Prediction, PredictionReport, Predictor, analyze, predict

__all__ = ["Analyzer", "Prediction", "PredictionReport", "Predictor", "analyze", "predict"]
