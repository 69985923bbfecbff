"""A monitor worker process: one uvloop event loop driving a share of the simulated monitors.

The coordinator talks to it over a ``multiprocessing`` pipe with small command tuples; the
loop reads the pipe with ``add_reader``, so commands never wait behind the heartbeats.

The pipe stays *blocking*: libuv's poll handle (behind uvloop's ``add_reader``) switches the
descriptor to non-blocking, and then ``Connection.send`` of a reply larger than the socket
buffer (~200 KiB: ``collect`` of a few thousand CPs, with every CP's up intervals) fails
half-way with ``BlockingIOError`` — the coordinator read half a message and "got end of file
during message". :func:`watch_pipe` puts the descriptor back to blocking after registering it.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from fleet.child import ChildFailure, describe, log_to
from fleet.limits import raise_nofile
from fleet.monitors import MonitorFleet

log = logging.getLogger("fleet.worker")


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


def watch_pipe(
    loop: asyncio.AbstractEventLoop, conn: Connection, callback: Callable[[], None]
) -> None:
    """``loop.add_reader`` on the pipe, which then stays blocking (see the module docstring)."""
    loop.add_reader(conn.fileno(), callback)
    os.set_blocking(conn.fileno(), True)


def worker_main(
    conn: Connection,
    port: int | list[int],
    cps: list[tuple[str, str, float, float]],
    options: dict[str, Any],
    log_path: str | None = None,
    name: str = "worker",
) -> None:
    """Entry point of a worker process (``multiprocessing`` spawn target)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator stops us
    log_to(Path(log_path) if log_path else None, name)
    try:
        _serve(conn, port, cps, options)
    except BaseException:
        log.exception("%s died", name)
        raise


def _serve(
    conn: Connection, port: int, cps: list[tuple[str, str, float, float]], options: dict[str, Any]
) -> None:
    raise_nofile()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    fleet = MonitorFleet(loop, port, cps, **options)

    def quit_now() -> None:
        fleet.stop()
        loop.stop()

    def on_command() -> None:
        try:
            command, *args = conn.recv()
        except (EOFError, OSError) as exc:
            log.warning("pipe from the coordinator closed (%s): stopping", describe(exc))
            quit_now()
            return
        reply: object = None
        try:
            reply = _dispatch(fleet, loop, command, args)
        except Exception as exc:
            log.exception("command %r failed", command)
            reply = ChildFailure(command, describe(exc))
        try:
            conn.send(reply)
        except Exception:
            log.exception("could not send the reply to %r to the coordinator", command)
            quit_now()

    watch_pipe(loop, conn, on_command)
    try:
        loop.run_forever()
    finally:
        loop.remove_reader(conn.fileno())
        loop.close()


def _dispatch(
    fleet: MonitorFleet, loop: asyncio.AbstractEventLoop, command: str, args: list[Any]
) -> object:
    if command == "start":
        fleet.start(*args)
    elif command == "port":
        fleet.port = args[0]
    elif command == "phase":
        name, stale, sample = args
        fleet.set_phase(name, stale=stale, sample=sample)
        # The monitors' objects live for the whole run: out of the collector's way, so a
        # full collection does not stall this worker's clock (its lag counts as latency).
        gc.freeze()
    elif command == "snapshot":
        return fleet.snapshot()
    elif command == "silence":
        return fleet.silence(args[0])
    elif command == "collect":
        return fleet.collect()
    elif command == "stop":
        fleet.stop()
        loop.call_later(0.3, loop.stop)
    else:
        raise ValueError(f"unknown command {command!r}")
    return None
