"""Generated faces, written in the real datasets' official on-disk formats so the same builders
read both: drawing one face (:mod:`.render`) and writing whole datasets (:mod:`.write`)."""

from .render import FaceSpec, random_face_spec, render_face
from .write import write_synthetic

__all__ = ["FaceSpec", "random_face_spec", "render_face", "write_synthetic"]
