"""The fault schedule is a pure function of its seed and settings, and keeps its rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaos.schedule import (
    Component,
    Fault,
    FaultKind,
    Option,
    catalogue,
    concurrency,
    plan,
)


def network(cps: int = 8, ocpp: int = 2, drivers: int = 4) -> list[Component]:
    comps = [Component("central-a", "central"), Component("central-b", "central")]
    comps += [Component(f"broker-{n}", "broker") for n in (1, 2, 3)]
    comps.append(Component("postgres", "postgres"))
    for i in range(1, cps + 1):
        comps += [
            Component(f"engine-CP-{i:02d}", "engine"),
            Component(f"monitor-CP-{i:02d}", "monitor"),
        ]
    if ocpp:
        comps.append(Component("ocpp-gateway", "gateway"))
        comps += [Component(f"ocpp-OCPP-{i:02d}", "charger") for i in range(1, ocpp + 1)]
    comps += [Component(f"driver-D-{i:03d}", "driver") for i in range(1, drivers + 1)]
    return comps


OPTIONS = catalogue(network())


def test_the_same_seed_gives_the_same_schedule() -> None:
    first = plan(42, 300, OPTIONS)
    assert first == plan(42, 300, OPTIONS)
    # and whatever order the components were listed in
    assert first == plan(42, 300, catalogue(reversed(network())))
    assert len(first) > 20


def test_other_seeds_give_other_schedules() -> None:
    schedules = {
        tuple((f.kind, f.sides, round(f.at, 6)) for f in plan(s, 120, OPTIONS)) for s in range(20)
    }
    assert len(schedules) == 20


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    duration=st.floats(20, 600),
    most=st.integers(1, 4),
    low=st.floats(1, 10),
    spread=st.floats(0, 20),
    gap=st.floats(0.5, 20),
)
def test_the_rules_hold_for_any_seed(
    seed: int, duration: float, most: int, low: float, spread: float, gap: float
) -> None:
    high = low + spread
    faults = plan(seed, duration, OPTIONS, max_concurrent=most, heal=(low, high), mean_gap=gap)
    assert concurrency(faults) <= most
    for f in faults:
        assert low <= f.hold <= high + 1e-9
        assert f.at > 0 and f.end <= duration + 1e-9
    # a component is in one fault at a time
    for a in faults:
        for b in faults:
            if a.index < b.index and a.at < b.end and b.at < a.end:
                assert not a.components & b.components, (a, b)
    assert [f.index for f in faults] == list(range(1, len(faults) + 1))
    assert [f.at for f in faults] == sorted(f.at for f in faults)


def test_max_concurrency_is_reached_and_never_passed() -> None:
    faults = plan(3, 600, OPTIONS, max_concurrent=2, mean_gap=1.0)
    assert concurrency(faults) == 2
    assert concurrency(plan(3, 600, OPTIONS, max_concurrent=1, mean_gap=1.0)) == 1


def test_heal_bounds() -> None:
    faults = plan(9, 400, OPTIONS, heal=(3.0, 15.0))
    assert all(3.0 <= f.hold <= 15.0 for f in faults)
    assert min(f.hold for f in faults) < 6 and max(f.hold for f in faults) > 12
    with pytest.raises(ValueError):
        plan(9, 400, OPTIONS, heal=(5.0, 3.0))


def test_kinds_can_be_restricted() -> None:
    faults = plan(5, 300, OPTIONS, kinds=[FaultKind.KILL, FaultKind.PAUSE])
    assert {f.kind for f in faults} == {FaultKind.KILL, FaultKind.PAUSE}


def test_every_kind_is_drawn_over_a_long_campaign() -> None:
    faults = plan(1, 3000, OPTIONS)
    assert {f.kind for f in faults} == set(FaultKind)
    killed = {f.target for f in faults if f.kind is FaultKind.KILL}
    assert {"central-a", "postgres", "broker-1", "ocpp-gateway"} <= killed


def test_the_catalogue() -> None:
    kinds = {(o.kind, o.sides) for o in OPTIONS}
    assert (FaultKind.KILL, (("postgres",),)) in kinds
    assert (FaultKind.PAUSE, (("driver-D-001",),)) in kinds
    assert (FaultKind.PG_RESTART, (("postgres",),)) in kinds
    assert (FaultKind.DISK_FULL, (("broker-2",),)) in kinds
    assert (FaultKind.PARTITION, (("central-a",), ("postgres",))) in kinds
    assert (FaultKind.PARTITION, (("monitor-CP-03",), ("engine-CP-03",))) in kinds
    assert (FaultKind.PARTITION, (("broker-1",), ("broker-2", "broker-3"))) in kinds
    # the simulated chargers are hardware: cut from the gateway, never killed
    assert (FaultKind.PARTITION, (("ocpp-OCPP-01",), ("ocpp-gateway",))) in kinds
    assert not any(o.kind is FaultKind.KILL and "ocpp-OCPP-01" in o.components for o in OPTIONS)
    # no partition has a component on both sides
    for o in OPTIONS:
        if o.kind is FaultKind.PARTITION:
            assert not set(o.sides[0]) & set(o.sides[1])


def test_a_fault_reads_well() -> None:
    fault = Fault(3, 12.5, 7.25, FaultKind.PARTITION, (("central-a",), ("postgres",)))
    assert fault.line() == "#3 t=  12.5s partition central-a | postgres for 7.2 s"
    assert fault.end == 19.75
    assert Option(FaultKind.KILL, (("broker-2",),)).label == "kill broker-2"
