"""The brief's own command on a real MariaDB (``scripts/maria-local``): ``EV_Central --db
"mysql://user:pass@127.0.0.1:PORT/db"`` starts (PyMySQL behind the URL, the tables created,
alone it holds the pair's lock), serves a driver's supply at a CP and keeps its ticket in
MariaDB; the password is never shown."""

from __future__ import annotations

from sqlalchemy import make_url

from tests.e2e.harness import Network, Observer

FAST_CP = ["--autopilot", "--plug-delay", "0.2", "--unplug-after", "1.2", "--speed", "20"]


def test_ev_central_with_the_briefs_mysql_url_serves_a_supply(
    maria_network: Network, maria_observer: Observer
) -> None:
    network, observer = maria_network, maria_observer
    assert network.db_url is not None
    given = make_url(network.db_url)
    assert given.drivername == "mysql" and given.password, "not the brief's form"
    central = network.start_central()
    central.wait_line("took over as the active Central", 30)
    network.start_cp("CP-01", *FAST_CP)
    network.wait_cp_ready(observer, "CP-01")
    driver = network.start_driver("D-001", ["CP-01"])
    assert driver.wait_exit(60) == 0, driver.output()
    (ticket,) = network.assert_ticketed_once(observer, {"D-001": ["CP-01"]})
    assert ticket["cp_id"] == "CP-01" and ticket["kwh"] > 0
    assert not network.db_path.exists(), "Central wrote to SQLite instead of MariaDB"
    central.wait_line(f"database mysql+pymysql://{given.username}:***@", 10)
    assert str(given.password) not in central.output()
