"""What the campaign does to this machine: cgroups, a loopback firewall, /proc.

Every component runs in its own cgroup v2 group (``<cgroup2 mount>/evc-chaos-<pid>/<name>``),
so a firewall rule can name the processes of one component: ``iptables -m cgroup --path``
matches the packets they send. A partition between A and B drops, in the OUTPUT chain of the
loopback traffic:

- what A's processes send to a port B listens on, and the reverse (new connections cannot
  open, open ones cannot send);
- what B's listening ports send back on the connections A had open at the cut (found in
  ``/proc/net/tcp`` by the sockets A's processes hold), and the reverse: ``-m cgroup`` does
  not match received packets on loopback, so the replies are dropped by their 4-tuple.

All rules live in one chain ``EVC-CHAOS-<pid>`` jumped to from OUTPUT, one sub-chain per
fault; healing deletes the sub-chain, and :meth:`Firewall.close` deletes everything, also
what a campaign that was SIGKILLed left behind (``clean_stale``). Only 127.0.0.1 is named.

Anything here that the machine does not allow (not root, no iptables, no cgroup2) makes the
partitions unavailable, with the reason, instead of failing the campaign. The brokers' disks
are ``chaos.disks``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_STALE = re.compile(r"^evc-chaos-(\d+)$")
_CHAIN = re.compile(r"^-N (EVC-CHAOS-(\d+))$")
_SUB = re.compile(r"^-N (EVC-(\d+)-F\d+)$")


# ----------------------------------------------------------------------------- /proc


def pid_alive(pid: int) -> bool:
    """True for a process that exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(") ", 1)[-1].startswith(("Z", "X"))


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def open_files(pid: int) -> int | None:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def fd_kinds(pid: int, names: dict[int, str]) -> dict[str, int]:
    """``pid``'s open files by kind: TCP connections by the name of the port at their far end
    (``names``: port -> "PostgreSQL", "Kafka", …; else "tcp:<port>"), connections accepted
    on a port it listens on as "clients of …", then pipes, event loops, files."""
    remote: dict[int, tuple[int, int, str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9:
                    local = int(parts[1].rsplit(":", 1)[1], 16)
                    far = int(parts[2].rsplit(":", 1)[1], 16)
                    remote[int(parts[9])] = (local, far, parts[3])
    listening = {local for local, _, state in remote.values() if state == "0A"}
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                local, far, state = remote.get(int(target[8:-1]), (0, 0, ""))
                if not state:
                    kind = "other sockets"
                elif state == "0A":
                    kind = "listening"
                elif local in listening:  # accepted on a port it listens on
                    kind = f"clients of {names.get(local, local)}"
                else:
                    kind = names.get(far, f"tcp:{far}")
            elif target.startswith("pipe:"):
                kind = "pipes"
            elif target.startswith("anon_inode:"):
                kind = target[len("anon_inode:") :].strip("[]")
            else:
                kind = "files"
            out[kind] = out.get(kind, 0) + 1
    return out


def descendants(pid: int) -> list[int]:
    """``pid``'s children, grandchildren, … (from /proc's parent pids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(") ", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def holders(path: Path) -> list[int]:
    """The processes with a file open or mapped under ``path``."""
    prefix = f"{path.resolve()}/"
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/fd/{fd}").startswith(prefix):
                        out.append(int(entry))
                        break
            else:
                if prefix in Path(f"/proc/{entry}/maps").read_text():
                    out.append(int(entry))
    return out


def signal_all(pids: list[int], signum: int) -> list[int]:
    """Send ``signum`` to each pid; the pids it reached."""
    reached = []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)
            reached.append(pid)
    return reached


def _socket_inodes(pid: int) -> set[int]:
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes


def connections(pids: list[int], remote_ports: set[int]) -> list[tuple[int, int]]:
    """(local port, remote port) of the established IPv4 TCP connections ``pids`` hold to
    one of ``remote_ports``."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids)) if pids else set()
    out = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or parts[3] != "01" or int(parts[9]) not in inodes:
                continue
            local, remote = int(parts[1].split(":")[1], 16), int(parts[2].split(":")[1], 16)
            if remote in remote_ports:
                out.append((local, remote))
    return out


# ----------------------------------------------------------------------------- cgroups


def cgroup2_mount() -> Path | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[2] == "cgroup2":
                return Path(parts[1])
    return None


class Cgroups:
    """One cgroup v2 group per component under ``evc-chaos-<our pid>``."""

    def __init__(self) -> None:
        self.mount = cgroup2_mount()
        self.base = f"evc-chaos-{os.getpid()}"
        self.reason = ""
        if os.geteuid() != 0:
            self.reason = "not root"
        elif self.mount is None:
            self.reason = "no cgroup2 file system mounted"
        else:
            try:
                self._clean_stale()
                (self.mount / self.base).mkdir(exist_ok=True)
            except OSError as exc:
                self.reason = f"cannot create a cgroup in {self.mount}: {exc.strerror}"

    @property
    def available(self) -> bool:
        return not self.reason

    def path(self, component: str) -> str:
        """The group's path as ``iptables -m cgroup --path`` wants it."""
        return f"{self.base}/{component}"

    def place(self, component: str, pids: list[int]) -> None:
        if not self.available or self.mount is None:
            return
        group = self.mount / self.base / component
        with contextlib.suppress(FileExistsError):
            group.mkdir()
        for pid in pids:
            try:
                (group / "cgroup.procs").write_text(f"{pid}\n")
            except OSError as exc:  # gone already, or a kernel thread
                log.debug("cannot place %s in %s: %s", pid, group, exc)

    def pids(self, component: str) -> list[int]:
        if not self.available or self.mount is None:
            return []
        try:
            text = (self.mount / self.base / component / "cgroup.procs").read_text()
        except OSError:
            return []
        return [int(x) for x in text.split()]

    def close(self) -> None:
        if self.available and self.mount is not None:
            _remove_tree(self.mount, self.mount / self.base)

    def _clean_stale(self) -> None:
        assert self.mount is not None
        for entry in self.mount.iterdir():
            found = _STALE.match(entry.name)
            if found and entry.is_dir() and not pid_alive(int(found.group(1))):
                _remove_tree(self.mount, entry)


def _remove_tree(mount: Path, base: Path) -> None:
    """Move every process of ``base``'s groups back to the root group, remove the groups."""
    if not base.is_dir():
        return
    for group in [*sorted(p for p in base.iterdir() if p.is_dir()), base]:
        with contextlib.suppress(OSError):
            for pid in (group / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (mount / "cgroup.procs").write_text(f"{pid}\n")
        with contextlib.suppress(OSError):
            group.rmdir()


# ----------------------------------------------------------------------------- firewall


@dataclass
class Firewall:
    """Loopback partitions with iptables (see the module's docstring)."""

    cgroups: Cgroups
    chain: str = field(default_factory=lambda: f"EVC-CHAOS-{os.getpid()}")
    reason: str = ""
    _faults: set[str] = field(default_factory=set)
    _ready: bool = False

    def __post_init__(self) -> None:
        if os.geteuid() != 0:
            self.reason = "not root"
        elif shutil.which("iptables") is None or shutil.which("iptables-restore") is None:
            self.reason = "no iptables (apt-get install iptables)"
        elif not self.cgroups.available:
            self.reason = f"no cgroups to tell the components apart ({self.cgroups.reason})"

    @property
    def available(self) -> bool:
        return not self.reason

    def open(self) -> None:
        if not self.available:
            return
        self.clean_stale()
        try:
            self._ipt("-N", self.chain)
            self._ipt("-I", "OUTPUT", "1", "-j", self.chain)
            self._ready = True
        except subprocess.CalledProcessError as exc:
            self.reason = f"iptables refused: {exc.stderr.strip() or exc}"

    def cut(self, index: int, rules: list[list[str]]) -> int:
        """Add one fault's rules (each a list of iptables match arguments, ``-j DROP``
        added) as a sub-chain; the number of rules."""
        if not self._ready:
            raise RuntimeError(self.reason or "firewall not open")
        sub = f"EVC-{os.getpid()}-F{index}"
        lines = ["*filter", f":{sub} - [0:0]"]
        lines += [f"-A {sub} {' '.join(rule)} -j DROP" for rule in rules]
        lines += [f"-A {self.chain} -j {sub}", "COMMIT", ""]
        subprocess.run(
            ["iptables-restore", "-w", "--noflush"],
            input="\n".join(lines),
            text=True,
            check=True,
            capture_output=True,
        )
        self._faults.add(sub)
        return len(rules)

    def heal(self, index: int) -> None:
        sub = f"EVC-{os.getpid()}-F{index}"
        self._drop_sub(self.chain, sub)
        self._faults.discard(sub)

    def close(self) -> None:
        """Remove every rule and chain of this campaign (safe to call more than once)."""
        if not self._ready:
            return
        for sub in list(self._faults):
            self._drop_sub(self.chain, sub)
        self._faults.clear()
        _drop_chain(self.chain)
        self._ready = False

    def clean_stale(self) -> None:
        """Chains left by a campaign that did not live to remove them."""
        listing = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True)
        stale_main, stale_sub = [], []
        for line in listing.stdout.splitlines():
            if (found := _CHAIN.match(line)) and not pid_alive(int(found.group(2))):
                stale_main.append(found.group(1))
            elif (found := _SUB.match(line)) and not pid_alive(int(found.group(2))):
                stale_sub.append(found.group(1))
        for chain in stale_main:
            for sub in stale_sub:
                self._drop_sub(chain, sub)
            _drop_chain(chain)
        for sub in stale_sub:
            _drop_chain(sub)

    def _drop_sub(self, chain: str, sub: str) -> None:
        while _quiet_ipt("-D", chain, "-j", sub):
            pass
        _drop_chain(sub)

    @staticmethod
    def _ipt(*args: str) -> None:
        subprocess.run(["iptables", "-w", *args], check=True, capture_output=True, text=True)


def _quiet_ipt(*args: str) -> bool:
    return subprocess.run(["iptables", "-w", *args], capture_output=True).returncode == 0


def _drop_chain(chain: str) -> None:
    while _quiet_ipt("-D", "OUTPUT", "-j", chain):
        pass
    _quiet_ipt("-F", chain)
    _quiet_ipt("-X", chain)


def partition_rules(
    side_a: list[tuple[str, list[int], list[int]]],
    side_b: list[tuple[str, list[int], list[int]]],
) -> list[list[str]]:
    """The DROP rules that cut ``side_a`` from ``side_b``; each side lists its components
    as (cgroup path, pids, listening ports)."""
    rules: list[list[str]] = []
    for clients, servers in ((side_a, side_b), (side_b, side_a)):
        ports = sorted({p for _, _, listening in servers for p in listening})
        if not ports:
            continue
        for group, pids, _ in clients:
            for port in ports:
                rules.append(
                    ["-p", "tcp", "-d", LOOPBACK, "--dport", str(port)]
                    + ["-m", "cgroup", "--path", group]
                )
            for local, remote in connections(pids, set(ports)):
                rules.append(
                    ["-p", "tcp", "-s", LOOPBACK, "--sport", str(remote)]
                    + ["-d", LOOPBACK, "--dport", str(local)]
                )
    return rules
