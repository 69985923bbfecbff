"""A monitor worker process: one uvloop event loop driving a share of the simulated monitors.

The coordinator talks to it over a ``multiprocessing`` pipe with small command tuples; the
loop reads the pipe with ``add_reader``, so commands never wait behind the heartbeats.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from multiprocessing.connection import Connection
from typing import Any

from fleet.limits import raise_nofile
from fleet.monitors import MonitorFleet

log = logging.getLogger(__name__)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop (through ``wire.aio`` when that helper exists), else asyncio's own."""
    try:
        from wire.aio import new_event_loop as wire_loop  # type: ignore[import-not-found]

        return wire_loop()
    except ImportError:
        pass
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:
        return asyncio.new_event_loop()


def worker_main(
    conn: Connection, port: int, cps: list[tuple[str, str, float, float]], options: dict[str, Any]
) -> None:
    """Entry point of a worker process (``multiprocessing`` spawn target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator stops us
    raise_nofile()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    fleet = MonitorFleet(loop, port, cps, **options)

    def on_command() -> None:
        try:
            command, *args = conn.recv()
        except (EOFError, OSError):
            fleet.stop()
            loop.stop()
            return
        reply: object = None
        if command == "start":
            fleet.start(*args)
        elif command == "port":
            fleet.port = args[0]
        elif command == "phase":
            name, stale, sample = args
            fleet.set_phase(name, stale=stale, sample=sample)
        elif command == "snapshot":
            reply = fleet.snapshot()
        elif command == "silence":
            reply = fleet.silence(args[0])
        elif command == "collect":
            reply = fleet.collect()
        elif command == "stop":
            fleet.stop()
            loop.call_later(0.3, loop.stop)
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            fleet.stop()
            loop.stop()

    loop.add_reader(conn.fileno(), on_command)
    try:
        loop.run_forever()
    finally:
        loop.remove_reader(conn.fileno())
        loop.close()
