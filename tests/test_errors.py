"""one_line: how every error reaches a user."""

import pytest

from faer_hub.errors import one_line


def test_messages_become_one_line_and_keys_lose_their_quotes():
    assert one_line(ValueError("bad value\n  in  row 3")) == "bad value in row 3"
    assert one_line(KeyError("unknown task 'x'")) == "unknown task 'x'"
    assert one_line(RuntimeError("")) == "RuntimeError"


def test_long_foreign_messages_keep_their_first_line_within_the_limit():
    err = RuntimeError("Error(s) in loading state_dict:\n\tMissing key(s): " + "a, " * 200)
    assert one_line(err, first_line=True) == "Error(s) in loading state_dict:"
    cut = one_line(err, limit=40)
    assert len(cut) == 40 and cut.endswith("...")


def test_every_line_is_bounded_unless_asked_otherwise():
    from faer_hub.errors import MAX_LINE

    huge = ValueError("config key 'x' got " + "[1, " * 100_000)
    assert len(one_line(huge)) == MAX_LINE and one_line(huge).endswith("...")
    assert len(one_line(huge, limit=None)) > MAX_LINE


def test_refusals_are_expected_errors_and_bugs_are_not():
    from faer_hub.errors import EXPECTED_ERRORS
    from faer_hub.models.faer import FAERWeightsNotFoundError
    from faer_hub.training.checkpoint import ResumeError
    from faer_hub.training.guard import NonFiniteLossError
    from faer_hub.training.launch import PeerFailedError
    from faer_hub.training.model import BackboneWeightsError
    from faer_hub.training.outputs import OutputDirError

    refusals = (OutputDirError, ResumeError, PeerFailedError, BackboneWeightsError, FAERWeightsNotFoundError)
    assert all(isinstance(error("x"), EXPECTED_ERRORS) and isinstance(error("x"), RuntimeError) for error in refusals)
    assert isinstance(NonFiniteLossError("x"), FloatingPointError) and isinstance(NonFiniteLossError("x"), EXPECTED_ERRORS)
    assert not any(isinstance(bug, EXPECTED_ERRORS) for bug in (RuntimeError("x"), TypeError("x"), AttributeError("x")))


def test_the_os_own_words_become_the_path_then_what_to_do():
    import errno

    line = one_line(FileExistsError(errno.EEXIST, "File exists", "out"))
    assert line.startswith("out: file exists; check the path") and "[Errno" not in line
    assert one_line(OSError("cannot write x: the disk is full")) == "cannot write x: the disk is full"  # ours stay


def test_a_folder_that_cannot_be_made_is_named_not_its_hidden_temp():
    from pathlib import Path

    from faer_hub.io import atomic_dir

    if not Path("/proc/self").is_dir():
        pytest.skip("needs /proc, where no folder can be made")
    with pytest.raises(OSError) as caught:
        with atomic_dir("/proc/faer_hub_out"):
            pass
    assert caught.value.filename == "/proc/faer_hub_out" and ".partial" not in one_line(caught.value)


def test_a_file_that_is_no_checkpoint_is_said_so_not_a_bare_key():
    """torch.load(weights_only=True) of a JPEG raises KeyError(101); the words say what it means."""
    import pickle

    from faer_hub.errors import checkpoint_problem

    assert checkpoint_problem(KeyError(101)).startswith("it is not a checkpoint (a .safetensors file")
    assert "weights_only loading refuses to run it" in checkpoint_problem(pickle.UnpicklingError("Unsupported global"))
    assert checkpoint_problem(RuntimeError("Error(s) in loading state_dict:\n  size mismatch for x")) == (
        "Error(s) in loading state_dict: size mismatch for x")
