"""How an error is shown to a user: one line (the CLI, training, the app and wrapped errors share it),
and which errors are the input's or the environment's rather than a bug (:data:`EXPECTED_ERRORS`)."""

from __future__ import annotations

import pickle

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
