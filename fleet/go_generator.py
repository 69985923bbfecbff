"""The Go monitor generator (``fleet/gomon``): building it, and driving it as the monitor side
of a scenario in place of the Python worker processes (``--generator go``).

One Go process (``evc-gomon``) simulates every CP monitor with the semantics of
``fleet/monitors.py`` and keeps the same per-phase figures. The coordinator speaks to it one
JSON object per line on its stdin/stdout (``fleet/gomon/main.go`` lists the commands);
``GoMonitors`` turns the coordinator's worker commands (``("phase", name, stale, sample)``
…) into those lines and the replies back into ``PhaseStats``, so ``fleet.scenario`` drives it
through the same ``send``/``poll``/``recv`` as a worker's pipe and ``results``/``report``
need no change. Its stderr is its log (``gomon.log`` in the scenario's dir).

The binary is built with the Go toolchain Debian packages (``golang-go``, Go 1.19 in
bookworm; ``scripts/setup-system`` installs it) into ``build/gomon/`` (git-ignored), again
whenever a source file is newer: ``python -m fleet.go_generator build`` (``make gomon``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from fleet.child import ChildDied, ChildFailure, last_line
from fleet.errors import FleetError
from fleet.monitors import PhaseStats
from fleet.stats import Histogram

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "fleet" / "gomon"
BUILD_DIR = REPO / "build" / "gomon"
BINARY = BUILD_DIR / "evc-gomon"
SETUP = "run `make setup` (as root it installs Debian's golang-go) or `apt-get install golang-go`"


class GoMissing(FleetError):
    """No Go toolchain to build the generator with."""


def find_go() -> str | None:
    """``go`` on PATH, else where Debian's golang-go or an official tarball puts it."""
    found = shutil.which("go")
    if found:
        return found
    candidates = ["/usr/lib/go/bin/go", *sorted(glob.glob("/usr/lib/go-*/bin/go"), reverse=True)]
    candidates.append("/usr/local/go/bin/go")
    return next((c for c in candidates if os.access(c, os.X_OK)), None)


def _sources() -> list[Path]:
    return [p for p in SOURCE.glob("*.go") if not p.name.endswith("_test.go")] + [SOURCE / "go.mod"]


def is_built() -> bool:
    """The binary exists and is newer than every source file."""
    try:
        built = BINARY.stat().st_mtime
    except OSError:
        return False
    return all(p.stat().st_mtime <= built for p in _sources())


def go_env() -> dict[str, str]:
    """The environment of a build: this toolchain only, no module download, no C compiler."""
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", CGO_ENABLED="0", GOFLAGS="")
    if "GOCACHE" not in env and not env.get("HOME"):
        env["GOCACHE"] = str(BUILD_DIR / "go-build")
    return env


