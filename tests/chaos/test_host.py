"""The partition rules name the right packets: what one side sends to the other's listening
ports (by cgroup), and the replies on the connections open at the cut (by 4-tuple)."""

from __future__ import annotations

import os
import socket

from chaos.host import connections, partition_rules


def test_rules_for_new_connections_both_ways() -> None:
    central = ("evc-chaos-1/central-a", [], [7070])
    postgres = ("evc-chaos-1/postgres", [], [5432])
    monitor = ("evc-chaos-1/monitor-CP-01", [], [])
    rules = partition_rules([central], [postgres, monitor])
    assert rules == [
        ["-p", "tcp", "-d", "127.0.0.1", "--dport", "5432"]
        + ["-m", "cgroup", "--path", "evc-chaos-1/central-a"],
        ["-p", "tcp", "-d", "127.0.0.1", "--dport", "7070"]
        + ["-m", "cgroup", "--path", "evc-chaos-1/postgres"],
        ["-p", "tcp", "-d", "127.0.0.1", "--dport", "7070"]
        + ["-m", "cgroup", "--path", "evc-chaos-1/monitor-CP-01"],
    ]


def test_the_replies_on_open_connections_are_named_by_their_ports() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            local = client.getsockname()[1]
            assert connections([os.getpid()], {port}) == [(local, port)]
            rules = partition_rules([("g/client", [os.getpid()], [])], [("g/server", [], [port])])
            assert ["-p", "tcp", "-s", "127.0.0.1", "--sport", str(port)] + [
                "-d", "127.0.0.1", "--dport", str(local)
            ] in rules  # fmt: skip
