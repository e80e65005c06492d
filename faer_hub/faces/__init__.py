"""Faces in real photos: detection with five landmarks and each dataset's crop.

``detect_faces(image)`` finds faces (MTCNN, :mod:`.detect`; ``MTCNNDetector.detect_batch`` for many); ``align_face(image, face,
protocol)`` cuts one the way a model's training faces were cut (:mod:`.align`).
"""

from .align import PROTOCOLS, CropProtocol, align_face, protocol_of_model, resolve_protocol
from .cropper import FaceCropper
from .detect import LANDMARK_NAMES, Detection, MTCNNDetector, detect_faces, plausible_face

__all__ = [
    "LANDMARK_NAMES", "PROTOCOLS", "CropProtocol", "Detection", "FaceCropper", "MTCNNDetector", "align_face",
    "detect_faces", "plausible_face", "protocol_of_model", "resolve_protocol",
]
