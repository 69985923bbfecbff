"""The fleet's child processes without a broker or Central: replies larger than the pipe's
buffer, failures and deaths reported by name with their log, TLS session resumption."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from pathlib import Path

import pytest

from fleet.child import ChildDied
from fleet.monitors import SessionContext
from fleet.scenario import Scenario, ScenarioOptions
from fleet.worker import new_event_loop, watch_pipe, worker_main
from wire.pki import Secrets
from wire.tls import client_context, server_context


def test_a_reply_larger_than_the_pipe_buffer_goes_through_a_watched_pipe() -> None:
    # uvloop's add_reader makes the descriptor non-blocking; a 2 MB reply then failed
    # half-way with BlockingIOError ("got end of file during message" on the other side).
    loop = new_event_loop()
    parent, child = multiprocessing.Pipe()
    try:
        watch_pipe(loop, child, lambda: None)
        assert os.get_blocking(child.fileno())
        big = list(range(300_000))
        received: list[object] = []
        reader = threading.Thread(target=lambda: received.append(parent.recv()))
        reader.start()
        child.send(big)
        reader.join(10)
        assert received == [big]
    finally:
        loop.remove_reader(child.fileno())
        loop.close()
        parent.close()
        child.close()


@pytest.mark.process
@pytest.mark.timeout(60)
def test_a_failed_command_and_a_dead_worker_are_named_with_their_log(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    log = tmp_path / "worker-1.log"
    proc = ctx.Process(
        target=worker_main, args=(child, 1, [], {}, str(log), "worker-1"), daemon=True
    )
    proc.start()
    child.close()
    scenario = Scenario(ScenarioOptions(cps=1), "unused:1", tmp_path, None, print)  # type: ignore[arg-type]
    scenario.workers = [(proc, parent)]
    scenario._child(parent, proc, "monitor worker 1", log)
    try:
        with pytest.raises(ChildDied) as failed:
            scenario._ask(parent, "no-such-command", timeout=30)
        text = str(failed.value)
        assert text.startswith("monitor worker 1 failed on 'no-such-command'"), text
        assert "ValueError: unknown command" in text and str(log) in text, text
        assert "Traceback" in log.read_text()
        assert scenario._ask(parent, "snapshot")["authenticated"] == 0  # still serving

        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        with pytest.raises(ChildDied) as died:
            scenario._ask(parent, "snapshot", timeout=5)
        assert str(died.value).startswith("monitor worker 1 died"), died.value
        fallback = scenario._collect_worker(parent, 0)  # what the table gets for it
        assert fallback["intervals"] == {} and scenario.error is not None
    finally:
        if proc.is_alive():
            proc.kill()
        parent.close()


def test_shutdown_asks_a_worker_to_stop_and_kills_one_that_does_not_answer(
    tmp_path: Path,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    children = []
    for n in (1, 2):
        parent, child = ctx.Pipe()
        log = tmp_path / f"worker-{n}.log"
        proc = ctx.Process(
            target=worker_main, args=(child, n, [], {}, str(log), f"worker-{n}"), daemon=True
        )
        proc.start()
        child.close()
        children.append((proc, parent))
    scenario = Scenario(ScenarioOptions(cps=1), "unused:1", tmp_path, None, print)  # type: ignore[arg-type]
    for n, (proc, parent) in enumerate(children, 1):
        scenario._child(parent, proc, f"monitor worker {n}", tmp_path / f"worker-{n}.log")
    polite, stuck = children
    try:
        assert scenario._ask(polite[1], "snapshot")["authenticated"] == 0  # both are serving
        assert scenario._ask(stuck[1], "snapshot")["authenticated"] == 0
        scenario.workers = [polite]
        scenario._shutdown()
        assert polite[0].exitcode == 0  # stopped when asked
        os.kill(stuck[0].pid, signal.SIGSTOP)  # alive, but answers nothing
        scenario._stop_child(*stuck, ask_s=0.5, join_s=0.5)
        stuck[0].join(10)
        assert stuck[0].exitcode == -signal.SIGKILL  # killed once its time was up
    finally:
        for proc, parent in children:
            if proc.is_alive():
                proc.kill()
            parent.close()


def test_monitors_resume_their_tls_session(tmp_path: Path) -> None:
    secrets = Secrets(tmp_path / "secrets")
    secrets.init()
    server_ctx = server_context(secrets.cert("central"), secrets.key("central"))
    client_ctx = client_context(secrets.ca_cert)

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)  # type: ignore[attr-defined]

    class Client(asyncio.Protocol):
        def __init__(self, done: asyncio.Future[tuple[object, bool]]) -> None:
            self.done = done

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            transport.write(b"x")  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            tls = self.transport.get_extra_info("ssl_object")
            self.done.set_result((tls.session, tls.session_reused))
            self.transport.close()

    async def run(loop: asyncio.AbstractEventLoop) -> list[bool]:
        server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=server_ctx)
        port = server.sockets[0].getsockname()[1]
        session, reused = None, []
        for _ in range(3):
            done: asyncio.Future[tuple[object, bool]] = loop.create_future()
            context = client_ctx if session is None else SessionContext(client_ctx, session)  # type: ignore[arg-type]
            await loop.create_connection(
                lambda d=done: Client(d),
                "127.0.0.1",
                port,
                ssl=context,
                server_hostname="127.0.0.1",
            )
            got, was_reused = await done
            session = got or session
            reused.append(was_reused)
        server.close()
        return reused

    loop = new_event_loop()
    try:
        assert loop.run_until_complete(run(loop)) == [False, True, True]
    finally:
        loop.close()
