"""EV_Central as the fleet's child process, and /proc sampling of CPU and memory."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fleet.errors import FleetError
from wire.errors import WireError
from wire.tcp_client import CentralClient

if TYPE_CHECKING:
    from fleet.security import Security

CLK_TCK = os.sysconf("SC_CLK_TCK")


class CentralProcess:
    """``EV_Central --no-gui`` (or the command given) on ``port``; restartable."""

    def __init__(
        self,
        command: list[str],
        *,
        port: int,
        kafka: str,
        prefix: str,
        data_dir: Path,
        seed: Path,
        log_path: Path,
        pythonpath: str | None = None,
        extra: list[str] | None = None,
        security: Security | None = None,
        launcher: list[str] | None = None,
    ) -> None:
        from fleet.security import Security

        self.security = security or Security()
        command, self.extra_env = self.security.command(command)
        self.args = [
            *command,
            "--no-gui",
            "--port",
            str(port),
            "--kafka",
            kafka,
            "--data-dir",
            str(data_dir),
            "--seed",
            str(seed),
            "--topic-prefix",
            prefix,
            "--host",
            "127.0.0.1",
            "--status-every",
            "30",
            *[a for a in self.security.central_args() if a != "--insecure"],
            *(extra or []),
        ]
        self.command = command
        self.launcher = list(launcher or [])  # e.g. ``taskset -c 0`` (fleet/pinning.py), exec'd
        self.port = port
        self.log_path = log_path
        self.pythonpath = pythonpath
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def _env(self) -> tuple[dict[str, str], str | None]:
        env = dict(os.environ)
        env.update(self.extra_env)
        if self.pythonpath:
            env["PYTHONPATH"] = self.pythonpath
        return env, self.pythonpath

    def _supports(self, option: str) -> bool:
        """Whether this Central's ``--help`` lists ``option`` (older checkouts lack some)."""
        env, cwd = self._env()
        try:
            done = subprocess.run(
                [*self.command, "--help"],
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FleetError(f"cannot run Central ({self.command[0]}): {exc}") from exc
        return option in done.stdout

    def spawn(self) -> None:
        if not self.security.tls and "--insecure" not in self.args and self._supports("--insecure"):
            self.args.append("--insecure")  # the fleet's monitors speak plain TCP
        env, cwd = self._env()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            try:
                self.proc = subprocess.Popen(
                    [*self.launcher, *self.args],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise FleetError(f"cannot start Central ({self.args[0]}): {exc}") from exc
        self.started_at = time.time()

    def wait_listening(self, timeout: float) -> float:
        """Seconds until an ENQ is answered ACK; raises FleetError if it exits or times out."""
        began = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise FleetError(f"Central exited ({code}) at start:\n{self.log_tail()}")
            try:
                client = CentralClient("127.0.0.1", self.port, connect_timeout=0.5, **self._tls())
                client.connect()
                client.close()
                return time.monotonic() - began
            except WireError:
                time.sleep(0.1)
        raise FleetError(f"Central did not listen on {self.port} within {timeout:.0f}s")

    def _tls(self) -> dict[str, object]:
        if not self.security.tls or self.security.ca is None:
            return {}
        from wire.tls import client_context

        return {"ssl": client_context(self.security.ca), "server_hostname": "127.0.0.1"}

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            text = self.log_path.read_text(errors="replace").splitlines()
            return "\n".join(text[-lines:])
        return ""

    def kill(self) -> None:
        """SIGKILL Central and whatever processes it started (its session)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode


#: Central's SQLite file in its --data-dir (central_app.db.DB_FILE; the fleet imports no Central)
CENTRAL_DB_FILE = "evcentral.db"


# --- /proc sampling ----------------------------------------------------------------------


def _read_stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime + stime in ticks) of ``pid``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        pass
    return 0.0


def _tree(roots: list[int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


@dataclass
class Sample:
    t: float  # wall clock
    cpu: dict[str, float]  # percent of one core, per group
    rss: dict[str, float]  # MB, per group


class Sampler(threading.Thread):
    """Every second: CPU % and RSS of named groups of processes (a group = roots + children)."""

    def __init__(self) -> None:
        super().__init__(name="fleet-sampler", daemon=True)
        self.groups: dict[str, tuple[list[int], bool]] = {}
        self.samples: list[Sample] = []
        self._last: dict[int, int] = {}
        self._last_t = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def track(self, name: str, pids: list[int], *, tree: bool = False) -> None:
        with self._lock:
            self.groups[name] = ([p for p in pids if p], tree)

    def run(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def _sample(self) -> None:
        now = time.monotonic()
        dt = max(now - self._last_t, 1e-3)
        self._last_t = now
        with self._lock:
            groups = dict(self.groups)
        cpu: dict[str, float] = {}
        rss: dict[str, float] = {}
        ticks_now: dict[int, int] = {}
        for name, (roots, tree) in groups.items():
            pids = _tree(roots) if tree else roots
            used = 0
            memory = 0.0
            for pid in pids:
                stat = _read_stat(pid)
                if stat is None:
                    continue
                ticks_now[pid] = stat[1]
                used += max(stat[1] - self._last.get(pid, stat[1]), 0)
                memory += _rss_mb(pid)
            cpu[name] = 100.0 * used / CLK_TCK / dt
            rss[name] = memory
        self._last = ticks_now
        with self._lock:
            self.samples.append(Sample(time.time(), cpu, rss))

    def latest(self) -> Sample | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def between(self, start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in self.samples if start <= s.t <= end]

    def stop(self) -> None:
        self._stop.set()
