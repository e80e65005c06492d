"""Using trained models on new pictures: photos and videos to predictions (:mod:`.predict`,
:mod:`.video`) and ONNX export (:mod:`.onnx_export`).
"""

from .predict import Prediction, PredictionReport, Predictor, predict

__all__ = ["Prediction", "PredictionReport", "Predictor", "predict"]
