"""How an error is shown to a user: one line (the CLI, training, the app and wrapped errors share it),
and which errors are the input's or the environment's rather than a bug (:data:`EXPECTED_ERRORS`)."""

from __future__ import annotations

import pickle
import zipfile

from safetensors import SafetensorError


class InputError(Exception):
    """Mixed into faer_hub's own errors that are failures of the input or the environment (a config,
    an output folder, a checkpoint, a run that diverged) but derive from a builtin that is not in
    :data:`EXPECTED_ERRORS` (``RuntimeError``, ``FloatingPointError``)."""


EXPECTED_ERRORS: tuple[type[BaseException], ...] = (
    OSError, ValueError, KeyError, ImportError, pickle.UnpicklingError, SafetensorError, InputError,
)
"""Failures of the input or the environment, not of faer_hub's code: ``faer-hub`` and
``training/train.py`` report them in one line with exit status 2 (anything else is a bug)."""

MAX_LINE = 1000
"""Longest line an error is shown as, whatever it quotes (a config value, a foreign message)."""


def one_line(err: BaseException, *, first_line: bool = False, limit: int | None = MAX_LINE) -> str:
    """``err``'s message on one line: whitespace collapsed, a KeyError's key without repr quotes,
    only the first line with ``first_line`` (for long foreign messages such as torch's state-dict
    reports), cut to ``limit`` characters (:data:`MAX_LINE` unless told; None: no cut); the
    exception's type name when the message is empty."""
    message = err.args[0] if isinstance(err, KeyError) and err.args else err
    text = str(message).strip()
    if isinstance(err, OSError) and err.strerror and err.filename is not None and text.startswith("[Errno"):
        # the OS's own words ("[Errno 17] File exists: 'out'"): the path first, then what to do
        text = (f"{err.filename}: {err.strerror.lower()}; check the path (a folder where a folder is needed, "
                "a file where a file is) and that you may write there")
    if first_line:
        text = text.splitlines()[0] if text else ""
    text = " ".join(text.split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text or type(err).__name__


CHECKPOINT_LOAD_ERRORS: tuple[type[BaseException], ...] = (
    pickle.UnpicklingError, SafetensorError, EOFError, RuntimeError, IndexError, KeyError, zipfile.BadZipFile,
)
"""What reading a file that is not a usable checkpoint raises (``torch.load(weights_only=True)``
fed a picture raises a bare ``KeyError(101)``, say)."""


def checkpoint_problem(err: BaseException) -> str:
    """Why a weights file could not be read, in words (for one of :data:`CHECKPOINT_LOAD_ERRORS`)."""
    not_a_checkpoint = "a .safetensors file, or a .pth/.pt file torch.save wrote"
    if isinstance(err, (KeyError, EOFError, IndexError, zipfile.BadZipFile)) or "invalid load key" in str(err):
        return f"it is not a checkpoint ({not_a_checkpoint})"
    if isinstance(err, pickle.UnpicklingError) or "weights_only" in str(err):  # a malicious file, or noise
        return ("weights_only loading refuses to run it: it holds Python objects beyond tensors, or it is not "
                f"a checkpoint at all ({not_a_checkpoint})")
    return one_line(err, limit=300)
