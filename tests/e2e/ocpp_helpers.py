"""The OCPP side of the e2e tests: EV_OCPP as a process, and a charger driven from a test.

``Charger`` is ``ocpp_gateway.sim.SimCharger`` — the ``ocpp`` library's own ``ChargePoint``
— or, with ``version="2.0.1"``, ``ocpp_gateway.sim_v201.SimCharger201`` (the library's v201
one, the same methods) over a real WebSocket (``websockets``), on an event loop in a thread of its own, so the
test's blocking waits (``wait_for``) never stall the charger's answers. Every method runs a
coroutine on that loop and waits for it with a deadline. ``kill()`` aborts the TCP
connection without a close frame, as a cut cable or a crashed charger would.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from ocpp_gateway.sim import SUBPROTOCOLS, SimCharger, basic_auth_header, charger_class, client_tls
from tests.e2e.harness import Network, Proc
from tests.procs import evc_admin, free_port, port_open
from tests.waiting import wait_for


class Gateway:
    """EV_OCPP for a test network, with its own password file and state."""

    def __init__(self, network: Network, *extra: str, heartbeat: int = 2, profile: int = 1) -> None:
        self.network = network
        self.port = free_port()
        self.heartbeat = heartbeat
        self.profile = profile  # OCPP security profile towards the chargers (2, 3: wss://)
        self.passwords = network.tmp / "ocpp-passwords.json"
        self.tokens = network.tmp / "ocpp-enroll"  # --enroll-tokens: <charger id>.token each
        self.extra = list(extra)
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"{'wss' if self.profile > 1 else 'ws'}://127.0.0.1:{self.port}/ocpp"

    def charger_tls(self, cp_id: str | None = None) -> ssl.SSLContext | None:
        """What a charger needs for this gateway's ``wss://``: the project's CA as its trusted
        root and, in profile 3, the certificate ``evc-admin ocpp cert`` issued for
        ``cp_id``."""
        if self.profile == 1:
            return None
        secrets = self.network.secrets
        assert secrets is not None, "wss:// needs the network's secrets directory"
        if self.profile == 3 and cp_id is not None:
            cert = self.issue_cert(cp_id)
            return client_tls(secrets.ca_cert, cert, cert.with_suffix(".key"))
        return client_tls(secrets.ca_cert)

    def issue_cert(self, cp_id: str) -> Path:
        """``evc-admin ocpp cert ID`` as the operator runs it (where the CA is); the
        certificate's path, its key beside it."""
        secrets = self.network.secrets
        assert secrets is not None
        out = self.network.tmp / "ocpp-charger-certs"
        done = evc_admin("ocpp", "cert", cp_id, "--dir", str(secrets.root), "--out", str(out))
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip())

    def set_password(self, cp_id: str, cps: list[str] | None = None) -> str:
        """``evc-admin ocpp password`` as the operator runs it; returns the password. Secured,
        each CP of the charger (``cps``, its connectors' when it has several; else its own
        id) that has no Central credential yet also gets its enrollment token in the
        gateway's folder (``evc-admin cp enroll ID --token-file DIR/ID.token``), as an
        operator commissioning it would."""
        net = self.network
        for cp in cps or [cp_id]:
            if (
                net.secrets is not None
                and not (net.tmp / "ocpp-credentials" / f"{cp}.cred").exists()
            ):
                net.enroll(cp, self.tokens / f"{cp}.token")
        done = evc_admin("ocpp", "password", cp_id, "--file", str(self.passwords))
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def start(self) -> Proc:
        net = self.network
        security = (
            ["--insecure"]
            if net.secrets is None
            else ["--central-ca", str(net.secrets.ca_cert), *net.kafka_args("engine")]
        )
        args = [
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--central",
            f"127.0.0.1:{net.central_port}",
            "--kafka",
            net.kafka,
            "--topic-prefix",
            net.topics.prefix,
            "--heartbeat-interval",
            str(self.heartbeat),
            "--passwords",
            str(self.passwords),
            "--credentials-dir",
            str(net.tmp / "ocpp-credentials"),
            "--enroll-tokens",
            str(self.tokens),
            "--state-dir",
            str(net.tmp / "ocpp-state"),
            "--log-level",
            "WARNING",
            *security,
            "--security-profile",
            str(self.profile),
            *self.tls_args(),
            *self.extra,
        ]
        self.proc = net._spawn("ocpp-gateway", "ocpp_gateway.main", args)
        wait_for(lambda: port_open(self.port), 30, "EV_OCPP listening")
        return self.proc

    def tls_args(self) -> list[str]:
        secrets = self.network.secrets
        if self.profile == 1 or secrets is None:
            return []
        return [
            "--ocpp-cert",
            str(secrets.cert("ocpp")),
            "--ocpp-key",
            str(secrets.key("ocpp")),
            "--ocpp-ca",
            str(secrets.ca_cert),
        ]


