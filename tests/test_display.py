"""How numbers read: counts with their noun, chart axes whose labels never repeat (issue 23)."""

from __future__ import annotations

import pytest

from wire.display import COUNT, MONEY, axis_ticks, count


def test_count_is_singular_for_one() -> None:
    assert count(1, "session") == "1 session"
    assert count(0, "session") == "0 sessions"
    assert count(12_000, "CP") == "12,000 CPs"
    assert count(2, "running supply", "running supplies") == "2 running supplies"


@pytest.mark.parametrize(
    ("peak", "kind", "labels"),
    [
        (0.18, MONEY, ["0.00", "0.05", "0.10", "0.15", "0.20"]),  # read 0, 0, 0, 0, 0
        (1.4, MONEY, ["0.00", "0.50", "1.00", "1.50"]),  # read 0, 1, 1, 2, 2
        (47.42, MONEY, ["0.00", "10.00", "20.00", "30.00", "40.00", "50.00"]),
        (2, COUNT, ["0", "1", "2"]),  # supplies: never 0, 1, 1, 2, 2
        (0, COUNT, ["0", "1"]),
        (12, COUNT, ["0", "5", "10", "15"]),
        (0.4, COUNT, ["0", "1"]),  # a fault shorter than a slice: still whole CPs
        (257, "", ["0", "100", "200", "300"]),
        (0.12, "", ["0.00", "0.05", "0.10", "0.15"]),
    ],
)
def test_axis_labels_are_round_distinct_and_as_precise_as_the_step(peak, kind, labels) -> None:
    ticks = axis_ticks(peak, kind)
    assert ticks.labels() == labels
    assert len(set(ticks.labels())) == len(ticks.labels())
    assert ticks.top >= peak


@pytest.mark.parametrize("peak", [0.001, 0.03, 0.99, 1, 3.3, 7, 19, 99.5, 1234, 5e6])
@pytest.mark.parametrize("kind", [COUNT, MONEY, ""])
def test_no_axis_ever_shows_one_label_twice(peak, kind) -> None:
    labels = axis_ticks(peak, kind).labels()
    assert len(set(labels)) == len(labels) and 2 <= len(labels) <= 7
