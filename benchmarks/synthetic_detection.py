"""How often MTCNN (facenet-pytorch, default settings, as ``faer-hub predict``) finds a generated face.

Draws ``--faces`` in-the-wild photos per dataset style exactly as ``faer-hub synth`` draws them
(RAF-DB and AffectNet: the expressions in turn, with their nuisance; CelebA: its attribute mix)
and reports the share in which a face was found, per dataset and per expression. The photos are
searched as ``faer-hub predict`` searches them: ``detect_batch`` on windows of
:data:`faer_hub.inference.predict.DETECT_WINDOW` consecutive photos.

    OMP_NUM_THREADS=1 python benchmarks/synthetic_detection.py --faces 120
"""

from __future__ import annotations

import argparse
from collections import Counter


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from faer_hub.data.synthetic.render import EXPRESSION_PARTS, random_face_spec
    from faer_hub.data.synthetic.write import FER_NUISANCE, draw_photo
    from faer_hub.faces.detect import MTCNNDetector
    from faer_hub.inference.predict import DETECT_WINDOW

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=120, help="photos per dataset style")
    parser.add_argument("--datasets", nargs="+", default=["rafdb", "celeba", "affectnet"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    detector = MTCNNDetector()
    expressions = list(EXPRESSION_PARTS)
    for dataset in args.datasets:
        found, total = Counter(), Counter()
        window: list[tuple[str, object]] = []
        for i in range(args.faces):
            rng = np.random.default_rng([args.seed, 100, i])
            if dataset == "celeba":
                kind = "celeba"
                spec = random_face_spec(rng)
            else:
                kind = expressions[i % len(expressions)]
                spec = random_face_spec(rng, expression=kind, **FER_NUISANCE)
            photo = draw_photo(spec, np.random.default_rng([args.seed, 101, i]), dataset)
            total[kind] += 1
            window.append((kind, photo.image))
            if len(window) == DETECT_WINDOW or i == args.faces - 1:
                for (drawn, _), faces in zip(window, detector.detect_batch([image for _, image in window])):
                    found[drawn] += bool(faces)
                window.clear()
        share = sum(found.values()) / sum(total.values())
        detail = ", ".join(f"{k} {found[k]}/{total[k]}" for k in total) if dataset != "celeba" else ""
        print(f"{dataset}: {sum(found.values())}/{sum(total.values())} faces found ({100 * share:.1f} %)"
              + (f"  [{detail}]" if detail else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
