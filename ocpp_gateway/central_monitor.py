"""One charge point's monitor towards Central (PROTOCOL.md §1), as an asyncio task.

The same session EV_CP_M keeps (``cp_node.monitor_service``), on ``wire.aio_client``: AUTH
with the credential stored for the id (REGISTER with a saved claim first when there is
none and registering is allowed), then a HEARTBEAT every second carrying the charge point's
health, and FAULT/RECOVERED on a change (``cp_core.monitor_state.MonitorState`` decides which
is owed). A session error reconnects after EV_CP_M's back-off; with the two addresses of an
active/standby pair it tries the other one first (``CentralAddresses``, as EV_CP_M does),
and a heartbeat Central leaves unanswered for 2 s has the other Central asked whether it
took over (``PartnerProbe``, as EV_CP_M: not the 10 s response time-out). ``close()`` ends
the session with EOT: Central then hears no heartbeat and turns the CP DISCONNECTED — which
is what the gateway does when the charger's WebSocket dies or goes silent.

``outcome`` is set once the first AUTH succeeded or was refused, so BootNotification.conf
can say Accepted or Rejected.

REGISTER carries the charger's enrollment token, ``<tokens>/<cp_id>.token``
(``cp_core.enrollment.TokenFolder``), read just before it leaves: a secured Central registers
a charger without a credential, or a revoked one, only with the operator's token. A refusal
for want of one says what the operator must do, once (``problem`` carries the last one said
over to the charger's next link, so a charger that boots again and again adds no line).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable

from cp_core.credentials import CredentialStore
from cp_core.enrollment import EnrollToken, EnrollTokenError, TokenFolder, refusal
from cp_core.monitor_state import (
    AUTH_RETRY,
    NEXT_CENTRAL_S,
    PROBE_TIMEOUT_S,
    Backoff,
    CentralAddresses,
    MonitorState,
    PartnerProbe,
    spread,
)
from wire.aio_client import AsyncCentralClient
from wire.errors import CentralMoved, SessionError, WireError
from wire.tcp_messages import (
    AdminState,
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Fault,
    Heartbeat,
    Noted,
    Register,
    Registered,
    Rejected,
)

log = logging.getLogger(__name__)


class Refused(Exception):
    """Central (or the gateway's rules) will not let this charge point in."""


class CentralMonitor:
    """The monitor's session of one charge point (not ``wire.health_messages.CentralLink``,
    the UP/DOWN a monitor tells its engine)."""

    def __init__(
        self,
        cp_id: str,
        *,
        central: tuple[str, int] | list[tuple[str, int]],
        credentials: CredentialStore,
        may_register: bool,
        location: str = "",
        tls: ssl.SSLContext | None = None,
        interval: float = 1.0,
        on_authorized: Callable[[float, AdminState, str], None],
        on_admin: Callable[[AdminState], None],
        say: Callable[[str], None],
        tokens: TokenFolder | None = None,
        problem: str = "",
    ) -> None:
        self.cp_id = cp_id
        self.centrals = CentralAddresses.of(central)
        self.credentials = credentials
        self.may_register = may_register
        self.location = location
        self.tokens = tokens  # the operator's enrollment tokens, one file per charger
        self.tls = tls
        self.interval = interval
        self._on_authorized = on_authorized
        self._on_admin = on_admin
        self._say = say
        self.state = MonitorState(cp_id)
        self.state.on_check(EngineHealth.OK)
        self.backoff = Backoff()
        self.probe = PartnerProbe()  # when a silent active's partner is asked
        self.outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.up = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: AsyncCentralClient | None = None
        self._problem = problem  # the last problem said (not said again)

    @property
    def problem(self) -> str:
        """The last problem said, "" once authorized."""
        return self._problem

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"link-{self.cp_id}")

    def report(self, health: EngineHealth, reason: str = "") -> None:
        """The charge point's health changed: FAULT/RECOVERED leaves now, not at the next beat."""
        if self.state.on_check(health, reason=reason):
            self._wake.set()

    async def close(self) -> None:
        """EOT and close: no more heartbeats, so Central turns the CP DISCONNECTED."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.close()
        self.up = False

    # --- the session -------------------------------------------------------------------------

    @property
    def central(self) -> tuple[str, int]:
        """The address of Central now tried or served by."""
        return self.centrals.current

    async def _run(self) -> None:
        while True:
            host, port = self.central
            client = self._client = AsyncCentralClient(host, port, ssl=self.tls)
            try:
                await client.connect()
                await self._authenticate(client)
                self.centrals.served()  # after a loss here, the others first
                await self._session(client)
            except Refused as exc:
                self._down(str(exc))
                self._settle(f"refused: {exc}")
                wait = spread(AUTH_RETRY, random.random())
            except CentralMoved as exc:  # already pointed at the partner that took over
                self._down(f"CENTRAL at {host}:{port}: {exc}; moving to it")
                wait = NEXT_CENTRAL_S
            except WireError as exc:
                self._down(f"Cannot reach CENTRAL at {host}:{port} ({exc}); retrying")
                wait = self.centrals.failed(self.backoff)
            except OSError as exc:  # the credential folder
                self._down(f"Cannot use the credential folder: {exc}")
                wait = spread(AUTH_RETRY, random.random())
            finally:
                await client.close()
            await asyncio.sleep(wait)

    async def _partner_took_over(self, silent_s: float) -> bool:
        """A pair's active silent mid-heartbeat (frozen, cut off): has the other Central taken
        over? A short session attempt there when ``PartnerProbe`` says (the standby answers
        ENQ with NACK); True, and the link points at it, once one accepts."""
        if not self.probe.due(self.centrals, silent_s, asyncio.get_running_loop().time()):
            return False
        for host, port in self.centrals.others():
            probe = AsyncCentralClient(
                host,
                port,
                ssl=self.tls,
                connect_timeout=PROBE_TIMEOUT_S,
                response_timeout=PROBE_TIMEOUT_S,
            )
            try:
                await probe.connect()
            except WireError:
                continue
            finally:
                await probe.close()
            self.centrals.move_to((host, port))
            return True
        return False

    def _settle(self, result: str) -> None:
        if not self.outcome.done():
            self.outcome.set_result(result)

    def _down(self, problem: str) -> None:
        if self.up or problem != self._problem:
            self._say(problem)
        self.up = False
        self._problem = problem

    async def _authenticate(self, client: AsyncCentralClient) -> None:
        credential = self.credentials.load(self.cp_id)
        if credential is not None:
            response = await client.request(Auth(cp_id=self.cp_id, credential=credential))
            if isinstance(response, Authorized):
                self.credentials.forget_claim(self.cp_id)
                self._authorized(response, "authenticated")
                return
            if not self.may_register:
                raise Refused(f"Central refused the stored credential ({response.to_text()})")
        elif not self.may_register:
            raise Refused("unknown charge point (no credential; not provisioned)")
        claim = self.credentials.claim(self.cp_id)
        enroll = self.tokens.token(self.cp_id) if self.tokens is not None else EnrollToken()
        try:
            token = enroll.read()
        except EnrollTokenError as exc:
            raise Refused(str(exc)) from None
        response = await client.request(
            Register(cp_id=self.cp_id, location=self.location, claim=claim, token=token)
        )
        if not isinstance(response, Registered):
            advice = None
            if isinstance(response, Rejected):
                advice = refusal(self.cp_id, response.reason, enroll, sent=bool(token))
            raise Refused(advice or f"Central refused REGISTER ({response.to_text()})")
        self.credentials.save(self.cp_id, response.credential)
        auth = await client.request(Auth(cp_id=self.cp_id, credential=response.credential))
        if not isinstance(auth, Authorized):
            raise Refused(f"Central refused the new credential ({auth.to_text()})")
        self.credentials.forget_claim(self.cp_id)
        self._authorized(auth, "registered and authenticated")

    def _authorized(self, answer: Authorized, how: str) -> None:
        self.up = True
        self._problem = ""
        self.state.on_session()
        self.state.admin_state = answer.admin_state
        self.state.price = answer.price
        self._say(f"Connected to CENTRAL, {how} ({answer.admin_state}, {answer.price:.2f} EUR/kWh)")
        self._on_authorized(answer.price, answer.admin_state, answer.key)
        self._settle("accepted")

    async def _session(self, client: AsyncCentralClient) -> None:
        loop = asyncio.get_running_loop()
        next_beat = loop.time()
        while True:
            report = self.state.next_report()
            if report is not None:
                message = report.message
                answer = await client.request(message)
                if not isinstance(answer, Noted):
                    raise SessionError(f"Central answered {answer.to_text()} to {message.OPCODE}")
                self.state.mark_reported(report)
                what = f"FAULT ({message.reason})" if isinstance(message, Fault) else "RECOVERED"
                self._say(f"Told Central: {what}")
            now = loop.time()
            if now >= next_beat:
                beat = Heartbeat(cp_id=self.cp_id, engine=self.state.engine)
                answer = await client.request(beat, on_silence=self._partner_took_over)
                if not isinstance(answer, Alive):
                    raise SessionError(f"Central answered {answer.to_text()} to HEARTBEAT")
                self.backoff.reset()
                if answer.admin_state != self.state.admin_state:
                    self.state.admin_state = answer.admin_state
                    self._say(f"Central set this CP {answer.admin_state}")
                self._on_admin(answer.admin_state)
                next_beat += self.interval
                if next_beat <= now:
                    next_beat = now + self.interval
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, next_beat - loop.time())):
                    await self._wake.wait()
            except TimeoutError:
                pass