def _read_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


class Charger:
    """One OCPP charge point under the test's control."""

    def __init__(
        self,
        url: str,
        cp_id: str,
        password: str = "",
        tls: ssl.SSLContext | None = None,
        version: str = "1.6",
        **sim: Any,
    ) -> None:
        self.url, self.cp_id, self.password = url, cp_id, password
        self.version = version  # the OCPP version it speaks: "1.6" or "2.0.1"
        self.tls = tls  # wss:// (security profiles 2 and 3)
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.ws: ClientConnection | None = None
        self.cp: SimCharger | None = None
        self._reader: asyncio.Task[None] | None = None
        self._beat: asyncio.Task[None] | None = None
        self.meter_wh = 0.0
        self.interval = 30  # until a BootNotification.conf says otherwise

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 20.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def connect(self, password: str | None = None) -> None:
        """Open the WebSocket (raises websockets' InvalidStatus when refused)."""
        self.run(self._connect(self.password if password is None else password))

    async def _connect(self, password: str) -> None:
        headers = basic_auth_header(self.cp_id, password) if password else None
        self.ws = await websockets.connect(
            f"{self.url}/{self.cp_id}",
            subprotocols=[SUBPROTOCOLS[self.version]],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=self.tls,
        )
        kind = charger_class(self.version)
        self.cp = kind(self.cp_id, self.ws, meter_wh=self.meter_wh, **self.sim)
        self.cp.interval = self.interval
        self._reader = self.loop.create_task(self.cp.start())
        # the gateway may close the socket (a dropped or refused charger): its end is read
        # here, or a reader replaced by the next connect is logged at collection, when the
        # test's streams are already closed ("Task exception was never retrieved")
        self._reader.add_done_callback(_read_end)
        self.beating(True)

    def boot(self) -> str:
        """BootNotification; once Accepted the charger beats at the interval it was given."""
        status = self.call("boot")
        assert self.cp is not None
        self.interval = self.cp.interval
        # the beat started at connect sleeps the interval it had then (30 s) before its first
        # Heartbeat.req: restart it at the new one, or the gateway's 1.5-interval silence limit
        # drops a charger that has nothing else to say meanwhile
        self.beating(True)
        return status

    def beating(self, on: bool) -> None:
        """Start or stop the charger's Heartbeat.req (a real one never stops by itself)."""

        def switch() -> None:
            if self._beat is not None:
                self._beat.cancel()
                self._beat = None
            if on and self.cp is not None:
                self._beat = self.loop.create_task(self.cp.beat())

        self.loop.call_soon_threadsafe(switch)

    def call(self, name: str, *args: Any, **kw: Any) -> Any:
        """Run one of ``SimCharger``'s coroutines (boot, status, start_transaction…)."""
        assert self.cp is not None
        return self.run(getattr(self.cp, name)(*args, **kw))

    def kill(self) -> None:
        """Abort the TCP connection: no close frame, no goodbye."""
        assert self.ws is not None and self.cp is not None
        self.meter_wh = self.cp.meter_wh

        async def abort() -> None:
            assert self.ws is not None
            self.ws.transport.abort()
            for task in (self._reader, self._beat):
                if task is not None:
                    task.cancel()
            if self.cp is not None:
                self.cp.stop_all()

        self.run(abort())

    def close(self) -> None:
        """Close the WebSocket, end every task of the charger, stop its loop."""

        async def shut() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # their errors are read
            if self.ws is not None:
                await self.ws.close()

        with contextlib.suppress(Exception):
            self.run(shut(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
