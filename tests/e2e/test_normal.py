"""The normal mechanics end to end: Central, 3 CPs on autopilot, 2 drivers × 10 requests."""

from __future__ import annotations

import re

from tests.e2e.harness import Network, Observer

FAST_CP = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "1.2", "--speed", "20"]
CPS = ["CP-01", "CP-02", "CP-03"]
SUMMARY = re.compile(
    r"ran all (\d+) entries — (.*); ([\d.]+) kWh, ([\d.]+) € in all",
)
DENIED_LINE = re.compile(r"\] (CP-\d+ denied — .*)$", re.M)
FINISHED_LINE = re.compile(r"\] (CP-\d+) finished, ticket — ([\d.]+) kWh, ([\d.]+) €")


def start_network(network: Network, observer: Observer) -> None:
    network.start_central()
    for cp_id in CPS:
        network.start_cp(cp_id, *FAST_CP)
    for cp_id in CPS:
        network.wait_cp_ready(observer, cp_id)


def test_two_drivers_run_ten_requests_each_and_every_supply_is_ticketed_once(
    network: Network, observer: Observer
) -> None:
    start_network(network, observer)
    # driver 1 uses CP-01/CP-02, driver 2 CP-03/CP-02: they meet at CP-02 now and then
    plans = {
        "D-001": ["CP-01", "CP-02"] * 5,
        "D-002": ["CP-03", "CP-02"] * 5,
    }
    drivers = {d: network.start_driver(d, cps) for d, cps in plans.items()}
    for driver_id, proc in drivers.items():
        assert proc.wait_exit(150) == 0, f"{driver_id} exit code:\n{proc.output()}"

    every_ticket = network.tickets()
    assert len({t["session_id"] for t in every_ticket}) == len(every_ticket)
    for driver_id, proc in drivers.items():
        out = proc.output()
        summary = SUMMARY.search(out)
        assert summary, f"no summary from {driver_id}:\n{out}"
        total, outcomes, kwh_total, eur_total = summary.groups()
        assert total == "10"
        counts = {
            name: int(n)
            for n, name in (part.split(" ", 1) for part in outcomes.split(", ") if part)
        }
        assert set(counts) <= {"finished", "denied"}, outcomes
        # the only reason for a denial here: the other driver is charging at the shared CP
        denials = DENIED_LINE.findall(out)
        assert denials == ["CP-02 denied — charging point is busy"] * len(denials), denials
        assert counts.get("denied", 0) == len(denials)
        assert counts.get("finished", 0) >= 5, outcomes  # the unshared CP never says no

        finished_lines = FINISHED_LINE.findall(out)
        history = network.driver_history(driver_id)
        db = network.tickets(driver_id=driver_id)
        assert len(finished_lines) == len(history) == len(db) == counts["finished"], (
            finished_lines,
            history,
            db,
        )
        by_session = {t["session_id"]: t for t in db}
        assert set(by_session) == {h["session_id"] for h in history}
        for h in history:
            row = by_session[h["session_id"]]
            assert (row["cp_id"], row["kwh"], row["eur"], row["reason"]) == (
                h["cp_id"],
                h["kwh"],
                h["eur"],
                "unplugged",
            )
            assert row["kwh"] > 0 and row["eur"] == round(row["kwh"] * row["price"], 2)
        # the console lines, in order, are the same tickets
        ordered = sorted(db, key=lambda r: r["started_at"])
        assert [(cp, float(k), float(e)) for cp, k, e in finished_lines] == [
            (r["cp_id"], r["kwh"], r["eur"]) for r in ordered
        ]
        assert abs(float(kwh_total) - sum(r["kwh"] for r in db)) < 0.0015
        assert abs(float(eur_total) - sum(r["eur"] for r in db)) < 0.006

    # exactly one ticket notice per session went to the drivers, and one engine report
    ticketed = {t["session_id"] for t in every_ticket}
    observer.wait_one_ticket_each(ticketed, 10)
    for cp_id in CPS:
        observer.wait_status(cp_id, "ACTIVE", 10)
    # Healthy CPs never turned BROKEN, not even for the second after their monitors started
    # (a first heartbeat sent before the first health check said UNREACHABLE).
    for cp_id in CPS:
        monitor = network.cps[cp_id].monitor
        assert monitor is not None
        if monitor.has("Engine UNREACHABLE") or monitor.has("Engine KO"):
            continue  # the engine really was slow to answer once: BROKEN was the truth
        assert "BROKEN" not in observer.statuses_since(cp_id, 0), (
            cp_id,
            observer.statuses_since(cp_id, 0),
        )
