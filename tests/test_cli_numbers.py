"""The programs' number options (``wire.cli.positive``, ``non_negative``) refuse what would
make a deadline or a rate meaningless, with a message that names the text given."""

from __future__ import annotations

import argparse

import pytest

from wire.cli import non_negative, positive


@pytest.mark.parametrize(
    ("parse", "text", "value"),
    [(positive, "1.5", 1.5), (positive, "1e-3", 0.001), (non_negative, "0", 0.0)],
)
def test_numbers_in_range_are_read_as_floats(parse, text: str, value: float) -> None:
    assert parse(text) == value


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (positive, "x", "not a number: 'x'"),
        (non_negative, "", "not a number: ''"),
        (positive, "0", "must be greater than 0, got '0'"),
        (positive, "nan", "must be greater than 0, got 'nan'"),
        (non_negative, "-1", "must not be negative, got '-1'"),
        (non_negative, "nan", "must not be negative, got 'nan'"),
    ],
)
def test_numbers_out_of_range_are_refused_by_name(parse, text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError) as refused:
        parse(text)
    assert str(refused.value) == message
