"""Register the FAER models with timm without importing torch at ``import faer_hub``.

``import faer_hub`` must make ``timm.create_model('faer_raf')`` work, and ``faer-hub --help`` must
answer in well under a second. So the registration (importing :mod:`faer_hub.models.faer`) happens when
timm itself is imported: at once if it already is, else right after ``import timm`` finishes.

The hook is an import finder that wraps timm's loader. It stays on ``sys.meta_path`` until timm's
module has actually run: libraries that only *look* for timm (transformers'
``importlib.util.find_spec("timm")`` availability check) call the finder without importing, and
must not use the hook up.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType


def _register() -> None:
    importlib.import_module("faer_hub.models.faer")  # its @register_model functions run on import


class _RegisterAfterTimm(importlib.abc.MetaPathFinder):
    """Finds timm with the other finders, then registers FAER once timm's module has run."""

    def find_spec(self, fullname, path, target=None):  # noqa: ANN001 (importlib's signature)
        if fullname != "timm":
            return None
        spec = self._spec_from_other_finders(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        exec_timm = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            exec_timm(module)
            _remove_hook()  # timm is loaded now: later imports find it in sys.modules
            _register()

        spec.loader.exec_module = exec_module  # this spec's loader only
        return spec

    def _spec_from_other_finders(self, fullname, path, target):  # noqa: ANN001, ANN202
        for finder in list(sys.meta_path):
            if finder is self or isinstance(finder, _RegisterAfterTimm) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                return spec
        return None


def _remove_hook() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _RegisterAfterTimm)]


def register_with_timm() -> None:
    """Register FAER with timm now if timm is loaded, else as soon as it is."""
    if "timm" in sys.modules:
        _register()
    elif not any(isinstance(f, _RegisterAfterTimm) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterTimm())
