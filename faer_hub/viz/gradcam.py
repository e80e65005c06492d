"""Grad-CAM for FAER models, built on the ``grad-cam`` package (pytorch-grad-cam).

By default the map is taken at the output of CC Attention (``model.cca``), the block FAER adds;
any layer can be chosen by its dotted name (``stages.2``, ``stages.3.blocks.2``...). The target is
a class or attribute (name or index) or, by default, the predicted one. :func:`cam_grid` draws
the paper's Fig. 5-6 layout: the inputs on the first row, then one row per model or target.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..io import atomic_path, output_name, read_image
from ..tasks import activate, kind_of_model, label_names_of_model

DEFAULT_LAYER = "cca"


@dataclass
class CamResult:
    """One Grad-CAM map for one image and one target."""

    image: np.ndarray
    """The model's view of the input: float RGB in [0, 1], (H, W, 3), after resize/crop."""
    cam: np.ndarray
    """Grad-CAM map in [0, 1], (H, W), aligned with ``image``."""
    target_index: int
    target_label: str
    score: float
    """The model's probability for the target (sigmoid for attributes, softmax for classes), or
    its value in [-1, 1] for valence/arousal models."""
    layer: str

    @property
    def overlay(self) -> np.ndarray:
        """uint8 RGB heat-map overlay."""
        from pytorch_grad_cam.utils.image import show_cam_on_image

        return show_cam_on_image(self.image.astype(np.float32), self.cam, use_rgb=True, image_weight=0.5)

    def peak(self) -> tuple[int, int]:
        """``(x, y)`` of the map's maximum, in pixels of :attr:`image`."""
        y, x = np.unravel_index(int(np.argmax(self.cam)), self.cam.shape)
        return int(x), int(y)


