"""one_line: how every error reaches a user."""

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
