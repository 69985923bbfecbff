"""One supply end to end with Central's database on a real PostgreSQL server
(``scripts/pg-local``): the registry is seeded there, the session and its ticket land there,
exactly once."""

from __future__ import annotations

from tests.e2e.harness import Network, Observer
from tests.waiting import wait_for

FAST_CP = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "1.5", "--speed", "20"]


def test_a_supply_is_ticketed_once_in_postgresql(
    pg_network: Network, pg_observer: Observer
) -> None:
    network, observer = pg_network, pg_observer
    network.start_central()
    network.start_cp("CP-03", *FAST_CP)
    network.wait_cp_ready(observer, "CP-03")
    driver = network.start_driver("D-003", ["CP-03"])
    assert driver.wait_exit(60) == 0, driver.output()

    ended = observer.wait("supply_ended", 10, cp_id="CP-03")
    ticket = network.wait_ticket(ended.session_id, 15)
    assert (ticket["kwh"], ticket["reason"], ticket["driver_id"]) == (
        ended.kwh,
        "unplugged",
        "D-003",
    )
    assert ticket["eur"] == round(ended.kwh * ticket["price"], 2)
    assert [r["session_id"] for r in network.sessions()] == [ended.session_id]
    wait_for(
        lambda: observer.notices("ticket", session_id=ended.session_id), 10, "the ticket notice"
    )
    assert len(observer.notices("ticket", session_id=ended.session_id)) == 1
    assert not network.db_path.exists(), "Central wrote to SQLite instead of PostgreSQL"
