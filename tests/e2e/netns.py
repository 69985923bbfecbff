"""Three test hosts on one machine: network namespaces joined by veth links.

``central`` (Kafka + EV_Central) sits in the middle; ``cps`` and ``drivers`` each have a veth
link to it and a route to the other side through it, so every program must use real,
non-loopback addresses to reach its peers. Creating namespaces needs root (CAP_NET_ADMIN).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass, field


def can_create_namespaces() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "creating network namespaces needs root"
    probe = f"evcp{uuid.uuid4().hex[:6]}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        return False, f"`ip netns add` failed: {result.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=False)
    return True, ""


def _ip(*args: str, netns: str | None = None) -> None:
    argv = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    subprocess.run(argv, check=True, capture_output=True, text=True)


@dataclass
class ThreeHosts:
    """central 10.231.1.1 / 10.231.2.1; cps 10.231.1.2; drivers 10.231.2.2."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    central_cps_ip: str = "10.231.1.1"
    central_drivers_ip: str = "10.231.2.1"
    cps_ip: str = "10.231.1.2"
    drivers_ip: str = "10.231.2.2"

    @property
    def names(self) -> dict[str, str]:
        return {role: f"evc-{role}-{self.tag}" for role in ("central", "cps", "drivers")}

    def create(self) -> None:
        names = self.names
        for ns in names.values():
            _ip("netns", "add", ns)
            _ip("link", "set", "lo", "up", netns=ns)
        self._link(names["central"], self.central_cps_ip, names["cps"], self.cps_ip, "c")
        self._link(
            names["central"], self.central_drivers_ip, names["drivers"], self.drivers_ip, "d"
        )
        # The drivers reach the broker's advertised address (on the cps link) through central.
        _ip("route", "add", "10.231.1.0/24", "via", self.central_drivers_ip, netns=names["drivers"])
        _ip("route", "add", "10.231.2.0/24", "via", self.central_cps_ip, netns=names["cps"])

    def _link(self, ns_a: str, ip_a: str, ns_b: str, ip_b: str, suffix: str) -> None:
        a, b = f"va{suffix}{self.tag}", f"vb{suffix}{self.tag}"
        _ip("link", "add", a, "type", "veth", "peer", "name", b)
        _ip("link", "set", a, "netns", ns_a)
        _ip("link", "set", b, "netns", ns_b)
        _ip("addr", "add", f"{ip_a}/24", "dev", a, netns=ns_a)
        _ip("addr", "add", f"{ip_b}/24", "dev", b, netns=ns_b)
        _ip("link", "set", a, "up", netns=ns_a)
        _ip("link", "set", b, "up", netns=ns_b)

    def destroy(self) -> None:
        """Delete the namespaces (their veth ends go with them) and any link left behind
        in this namespace by a ``create`` that failed half-way. Safe to call twice."""
        for ns in self.names.values():
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        for suffix in ("c", "d"):
            subprocess.run(
                ["ip", "link", "del", f"va{suffix}{self.tag}"], check=False, capture_output=True
            )

    def prefix(self, role: str) -> list[str]:
        """argv prefix that runs a command inside one host."""
        return ["ip", "netns", "exec", self.names[role]]


@dataclass
class PairHosts:
    """Four hosts around a router: ``infra`` (Kafka, PostgreSQL; it routes), ``central-a``,
    ``central-b`` and ``edge`` (CPs, drivers), each on a veth link of its own to ``infra``
    (10.232.N.1 on infra's side, 10.232.N.2 on the host's). Cutting one link isolates one
    host, as a pulled cable would."""

    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:5])
    roles: tuple[str, ...] = ("central-a", "central-b", "edge")

    @property
    def names(self) -> dict[str, str]:
        return {role: f"evc-{role[:9]}-{self.tag}" for role in ("infra", *self.roles)}

    def ip(self, role: str) -> str:
        """The host's address (infra: its address on the edge link, which all can route to)."""
        if role == "infra":
            return f"10.232.{len(self.roles)}.1"
        return f"10.232.{self.roles.index(role) + 1}.2"

    def _veth(self, role: str) -> str:
        return f"vi{self.roles.index(role)}{self.tag}"

    def create(self) -> None:
        names = self.names
        for ns in names.values():
            _ip("netns", "add", ns)
            _ip("link", "set", "lo", "up", netns=ns)
        subprocess.run(
            ["ip", "netns", "exec", names["infra"], "sysctl", "-qw", "net.ipv4.ip_forward=1"],
            check=True,
            capture_output=True,
        )
        for n, role in enumerate(self.roles, start=1):
            inner, outer = self._veth(role), f"vh{n - 1}{self.tag}"
            _ip("link", "add", inner, "type", "veth", "peer", "name", outer)
            _ip("link", "set", inner, "netns", names["infra"])
            _ip("link", "set", outer, "netns", names[role])
            _ip("addr", "add", f"10.232.{n}.1/24", "dev", inner, netns=names["infra"])
            _ip("addr", "add", f"10.232.{n}.2/24", "dev", outer, netns=names[role])
            _ip("link", "set", inner, "up", netns=names["infra"])
            _ip("link", "set", outer, "up", netns=names[role])
            _ip("route", "add", "default", "via", f"10.232.{n}.1", netns=names[role])

    def cut(self, role: str, down: bool = True) -> None:
        """Pull (or put back) the cable of ``role``'s host."""
        _ip("link", "set", self._veth(role), "down" if down else "up", netns=self.names["infra"])

    def destroy(self) -> None:
        """Kill what still runs inside the namespaces (a daemon a failed test did not stop),
        delete them, and any veth a half-done ``create`` left here. Safe to call twice."""
        for ns in self.names.values():
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                subprocess.run(["kill", "-9", pid], check=False, capture_output=True)
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        for n, role in enumerate(self.roles):
            for link in (self._veth(role), f"vh{n}{self.tag}"):
                subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)

    def prefix(self, role: str) -> list[str]:
        return ["ip", "netns", "exec", self.names[role]]
