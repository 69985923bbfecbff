"""The engine's ``--no-gui`` face: single keys on a terminal, silence otherwise.

Keys: p plug in, u unplug, m manual supply (the ``--manual-driver`` id), k break (KO),
o repair (OK), s status, q quit. Without a terminal on stdin (``make run``) it reads no keys
and prints the engine's log lines until it is terminated (SIGTERM / Ctrl+C).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from typing import TextIO

from cp_node.engine_service import EngineService, EngineView
from cp_node.texts import status_line

HELP = "Keys: [p] plug in  [u] unplug  [m] manual supply  [k] break (KO)  [o] repair (OK)  [s] status  [q] quit"


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    old = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def echo_lines(lines: list[str], out: TextIO) -> None:
    """Write the engine's log lines (a closed stdout is not an error: the engine goes on)."""
    if not lines:
        return
    try:
        out.write("".join(f"{line}\n" for line in lines))
        out.flush()
    except (OSError, ValueError):
        pass


def run_console(
    service: EngineService,
    stop: threading.Event,
    *,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    if not stdin.isatty():  # no keys to read (make run): the log's lines only
        while not stop.wait(0.2):
            echo_lines(service.drain_log(), out)
        echo_lines(service.drain_log(), out)
        return
    actions = {
        "p": service.plug,
        "u": service.unplug,
        "m": service.manual_request,
        "k": service.break_engine,
        "o": service.repair,
    }
    fd = stdin.fileno()
    print(HELP, file=out, flush=True)
    last_key: tuple | None = None
    with _cbreak(fd):
        while not stop.is_set():
            for line in service.drain_log():
                print(line, file=out, flush=True)
            view = service.view()
            key = _status_key(view)
            if key != last_key:
                last_key = key
                print(status_line(view), file=out, flush=True)
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            char = os.read(fd, 1).decode(errors="replace").lower()
            if char == "q":
                stop.set()
            elif char == "s":
                print(status_line(service.view()), file=out, flush=True)
            elif char in actions:
                actions[char]()
            elif char not in ("\n", "\r", " "):
                print(HELP, file=out, flush=True)
        for line in service.drain_log():
            print(line, file=out, flush=True)


def _status_key(view: EngineView) -> tuple:
    m = view.machine
    # during a supply, a new line every whole kWh keeps the console readable
    return (m.cp_id, m.state, m.fault, m.central_link, view.kafka_up, view.key_waiting, int(m.kwh))
