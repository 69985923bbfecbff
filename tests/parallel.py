"""How ``make test`` spreads the suite over pytest-xdist workers (docs/contributing.md).

Every worker is a pytest session of its own: its own brokers, PostgreSQL and MariaDB on free
ports, its own temporary directories (``tmp_path_factory``), a fresh topic prefix per test.
Tests go to whichever worker is free, one at a time, except the heavy modules below: they
bring brokers, a fleet or machine-wide faults of their own, so they form one group that one
worker runs in a row, and two of them never starve each other on the two cores (side by
side, the cluster and the outage test each spent over 70 s starting their brokers and hit
their timeouts). Being the largest unit, the group is handed out first.

xdist's own ``xdist_group`` marks cannot say this under pytest 9: ``--dist loadgroup`` tags a
test by rewriting its node id, which pytest 9 no longer reads, so the group is named here by
module, and the scheduler below (``-n N``, with ``--dist load`` or ``loadgroup``) keeps it
together.
"""

from __future__ import annotations

from typing import Any

HEAVY_GROUP = "heavy"

# module -> what makes it heavy
HEAVY = {
    "tests/e2e/test_kafka_cluster.py": "three brokers of its own",
    "tests/e2e/test_kafka_outage.py": "a broker of its own, stopped and restarted",
    "tests/e2e/test_netns.py": "a broker and the network in namespaces",
    "tests/e2e/test_netns_pair.py": "a broker, PostgreSQL and a partition in namespaces",
    "tests/chaos/test_campaign.py": "three brokers, PostgreSQL, a Central pair and faults",
    "tests/fleet/test_fleet_smoke.py": "300 CPs whose heartbeats must all be answered",
    "tests/fleet/test_fleet_enrollment.py": "60 CPs enrolling at once",
    "tests/fleet/test_go_generator.py": "a fleet of TLS monitors",
}


def group_of(nodeid: str) -> str | None:
    """The group a test belongs to, or None (it goes wherever a worker is free)."""
    return HEAVY_GROUP if nodeid.split("::", 1)[0] in HEAVY else None


def make_scheduler(config: Any, log: Any) -> Any:
    """xdist's loadgroup scheduler, with the heavy modules as one group."""
    from xdist.scheduler import LoadGroupScheduling

    class HeavyTogether(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid) or super()._split_scope(nodeid)

    return HeavyTogether(config, log)
