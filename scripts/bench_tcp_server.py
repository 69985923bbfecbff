#!/usr/bin/env python3
"""Micro-benchmark of Central's framed-TCP server (``wire.tcp_server.FramedServer``).

Why: Central must carry 10,000 monitors with one HEARTBEAT a second each on a 2-core machine
next to a Kafka broker, with p99 < 100 ms and well under one core for the TCP part. This
measures exactly that part: one process runs the server (uvloop, a trivial synchronous
handler answering HEARTBEAT with ALIVE), another process runs N monitor-like clients
(``asyncio.Protocol`` on uvloop, one HEARTBEAT a second each with phases spread over the
second, ACKing every response as a monitor does, never sending before the previous answer
came). The load process reads the server's CPU time and RSS from ``/proc/<pid>``.

    .venv/bin/python scripts/bench_tcp_server.py                 # N = 1000, 5000, 10000
    .venv/bin/python scripts/bench_tcp_server.py --counts 2000 --duration 5
    .venv/bin/python scripts/bench_tcp_server.py --tls --counts 10000 --connect-concurrency 10000

``--tls`` runs the server with TLS (an ECDSA P-256 certificate from a throw-away private CA,
``wire.pki``) and the clients verify it. The connect phase then measures the handshakes:
handshakes/s and the server's CPU time per handshake while N clients connect at once
(``--connect-concurrency N``: a restart storm). The clients then close and all reconnect
offering their TLS session (``ssl.SSLSession``, as ``CentralClient`` does), which measures
resumed handshakes; the steady phase runs over the resumed connections.

Both processes raise their open-files limit to the hard limit first. Figures depend on what
else the machine runs: treat them as indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wire.aio import new_event_loop  # noqa: E402
from wire.framing import Control, encode_frame  # noqa: E402
from wire.limits import raise_open_files_limit, safe_max_connections  # noqa: E402
from wire.pki import Secrets  # noqa: E402
from wire.tcp_messages import AdminState, Alive, EngineHealth, Error, Heartbeat  # noqa: E402
from wire.tcp_server import Connection, FramedServer  # noqa: E402
from wire.tls import client_context, server_context  # noqa: E402

ACK, NACK, STX, ETX, ENQ, EOT = (
    Control.ACK,
    Control.NACK,
    Control.STX,
    Control.ETX,
    Control.ENQ,
    Control.EOT,
)
SLOTS = 100  # the second is cut into 10 ms slots; each client sends in its own slot
CONNECT_CONCURRENCY = 256


# -- server process -------------------------------------------------------------------------


def handle(conn: Connection, request: object) -> Alive | Error:
    """The fast path: a synchronous answer, as Central's heartbeat handler gives."""
    if isinstance(request, Heartbeat):
        return Alive(request.cp_id, AdminState.ACTIVE)
    return Error("unexpected")


def serve(secrets: Secrets | None) -> None:
    limit = raise_open_files_limit()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    context = None
    if secrets is not None:
        context = server_context(secrets.cert("central"), secrets.key("central"))
    server = FramedServer(
        handle,
        host="127.0.0.1",
        port=0,
        max_connections=safe_max_connections(limit),
        ssl=context,
    )
    port = loop.run_until_complete(server.start())
    print(json.dumps({"port": port, "loop": type(loop).__module__, "nofile": limit}), flush=True)
    stop = loop.create_future()
    loop.add_reader(sys.stdin.fileno(), lambda: stop.done() or stop.set_result(None))
    loop.run_until_complete(stop)  # the orchestrator closes our stdin to stop us
    loop.run_until_complete(server.close())
    loop.close()


# -- load process ---------------------------------------------------------------------------


