"""``image -> face crop`` as one callable, for loaders that evaluate on raw photos."""

from __future__ import annotations

from typing import Any, Callable

from PIL import Image

from .align import PROTOCOLS, ProtocolLike, align_face, resolve_protocol


class FaceCropper:
    """The largest face of an image, cut with ``protocol``; the whole image when none is found.

    The detector (MTCNN by default) is built on first use, so the cropper can be sent to
    DataLoader worker processes before that.
    """

    def __init__(self, protocol: ProtocolLike, *, detector: Callable[[Image.Image], list] | None = None) -> None:
        self.protocol = resolve_protocol(protocol) or PROTOCOLS["box"]
        self.detector: Any = detector

    def __call__(self, image: Image.Image) -> Image.Image:
        if self.detector is None:
            from .detect import MTCNNDetector

            self.detector = MTCNNDetector()
        faces = self.detector(image)
        return align_face(image, faces[0], self.protocol) if faces else image
