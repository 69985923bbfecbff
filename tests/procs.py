"""One program under test as a real subprocess: its output lines with their arrival
times, copied to a log file; SIGKILL for crashes, SIGTERM for clean stops; a terminal (pty)
on stdin for the engine's technician keys, or a pipe for the driver's and Central's lines."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.waiting import wait_for

REPO = Path(__file__).resolve().parents[1]


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` from the repository, run to its end (``timeout`` s at most)
    with its output captured; ``env`` adds to the environment. For a program's one-shot
    commands and refusals; the caller checks the return code and reads the output."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})),
        cwd=REPO,
    )


def evc_admin(*args: str) -> subprocess.CompletedProcess[str]:
    """``evc-admin ARGS`` as the operator runs it."""
    return run_module("central_app.admin", *args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    """True when 127.0.0.1:port can be bound now (no server, no connection's local end)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


class Proc:
    """One program: output lines kept with their arrival time and copied to a log file."""

    def __init__(
        self,
        name: str,
        module: str,
        args: list[str],
        log_path: Path,
        *,
        tty: bool = False,
        stdin_pipe: bool = False,
    ) -> None:
        self.name = name
        self.lines: list[tuple[float, str]] = []
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._master: int | None = None
        stdin: Any = subprocess.DEVNULL
        slave = None
        if tty:
            self._master, slave = pty.openpty()
            stdin = slave
        elif stdin_pipe:
            stdin = subprocess.PIPE
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "QT_QPA_PLATFORM": "offscreen"}
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        if slave is not None:
            os.close(slave)
        self._log = log_path.open("a", encoding="utf-8")
        self._log.write(f"===== {time.strftime('%H:%M:%S')} start {module} {' '.join(args)}\n")
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"read-{name}")
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            line = raw.rstrip("\n")
            self.lines.append((time.monotonic(), line))
            self._log.write(f"{time.strftime('%H:%M:%S')} {line}\n")
            self._log.flush()

    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def has(self, text: str, since: float = 0.0) -> bool:
        return any(text in line and at >= since for at, line in list(self.lines))

    def wait_line(self, text: str, timeout: float, since: float = 0.0) -> None:
        wait_for(lambda: self.has(text, since), timeout, f"{self.name} printing {text!r}")

    def press(self, key: str) -> None:
        assert self._master is not None, f"{self.name} was started without a terminal"
        os.write(self._master, key.encode())

    def send_line(self, text: str) -> None:
        assert self.popen.stdin is not None, f"{self.name} was started without a stdin pipe"
        self.popen.stdin.write(text + "\n")
        self.popen.stdin.flush()

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_exit(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a crash."""
        if self.alive:
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self._reader.join(5)

    def terminate(self) -> int:
        if self.alive:
            self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(15)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait(5)
        self._reader.join(5)
        return code

    def close(self) -> None:
        if self.alive:
            self.kill()
        self._reader.join(5)
        if self._master is not None:
            os.close(self._master)
            self._master = None
        if self.popen.stdin is not None:
            with contextlib.suppress(OSError):
                self.popen.stdin.close()
        self._log.close()