class Monitor(asyncio.Protocol):
    """One monitor connection: ENQ, then HEARTBEATs when told to, ACKing each response."""

    def __init__(self, stats: Stats, cp_id: str, ready: asyncio.Future[None]) -> None:
        self.stats = stats
        self.request = encode_frame(Heartbeat(cp_id, EngineHealth.OK).to_bytes())
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.session = False
        self.sent_at = 0.0  # 0: no request outstanding
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(bytes([ENQ]))

    def connection_lost(self, exc: Exception | None) -> None:
        self.session = False
        self.stats.lost += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the handshake"))

    def beat(self) -> None:
        if not self.session:
            return
        if self.sent_at:  # the previous answer has not come: a monitor would wait too
            self.stats.overdue += 1
            return
        self.sent_at = time.perf_counter()
        if self.stats.measuring:
            self.stats.sent += 1
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        i, n = 0, len(buf)
        while i < n:
            byte = buf[i]
            if byte == STX:
                end = buf.find(ETX, i)
                if end < 0 or end + 1 >= n:
                    break  # incomplete frame: keep it for the next segment
                body = buf[i + 1 : end]
                i = end + 2
                self.transport.write(bytes([ACK]))
                if self.sent_at:
                    self.stats.answered(self.sent_at, time.perf_counter(), body)
                    self.sent_at = 0.0
                continue
            if byte == ACK and not self.session:
                self.session = True
                self.ready.set_result(None)
            elif byte == NACK:
                self.stats.nacks += 1
                if not self.session and not self.ready.done():
                    self.ready.set_exception(ConnectionError("ENQ refused"))
            i += 1
        self.buf = buf[i:]


class TlsClient(asyncio.Protocol):
    """TLS on an ``ssl.SSLObject`` under a ``Monitor`` (asyncio's own TLS cannot offer a
    saved session, and resuming is what a reconnecting monitor does)."""

    def __init__(self, inner: Monitor, context: ssl.SSLContext, session: object) -> None:
        self.inner = inner
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname="127.0.0.1", session=session
        )
        self.transport: asyncio.Transport | None = None
        self.established = False
        self.closing = False

    # the part of asyncio.Transport that Monitor uses
    def write(self, data: bytes) -> None:
        self.tls.write(data)
        self._flush()

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def is_closing(self) -> bool:
        return self.closing or self.transport is None or self.transport.is_closing()

    @property
    def session(self) -> object:
        return self.tls.session

    @property
    def resumed(self) -> bool:
        return self.tls.session_reused

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data and self.transport is not None:
            self.transport.write(data)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._handshake()

    def _handshake(self) -> None:
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            self._flush()
            return
        except ssl.SSLError:
            self.close()
            return
        self._flush()
        self.established = True
        self.inner.connection_made(self)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.incoming.write(data)
        if not self.established:
            self._handshake()
            if not self.established:
                return
        chunks = []
        while True:
            try:
                chunk = self.tls.read(65536)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLError:
                self.close()
                break
            if not chunk:
                break
            chunks.append(chunk)
        self._flush()
        if chunks:
            self.inner.data_received(b"".join(chunks))

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)


