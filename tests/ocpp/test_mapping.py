"""The OCPP → EVCharging mapping of docs/ocpp.md, without sockets."""

from __future__ import annotations

import pytest

from ocpp_gateway import mapping
from wire.tcp_messages import EngineHealth


@pytest.mark.parametrize(
    "status",
    ["Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing", "Reserved"],
)
def test_working_statuses_are_a_healthy_engine(status: str) -> None:
    assert mapping.health_of(status) == mapping.Health(EngineHealth.OK)


def test_faulted_is_ko_with_the_chargers_reason() -> None:
    assert mapping.health_of("Faulted", "GroundFailure") == mapping.Health(
        EngineHealth.KO, "OCPP Faulted: GroundFailure"
    )
    assert mapping.health_of("Faulted", "OtherError", "relay stuck").reason == (
        "OCPP Faulted: relay stuck"
    )


def test_unavailable_is_healthy_only_when_central_stopped_the_cp() -> None:
    assert mapping.health_of("Unavailable", stopped=True).health == EngineHealth.OK
    unasked = mapping.health_of("Unavailable")
    assert unasked.health == EngineHealth.KO and "Unavailable" in unasked.reason


@pytest.mark.parametrize(
    ("start", "now", "price", "kwh", "eur"),
    [
        (0, 5500, 0.35, 5.5, 1.92),  # 5.5 × 0.35 is 1.92499… in binary, as every engine bills
        (1_000_000, 1_012_345, 0.42, 12.345, 5.18),
        (100, 100, 0.5, 0.0, 0.0),
        (5000, 4000, 0.5, 0.0, 0.0),  # a meter that went backwards delivers nothing
        (0, 1, 0.3, 0.001, 0.0),
    ],
)
def test_meter_wh_to_kwh_and_eur(
    start: float, now: float, price: float, kwh: float, eur: float
) -> None:
    assert mapping.kwh_between(start, now) == kwh
    assert mapping.eur_between(start, now, price) == eur


def test_register_and_power_are_read_from_meter_values_in_any_unit() -> None:
    values = [
        {"timestamp": "t", "sampled_value": [{"value": "1200"}]},  # default measurand, Wh
        {
            "timestamp": "t",
            "sampled_value": [
                {"value": "7.5", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "1.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "230", "measurand": "Voltage", "unit": "V"},
            ],
        },
    ]
    assert mapping.register_wh(values) == 1500.0
    assert mapping.power_kw(values) == 7.5
    assert (
        mapping.power_kw(
            [{"sampled_value": [{"value": "11000", "measurand": "Power.Active.Import"}]}]
        )
        == 11.0
    )
    assert mapping.register_wh([{"sampled_value": [{"value": "n/a"}]}]) is None
    assert mapping.register_wh([]) is None


@pytest.mark.parametrize(
    ("reason", "ended"),
    [
        (None, "unplugged"),
        ("Local", "unplugged"),
        ("EVDisconnected", "unplugged"),
        ("Remote", "stopped"),
        ("EmergencyStop", "fault"),
        ("PowerLoss", "engine_restart"),
        ("SomethingNew", "fault"),
    ],
)
def test_stop_reasons(reason: str | None, ended: str) -> None:
    assert mapping.end_reason(reason) == ended