def get_layer(model: torch.nn.Module, name: str = DEFAULT_LAYER) -> torch.nn.Module:
    """The sub-module called ``name`` (dotted path), with the valid names in the error."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        top = ", ".join(n for n, _ in model.named_children())
        raise ValueError(
            f"model {type(model).__name__} has no layer {name!r}; top-level layers: {top} "
            "(use dotted names for nested ones, e.g. stages.3)"
        ) from None


def target_index(model: torch.nn.Module, target: str | int) -> int:
    """Output index of a class/attribute name (case-insensitive) or index."""
    labels = label_names_of_model(model)
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        index = int(target)
        if not 0 <= index < len(labels):
            raise ValueError(f"target index {index} out of range: the model has {len(labels)} outputs")
        return index
    lowered = [name.lower() for name in labels]
    if target.lower() not in lowered:
        raise ValueError(f"unknown target {target!r}; the model's labels are: {', '.join(labels)}")
    return lowered.index(target.lower())


def _transforms(model: torch.nn.Module):
    """(normalising transform, transform to the model's view as floats in [0, 1]), as in evaluation."""
    from ..data.transforms import build_transform, resolve_data_config

    config = resolve_data_config(model)
    normalise = build_transform(config)
    uint8_view = build_transform(config, normalize=False)
    return normalise, lambda image: uint8_view(image).float() / 255.0


def compute_cams(
    model: torch.nn.Module,
    images: Sequence[Image.Image | str | os.PathLike],
    *,
    targets: Sequence[str | int | None] | str | int | None = None,
    layer: str = DEFAULT_LAYER,
    multi_label: bool | None = None,
    batch_size: int = 16,
    device: str | torch.device | None = None,
) -> list[CamResult]:
    """Grad-CAM maps for ``images`` (PIL images or paths), one per image.

    ``targets``: one for all images or one per image; each a label name, an index, or ``None``
    for the predicted class (for attribute models: the attribute with the highest logit).
    ``multi_label`` picks sigmoid or softmax scores (default: from the model's task).
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    if not isinstance(targets, Sequence) or isinstance(targets, str):
        targets = [targets] * len(images)
    if len(targets) != len(images):
        raise ValueError(f"{len(targets)} targets for {len(images)} images")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.eval().to(device)
    normalise, view = _transforms(model)
    pil = [read_image(im) for im in images]
    x = torch.stack([normalise(im) for im in pil]).to(device)
    shapes: list[tuple[int, ...]] = []
    hook = get_layer(model, layer).register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape)))
    try:
        with torch.no_grad():
            logits = torch.cat([model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)])
    finally:
        hook.remove()
    if shapes and len(shapes[0]) != 4:
        raise ValueError(f"layer {layer!r} gives outputs of shape {list(shapes[0])}, not a feature map (N, C, H, W); "
                         "Grad-CAM needs a spatial layer, such as cca (the default) or stages.3")
    probs = activate(logits, kind_of_model(model, multi_label))
    indices = [int(logits[i].argmax()) if t is None else target_index(model, t) for i, t in enumerate(targets)]
    labels = label_names_of_model(model)
    maps = []
    with GradCAM(model=model, target_layers=[get_layer(model, layer)]) as cam:
        for start in range(0, len(x), batch_size):
            chunk = slice(start, start + batch_size)
            maps.extend(cam(input_tensor=x[chunk], targets=[ClassifierOutputTarget(i) for i in indices[chunk]]))
    return [
        CamResult(
            image=view(im).permute(1, 2, 0).numpy().clip(0, 1),
            cam=np.nan_to_num(maps[k]).astype(np.float32),
            target_index=indices[k],
            target_label=labels[indices[k]],
            score=float(probs[k, indices[k]]),
            layer=layer,
        )
        for k, im in enumerate(pil)
    ]


def save_overlays(results: Sequence[CamResult], out_dir: str | os.PathLike, names: Sequence[str]) -> list[Path]:
    """Save each overlay as ``<name>.png`` in ``out_dir`` (atomically); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for result, name in zip(results, names, strict=True):
        path = out / f"{name}.png"
        with atomic_path(path) as tmp:
            Image.fromarray(result.overlay).save(tmp, format="PNG")
        paths.append(path)
    return paths


def cam_grid(
    rows: Mapping[str, Sequence[CamResult]],
    *,
    column_titles: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    cell_size: float = 2.0,
):
    """Paper Fig. 5-6 layout: first row the inputs, then one row of overlays per entry of ``rows``.

    ``rows`` maps a row title (a model, or a target) to one :class:`CamResult` per column; all
    rows must share the same input images. Each overlay is captioned with its target and score.
    """
    from .figures import pyplot, save_figure

    plt = pyplot()
    row_items = list(rows.items())
    if not row_items:
        raise ValueError("cam_grid needs at least one row of results")
    n_cols = len(row_items[0][1])
    if any(len(results) != n_cols for _, results in row_items):
        raise ValueError("every row of cam_grid needs one result per column")
    fig, axes = plt.subplots(len(row_items) + 1, n_cols, figsize=(cell_size * n_cols, cell_size * (len(row_items) + 1)),
                             squeeze=False)
    for c, result in enumerate(row_items[0][1]):
        axes[0, c].imshow(result.image)
        if column_titles:
            axes[0, c].set_title(column_titles[c], fontsize=8)
    axes[0, 0].set_ylabel("input", fontsize=9)
    for r, (title, results) in enumerate(row_items, start=1):
        for c, result in enumerate(results):
            axes[r, c].imshow(result.overlay)
            axes[r, c].set_xlabel(f"{result.target_label.replace('_', ' ')} {result.score:.2f}", fontsize=7)
        axes[r, 0].set_ylabel(title, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def face_crops(model: torch.nn.Module, images: Sequence[Image.Image | str | os.PathLike], *,
               detector: Callable[[Image.Image], list] | None = None) -> list[Image.Image]:
    """The largest face of each image, cut with the model's face-crop protocol (as predict cuts it)."""
    from ..faces import align_face, detect_faces, protocol_of_model

    protocol = protocol_of_model(model) or "box"
    crops = []
    for image in images:
        decoded = read_image(image)
        faces = detector(decoded) if detector is not None else detect_faces(decoded)
        if not faces:
            name = image if not isinstance(image, Image.Image) else "image"
            raise ValueError(f"{name}: no face detected; pass --no-detect for images that already are face crops")
        crops.append(align_face(decoded, faces[0], protocol))
    return crops


def cam_report(
    sources: Sequence[str],
    images: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    targets: Sequence[str | int] | None = None,
    layer: str = DEFAULT_LAYER,
    pretrained: bool = False,
    detect_faces: bool = True,
) -> Path:
    """Overlays for every (model source, target) pair and their grid, written to ``out_dir``.

    One grid row per model (several models) or per target (several targets), one column per
    image; overlays are named ``<image stem>__<row>.png``. Returns the grid's path.
    ``detect_faces``: explain the largest face of each image, cut as :mod:`faer_hub.inference.predict`
    cuts it; False explains whole images (already aligned crops).
    """
    from ..hub.sources import create_model_from_source

    out = Path(out_dir)
    stems = [Path(image).stem for image in images]
    # a stem two inputs share (a/face.jpg, b/face.jpg) gets its path's hash, so no overlay replaces another
    stems = [output_name(str(image), None, "") if stems.count(stem) > 1 else stem for image, stem in zip(images, stems)]
    rows: dict[str, list[CamResult]] = {}
    for source in sources:
        model = create_model_from_source(source, pretrained=pretrained)
        for target in targets or [None]:
            if target is None:
                title = source
            else:
                title = f"{source}: {target}" if len(sources) > 1 else str(target)
            if title in rows:  # the same model or target given twice
                title = f"{title} ({sum(t.startswith(title) for t in rows) + 1})"
            inputs = face_crops(model, images) if detect_faces else list(images)
            rows[title] = compute_cams(model, inputs, targets=target, layer=layer)
            slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in title)
            save_overlays(rows[title], out, [f"{stem}__{slug}" for stem in stems])
    cam_grid(rows, column_titles=[Path(image).name for image in images], path=out / "grid.png")
    return out / "grid.png"