class Stats:
    def __init__(self) -> None:
        self.measuring = False  # requests sent while True are the measured ones
        self.window = (float("inf"), float("inf"))
        self.sent = 0
        self.latencies: list[float] = []
        self.errors = 0
        self.overdue = 0
        self.nacks = 0
        self.lost = 0

    def answered(self, sent_at: float, now: float, body: bytes) -> None:
        if not body.startswith(b"ALIVE#"):
            self.errors += 1
        if self.window[0] <= sent_at < self.window[1]:
            self.latencies.append(now - sent_at)


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def load(
    port: int,
    count: int,
    server_pid: int,
    warmup: float,
    duration: float,
    ca: Path | None = None,
    concurrency: int = CONNECT_CONCURRENCY,
) -> dict:
    loop = asyncio.get_running_loop()
    stats = Stats()
    monitors: list[Monitor] = []
    gate = asyncio.Semaphore(concurrency)
    context = client_context(ca) if ca is not None else None
    sessions: dict[int, object] = {}
    tls_info: dict[str, object] = {}

    async def connect(i: int) -> None:
        async with gate:
            ready = loop.create_future()
            monitor = Monitor(stats, f"CP-{i:05d}", ready)
            if context is None:
                await loop.create_connection(lambda: monitor, "127.0.0.1", port)
            else:
                wrapper = TlsClient(monitor, context, sessions.get(i))
                monitor.tls = wrapper  # type: ignore[attr-defined]
                await loop.create_connection(lambda: wrapper, "127.0.0.1", port)
            await asyncio.wait_for(ready, 30)
            monitor.index = i  # type: ignore[attr-defined]
            monitors.append(monitor)

    async def connect_all() -> tuple[float, float, int]:
        cpu0, t0 = proc_cpu_seconds(server_pid), time.perf_counter()
        results = await asyncio.gather(*(connect(i) for i in range(count)), return_exceptions=True)
        seconds = time.perf_counter() - t0
        cpu = proc_cpu_seconds(server_pid) - cpu0
        return seconds, cpu, sum(1 for r in results if isinstance(r, BaseException))

    connect_s, connect_cpu, failed_count = await connect_all()
    if context is not None:
        tls_info["full_handshakes_per_s"] = round(len(monitors) / connect_s)
        tls_info["full_server_cpu_s"] = round(connect_cpu, 2)
        tls_info["full_server_ms_per_handshake"] = round(
            1000 * connect_cpu / max(1, len(monitors)), 3
        )
        # every client closes and reconnects offering its session: resumed handshakes
        sessions = {m.index: m.tls.session for m in monitors}  # type: ignore[attr-defined]
        for monitor in monitors:
            monitor.transport.write(bytes([EOT]))
            monitor.transport.close()
        monitors.clear()
        await asyncio.sleep(1.0)
        stats.lost = 0
        resume_s, resume_cpu, failed_count = await connect_all()
        resumed = sum(1 for m in monitors if m.tls.resumed)  # type: ignore[attr-defined]
        tls_info["resumed"] = resumed
        tls_info["resumed_handshakes_per_s"] = round(len(monitors) / resume_s)
        tls_info["resumed_server_cpu_s"] = round(resume_cpu, 2)
        tls_info["resumed_server_ms_per_handshake"] = round(
            1000 * resume_cpu / max(1, len(monitors)), 3
        )
        tls_info["resume_s"] = round(resume_s, 2)

    slots: list[list[Monitor]] = [[] for _ in range(SLOTS)]
    for monitor in monitors:
        slots[random.randrange(SLOTS)].append(monitor)  # jittered phases

    async def ticker(until: float) -> None:
        start = time.perf_counter()
        done = 0  # slots sent so far, counted from start
        while True:
            now = time.perf_counter()
            if now >= until:
                return
            due = int((now - start) * SLOTS)
            while done <= due:
                for monitor in slots[done % SLOTS]:
                    monitor.beat()
                done += 1
            await asyncio.sleep((done - (now - start) * SLOTS) / SLOTS)

    begin = time.perf_counter()
    beating = asyncio.ensure_future(ticker(begin + warmup + duration))
    await asyncio.sleep(warmup)
    overdue_before = stats.overdue
    cpu_before, own_before = proc_cpu_seconds(server_pid), time.process_time()
    stats.measuring = True
    window_start = time.perf_counter()
    stats.window = (window_start, float("inf"))
    await beating
    window_end = time.perf_counter()
    stats.measuring = False
    stats.window = (window_start, window_end)
    window = window_end - window_start
    cpu_after, own_after = proc_cpu_seconds(server_pid), time.process_time()
    sent = stats.sent
    await asyncio.sleep(1.0)  # let the last answers of the window arrive
    latencies = sorted(stats.latencies)

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    result = {
        "n": count,
        "connected": len(monitors),
        "connect_failed": failed_count,
        "connect_s": round(connect_s, 2),
        "connect_server_cpu_s": round(connect_cpu, 2),
        **tls_info,
        "window_s": round(window, 2),
        "exchanges_per_s": round(len(latencies) / window),
        "sent": sent,
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "answered_pct": round(100 * len(latencies) / sent, 2) if sent else 0.0,
        "overdue": stats.overdue - overdue_before,
        "errors": stats.errors,
        "nacks": stats.nacks,
        "server_cpu_pct": round(100 * (cpu_after - cpu_before) / window, 1),
        "server_rss_mib": round(proc_rss_mib(server_pid), 1),
        "load_cpu_pct": round(100 * (own_after - own_before) / window, 1),
    }
    for monitor in monitors:
        if monitor.transport is not None and not monitor.transport.is_closing():
            monitor.transport.write(bytes([EOT]))
            monitor.transport.close()
    await asyncio.sleep(0.2)
    return result