def build(*, force: bool = False) -> Path:
    """The generator's binary, built first if missing or older than its sources."""
    if not force and is_built():
        return BINARY
    go = find_go()
    if go is None:
        raise GoMissing(
            f"the Go monitor generator needs a Go toolchain, none is installed: {SETUP}"
        )
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    partial = BUILD_DIR / f".evc-gomon.{os.getpid()}"
    try:
        done = subprocess.run(
            [go, "build", "-trimpath", "-o", str(partial), "."],
            cwd=SOURCE,
            env=go_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FleetError(f"cannot build the Go monitor generator with {go}: {exc}") from exc
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise FleetError(
            f"building the Go monitor generator with {go} failed:\n{done.stdout}{done.stderr}"
        )
    os.replace(partial, BINARY)  # atomic: a concurrent build or run never sees half a file
    return BINARY


# --- the coordinator's side of the line protocol ----------------------------------------------


def _histogram(data: dict[str, Any]) -> Histogram:
    return Histogram(
        buckets={int(k): int(v) for k, v in data["buckets"].items()},
        count=int(data["count"]),
        total=float(data["total"]),
        low=math.inf if data["low"] is None else float(data["low"]),
        high=float(data["high"]),
    )


def phase_stats(data: dict[str, Any]) -> PhaseStats:
    """A ``PhaseStats`` from the generator's JSON (the same field names)."""
    stats = PhaseStats()
    for f in dataclasses.fields(PhaseStats):
        if f.name not in data:
            continue
        if f.name in ("latency", "tick_lag"):
            setattr(stats, f.name, _histogram(data[f.name]))
        elif f.name == "auth_times":
            stats.auth_times = [float(t) for t in data[f.name] or []]
        else:
            setattr(stats, f.name, int(data[f.name]))
    return stats


def _from_go(command: str, result: Any) -> Any:
    if command == "snapshot":
        result["stats"] = phase_stats(result["stats"])
    elif command == "collect":
        result["stats"] = {name: phase_stats(s) for name, s in result["stats"].items()}
        result["stale"] = phase_stats(result["stale"])
    return result


def _to_go(command: tuple[Any, ...]) -> dict[str, Any]:
    name, *args = command
    if name == "start":
        return {"cmd": name, "spread": args[0]}
    if name == "phase":
        return {"cmd": name, "name": args[0], "stale": bool(args[1]), "sample": bool(args[2])}
    if name == "silence":
        return {"cmd": name, "count": args[0]}
    if name == "port":
        return {"cmd": name, "ports": args[0] if isinstance(args[0], list) else [args[0]]}
    return {"cmd": name, "args": args}  # snapshot, collect, stop (or unknown: an error reply)


class GoMonitors:
    """The running generator, with the two faces ``fleet.scenario`` expects of a monitor
    worker: a process (``pid``, ``is_alive``, ``join``, ``kill``, ``exitcode``) and the end of
    a pipe (``send``, ``poll``, ``recv``). Replies are read by a thread into a queue."""

    def __init__(self, argv: list[str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log, "ab")  # noqa: SIM115 (kept open while it runs)
        try:
            # A session of its own is a scheduling group of its own (the kernel's autogroup,
            # as the broker and Central have): in evc-fleet's session it shared one group's
            # share of its core with the Kafka simulation's threads, while the broker's group
            # took the other half. Not a higher priority (no nice); it still ends by itself
            # when its stdin closes.
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log,
                start_new_session=True,
            )
        except OSError as exc:
            self._log.close()
            raise FleetError(f"cannot start the Go monitor generator ({argv[0]}): {exc}") from exc
        self.log = log
        self._lines: queue.Queue[bytes | None] = queue.Queue()
        self._ready: bytes | None = None
        self._eof = False
        self._pending: deque[str] = deque()
        self.runtime: dict[str, Any] = {}  # the Go version and GOMAXPROCS it runs with
        self._reader = threading.Thread(target=self._read, name="gomon-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    # --- the process face ---------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def exitcode(self) -> int | None:
        return self.proc.poll()

    def is_alive(self) -> bool:
        return self.proc.poll() is None

    def join(self, timeout: float | None = None) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout)
        if self.proc.returncode is not None:
            self._close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        for stream in (self.proc.stdin, self._log):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()

    # --- the pipe face ------------------------------------------------------------------

    def send(self, command: tuple[Any, ...] | dict[str, Any]) -> None:
        message = command if isinstance(command, dict) else _to_go(command)
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            raise OSError("the Go monitor generator's stdin is closed")
        stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
        stdin.flush()  # BrokenPipeError (an OSError) when it died
        self._pending.append(str(message["cmd"]))

    def poll(self, timeout: float | None = None) -> bool:
        if self._ready is not None or self._eof:
            return True
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is None:
            self._eof = True
        else:
            self._ready = line
        return True

    def recv(self) -> Any:
        if not self.poll(None) or self._eof:
            raise EOFError("the Go monitor generator closed its stdout")
        line, self._ready = self._ready, None
        command = self._pending.popleft() if self._pending else ""
        try:
            reply = json.loads(line or b"")
        except ValueError as exc:
            raise EOFError(f"the Go monitor generator wrote {line!r}: {exc}") from exc
        if reply.get("error"):
            return ChildFailure(command, str(reply["error"]))
        return _from_go(command, reply.get("ok"))


def start(
    ports: list[int],
    cps: list[tuple[Any, ...]],
    options: dict[str, Any],
    log: Path,
    prefix: list[str] | None = None,
    timeout: float = 60.0,
) -> GoMonitors:
    """Start the generator (built first if needed) with the CPs and the options of
    ``fleet.monitors.MonitorFleet`` (``tokens`` included); ``prefix`` e.g. ``taskset -c 1``."""
    binary = build()
    monitors = GoMonitors([*(prefix or []), str(binary)], log)
    message = {
        "cmd": "init",
        "ports": list(ports),
        "cps": [{"id": c[0], "claim": c[1], "x": c[2], "y": c[3]} for c in cps],
        **{k: v for k, v in options.items() if v is not None},
    }
    try:
        monitors.send(message)
        if not monitors.poll(timeout):
            raise ChildDied(f"the Go monitor generator did not start within {timeout:.0f}s")
        reply = monitors.recv()
    except (OSError, EOFError) as exc:
        monitors.join(2)
        reason = last_line(log) or f"exit code {monitors.exitcode}"
        raise ChildDied(f"the Go monitor generator died at start: {reason} (see {log})") from exc
    if isinstance(reply, ChildFailure):
        monitors.kill()
        raise ChildDied(f"the Go monitor generator refused its set-up: {reply.error}")
    monitors.runtime = {k: v for k, v in reply.items() if k != "cps"}
    return monitors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m fleet.go_generator", description="Build evc-fleet's Go generator."
    )
    parser.add_argument("action", choices=["build"])
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--if-go",
        action="store_true",
        help="without a Go toolchain, say so and succeed (make setup on a machine without Go)",
    )
    args = parser.parse_args(argv)
    fresh = not args.force and is_built()
    try:
        binary = build(force=args.force)
    except GoMissing as exc:
        print(f"evc-fleet: {exc}", file=sys.stderr)
        return 0 if args.if_go else 2
    except FleetError as exc:
        print(f"evc-fleet: {exc}", file=sys.stderr)
        return 2
    if not fresh:
        print(f"evc-fleet: Go monitor generator built: {binary.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