def run_load(args: argparse.Namespace) -> None:
    raise_open_files_limit()
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    result = loop.run_until_complete(
        load(
            args.port,
            args.load,
            args.server_pid,
            args.warmup,
            args.duration,
            ca=Path(args.secrets) / "ca.pem" if args.secrets else None,
            concurrency=args.connect_concurrency,
        )
    )
    print(json.dumps(result), flush=True)
    loop.close()


# -- orchestration --------------------------------------------------------------------------


COLUMNS = [
    ("N", "n", "{:>6}"),
    ("exch/s", "exchanges_per_s", "{:>7}"),
    ("p50 ms", "p50_ms", "{:>7.2f}"),
    ("p99 ms", "p99_ms", "{:>7.2f}"),
    ("max ms", "max_ms", "{:>7.1f}"),
    ("answered %", "answered_pct", "{:>10.2f}"),
    ("server CPU %", "server_cpu_pct", "{:>12.1f}"),
    ("server RSS MiB", "server_rss_mib", "{:>14.1f}"),
    ("loadgen CPU %", "load_cpu_pct", "{:>13.1f}"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", default="1000,5000,10000")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per N")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--tls", action="store_true", help="TLS with a throw-away private CA")
    parser.add_argument(
        "--connect-concurrency",
        type=int,
        default=CONNECT_CONCURRENCY,
        help=f"clients connecting at once (default {CONNECT_CONCURRENCY})",
    )
    parser.add_argument("--secrets", help=argparse.SUPPRESS)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--server-pid", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Secrets(Path(args.secrets)) if args.secrets else None)
        return
    if args.load:
        run_load(args)
        return

    me = [sys.executable, str(Path(__file__).resolve())]
    tls: list[str] = []
    if args.tls:
        secrets_dir = tempfile.mkdtemp(prefix="evc-bench-secrets-")
        Secrets(Path(secrets_dir)).init()
        tls = ["--secrets", secrets_dir]
    server = subprocess.Popen([*me, "--serve", *tls], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        info = json.loads(server.stdout.readline())
        print(
            f"server pid {server.pid} on port {info['port']}, loop {info['loop']}, "
            f"open-files limit {info['nofile']}; {os.cpu_count()} CPUs"
        )
        rows = []
        for count in (int(c) for c in args.counts.split(",")):
            out = subprocess.run(
                [
                    *me,
                    "--load",
                    str(count),
                    "--port",
                    str(info["port"]),
                    "--server-pid",
                    str(server.pid),
                    "--warmup",
                    str(args.warmup),
                    "--duration",
                    str(args.duration),
                    "--connect-concurrency",
                    str(args.connect_concurrency),
                    *tls,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            row = rows[-1]
            print(
                f"  N={count}: connected {row['connected']} in {row['connect_s']} s, "
                f"{row['connect_failed']} failed, {row['overdue']} overdue beats, "
                f"{row['errors']} wrong answers, {row['nacks']} NACKs; "
                f"server CPU while connecting {row['connect_server_cpu_s']} s",
                flush=True,
            )
            if args.tls:
                print(
                    f"  TLS: full handshakes {row['full_handshakes_per_s']}/s, server "
                    f"{row['full_server_ms_per_handshake']} ms CPU each; resumed "
                    f"{row['resumed']}/{row['connected']} in {row['resume_s']} s, "
                    f"{row['resumed_handshakes_per_s']}/s, server "
                    f"{row['resumed_server_ms_per_handshake']} ms CPU each",
                    flush=True,
                )
        print(" | ".join(title for title, _key, _fmt in COLUMNS))
        for row in rows:
            print(" | ".join(fmt.format(row[key]).rjust(len(title)) for title, key, fmt in COLUMNS))
    finally:
        server.stdin.close()
        server.wait(30)


if __name__ == "__main__":
    main()
