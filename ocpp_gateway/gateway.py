"""The gateway: an OCPP 1.6J and 2.0.1 central system at ``ws://HOST:PORT/ocpp/<charge_point_id>``
(subprotocol ``ocpp1.6`` or ``ocpp2.0.1``, the charger's first choice of the two) that is, for Central, the monitor and the engine of every charge
point connected to it (PROTOCOL.md §4, docs/ocpp.md).

Upgrade rules (``_check_upgrade``, before any OCPP message):

- the path must be ``/ocpp/<id>`` with an id that is a valid EVCharging field (no ``#``, no
  spaces or control characters, at most 64 characters) — else 404;
- the client must offer the ``ocpp1.6`` or the ``ocpp2.0.1`` subprotocol — else 400; the
  connection then speaks the first of them in the charger's list, its order of preference
  (``select_subprotocol``; websockets' own choice would be the server's order) (``GatewayChargePoint`` or
  ``GatewayChargePoint201``), and both serve the same ``Point``;
- security profiles 1 and 2 (``ws://``, or ``wss://`` with ``server_tls``): when
  ``evc-admin ocpp password`` set a password for the id, the request must carry HTTP basic
  auth with the id as user name and that password — else 401. A charge point without a
  password may open the WebSocket, but its BootNotification is Rejected unless the gateway
  runs with ``--auto-register``;
- security profile 3 (``server_tls`` requires client certificates from the CA): the
  handshake already refused an untrusted or missing certificate; the certificate's common
  name must be the id — else 403 (``ocpp_gateway.profiles``);
- the id is a charger's: none of its connectors' CP ids (``ocpp_gateway.connectors``) may be
  another charger's connector already served, nor longer than a CP id may be — else 409.

Each connector of a charger is a CP at Central (``--connectors``): the connection serves
the charger's ``ChargerPoints``, one ``Point`` per connector; Central's commands reach a
point by its CP id.

A connection silent (no OCPP message, no pong) for ``silence_limit`` is closed; the gateway
then stops heartbeating that charge point and Central turns it DISCONNECTED.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any

from ocpp.v16.enums import Action
from ocpp.v201.enums import Action as Action201
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from cp_core.credentials import CredentialStore
from cp_core.enrollment import TokenFolder
from cp_core.passwords import PasswordFile
from ocpp_gateway.charge_point import GatewayChargePoint
from ocpp_gateway.charge_point_v201 import GatewayChargePoint201
from ocpp_gateway.connectors import ChargerPoints, ConnectorCounts, bad_cp_id, connector_cp_id
from ocpp_gateway.kafka_side import KafkaSide
from ocpp_gateway.point import Point
from ocpp_gateway.profiles import CHARGE_POINT_ID, SecurityProfile, certificate_refusal
from ocpp_gateway.transactions import TransactionIds
from wire.kafka.messages import Event
from wire.kafka.security import KafkaSecurity
from wire.kafka.topics import Topics
from wire.tally import Tally
from wire.tls import peer_common_name

log = logging.getLogger(__name__)

# the subprotocols served, each with its charge point class
CHARGE_POINTS: dict[str, type[GatewayChargePoint] | type[GatewayChargePoint201]] = {
    "ocpp1.6": GatewayChargePoint,
    "ocpp2.0.1": GatewayChargePoint201,
}
SUBPROTOCOLS = list(CHARGE_POINTS)
PATH = re.compile(rf"^/ocpp/({CHARGE_POINT_ID.pattern})/?$")
TICK = 0.5
SILENCE_FACTOR = 1.5  # × the heartbeat interval: a charger's own beat may drift a little
ACTIONS = frozenset(a.value for a in Action) | frozenset(a.value for a in Action201)
# ok; a CALLERROR's code (OCPP-J 1.6, 4.2.3); an answer's status; no answer
RESULTS = frozenset(
    {"ok", "no_answer", "error", "Accepted", "Rejected", "Scheduled", "Failed", "VersionMismatch"}
    | {
        "NotImplemented",
        "NotSupported",
        "InternalError",
        "ProtocolError",
        "SecurityError",
        "FormationViolation",
        "FormatViolation",
        "PropertyConstraintViolation",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
        "TypeConstraintViolation",
        "GenericError",
    }
)


def select_subprotocol(connection: ServerConnection, offered: Sequence[str]) -> str | None:
    """The charger's first choice among the versions served: it lists them in its order of
    preference. None when it offers neither (``_check_upgrade`` has answered 400 already)."""
    return next((p for p in offered if p in CHARGE_POINTS), None)


class Gateway:
    def __init__(
        self,
        *,
        central: tuple[str, int] | list[tuple[str, int]],
        kafka: str,
        topics: Topics,
        state_dir: Path,
        credentials_dir: Path,
        passwords: PasswordFile,
        enroll_tokens: Path | None = None,
        local_list: Path | None = None,
        gateway_id: str = "gw",
        heartbeat_interval: float = 30.0,
        auto_register: bool = False,
        tls: ssl.SSLContext | None = None,
        profile: SecurityProfile = SecurityProfile.BASIC_AUTH,
        server_tls: ssl.SSLContext | None = None,
        security: KafkaSecurity | None = None,
        insecure: bool = False,
        connectors: ConnectorCounts | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.central = central
        self.kafka_bootstrap = kafka
        self.topics = topics
        self.state_dir = state_dir
        self.ids = TransactionIds(state_dir)
        self.credentials = CredentialStore(credentials_dir)
        # the operator's enrollment tokens, <cp_id>.token each (cp_core.enrollment)
        self.tokens = TokenFolder(enroll_tokens) if enroll_tokens is not None else None
        self.passwords = passwords
        # the drivers' ids for the chargers' local authorization lists (cp_core.local_list),
        # read at each accepted boot; None: the gateway leaves the chargers' lists alone
        self.local_list = local_list
        self.gateway_id = gateway_id
        self.heartbeat_interval = heartbeat_interval
        self.silence_limit = heartbeat_interval * SILENCE_FACTOR
        self.auto_register = auto_register
        self.tls = tls  # towards Central
        # towards the chargers: profile 2 and 3 need the server's context (3: with the CA
        # that issues the chargers' certificates, wire.tls.server_context(client_ca=...))
        if profile.tls and server_tls is None:
            raise ValueError(f"{profile.described} needs a TLS server context")
        self.profile = profile
        self.server_tls = server_tls if profile.tls else None
        self.security = security
        self.insecure = insecure
        self._say = say
        self.connectors = connectors or ConnectorCounts()  # how many each charger has
        self.chargers: dict[str, ChargerPoints] = {}  # by charger id (its WebSocket's)
        self.points: dict[str, Point] = {}  # by CP id at Central: one per connector
        self.kafka: KafkaSide = None  # type: ignore[assignment]  # set in serve()
        self._server: Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        # OCPP calls by "direction action result" (the metrics, ocpp_gateway.metrics);
        # written on the event loop only
        self.calls = Tally()

    def count_call(self, direction: str, action: str, result: str) -> None:
        """One OCPP call, ``received`` from a charger or ``sent`` to one; an action or result
        outside OCPP 1.6's and 2.0.1's words is counted as ``other`` (a charger chooses what it sends)."""
        action = action if action in ACTIONS else "other"
        result = result if result in RESULTS else "other"
        self.calls.add(f"{direction} {action} {result}")

    @property
    def serving(self) -> bool:
        return self._server is not None

    def say(self, text: str) -> None:
        self._say(f"{time.strftime('%H:%M:%S')} {text}")

    def charger(self, charger_id: str) -> ChargerPoints:
        """The charger and its connectors' points (made at its first connection)."""
        charger = self.chargers.get(charger_id)
        if charger is None:
            count = self.connectors.of(charger_id)
            points = {}
            for n in range(1, count + 1):
                cp_id = connector_cp_id(charger_id, n, count)
                points[n] = self.points[cp_id] = Point(self, cp_id, n)
            charger = self.chargers[charger_id] = ChargerPoints(self, charger_id, points)
        return charger

    def _forget(self, charger: ChargerPoints) -> None:
        """A charger gone that Central never admitted: keep nothing of a stranger."""
        if charger.cp is not None or any(
            self.credentials.load(point.cp_id) is not None for point in charger.points
        ):
            return
        self.chargers.pop(charger.charger_id, None)
        for point in charger.points:
            self.points.pop(point.cp_id, None)

    def _conflict(self, charger_id: str) -> str | None:
        """Why this charger cannot be served beside the others (its connectors' CP ids)."""
        count = self.connectors.of(charger_id)
        bad = bad_cp_id(charger_id, count)
        if bad is not None:
            return f"its connector's CP id {bad} is longer than 64 characters"
        for n in range(1, count + 1):
            point = self.points.get(connector_cp_id(charger_id, n, count))
            owner = next((c for c in self.chargers.values() if point in c.points), None)
            if owner is not None and owner.charger_id != charger_id:
                return f"{point.cp_id} is connector {point.connector} of {owner.charger_id}"
        return None

    # --- serving -----------------------------------------------------------------------------

    async def serve(self, host: str, port: int, ready: asyncio.Event | None = None) -> None:
        """Serve until cancelled; then close every connection (Central sees EOT for each)."""
        loop = asyncio.get_running_loop()
        self.kafka = KafkaSide(
            bootstrap=self.kafka_bootstrap,
            topics=self.topics,
            gateway_id=self.gateway_id,
            state_dir=self.state_dir,
            loop=loop,
            on_command=self._command,
            security=self.security,
            insecure=self.insecure,
        )
        self.kafka.start()
        try:
            async with serve(
                self._connection,
                host,
                port,
                ssl=self.server_tls,
                subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
                select_subprotocol=select_subprotocol,  # type: ignore[arg-type]
                process_request=self._check_upgrade,
                ping_interval=self.heartbeat_interval,
                ping_timeout=self.heartbeat_interval,
            ) as server:
                self._server = server
                self.say(
                    f"OCPP 1.6J/2.0.1 gateway listening on {self.profile.scheme}://{host}:{port}"
                    f"/ocpp/<id> ({self.profile.described})"
                )
                if ready is not None:
                    ready.set()
                while True:
                    await asyncio.sleep(TICK)
                    for point in list(self.points.values()):
                        point.tick()
        finally:
            for charger in list(self.chargers.values()):
                if charger.cp is not None:
                    await charger.detach(charger.cp, "gateway shutting down")
            await asyncio.to_thread(self.kafka.close)

    def _command(self, cp_id: str, event: Event) -> None:
        point = self.points.get(cp_id)
        if point is not None:
            point.command(event)

    def _check_upgrade(self, connection: ServerConnection, request: Request) -> Response | None:
        match = PATH.match(request.path)
        if match is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "expected /ocpp/<charge_point_id>\n")
        cp_id = match.group(1)
        offered = ",".join(request.headers.get_all("Sec-WebSocket-Protocol"))
        if not set(SUBPROTOCOLS) & {p.strip() for p in offered.split(",")}:
            return connection.respond(
                HTTPStatus.BAD_REQUEST, "subprotocol ocpp1.6 or ocpp2.0.1 required\n"
            )
        conflict = self._conflict(cp_id)
        if conflict is not None:
            self.say(f"[{cp_id}] refused: {conflict}")
            return connection.respond(HTTPStatus.CONFLICT, f"{conflict}\n")
        if self.profile.client_certificates:
            ssl_object = connection.transport.get_extra_info("ssl_object")
            refusal = certificate_refusal(cp_id, peer_common_name(ssl_object))
            if refusal is not None:
                self.say(f"[{cp_id}] refused: {refusal}")
                return connection.respond(
                    HTTPStatus.FORBIDDEN, "client certificate for another charge point\n"
                )
            connection.username = cp_id  # type: ignore[attr-defined]
            return None
        if not self.passwords.has(cp_id):
            return None
        user, password = _basic_auth(request.headers.get("Authorization"))
        if user != cp_id or not self.passwords.verify(cp_id, password):
            self.say(f"[{cp_id}] refused: wrong or missing basic-auth password")
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "basic auth required\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="EVCharging OCPP"'
            return response
        connection.username = cp_id  # type: ignore[attr-defined]
        return None

    async def _connection(self, connection: ServerConnection) -> None:
        match = PATH.match(connection.request.path if connection.request else "")
        if match is None:  # (refused by _check_upgrade already)
            return
        cp_id = match.group(1)
        charger = self.charger(cp_id)
        kind = CHARGE_POINTS.get(connection.subprotocol or "", GatewayChargePoint)
        cp = kind(cp_id, connection, charger)
        authenticated = getattr(connection, "username", None) == cp_id
        checked = "certificate" if self.profile.client_certificates else "password"
        notes = ["TLS"] if self.profile.tls else []
        notes += [f"{checked} checked"] if authenticated else []
        notes.append(f"OCPP {cp.version}")
        if charger.count > 1:
            notes.append(f"connectors: {', '.join(p.cp_id for p in charger.points)}")
        suffix = f" ({', '.join(notes)})" if notes else ""
        self.say(f"[{cp_id}] WebSocket connected from {connection.remote_address[0]}{suffix}")
        charger.attach(cp, authenticated)
        why = "closed"
        loop = asyncio.get_running_loop()
        reader, watchdog = loop.create_task(cp.start()), loop.create_task(self._watch(cp))
        try:
            done, _ = await asyncio.wait({reader, watchdog}, return_when=asyncio.FIRST_COMPLETED)
            if watchdog in done:
                why = f"silent for more than {self.silence_limit:g} s"
            elif (error := reader.exception()) is not None and not isinstance(
                error, ConnectionClosed
            ):
                why = f"error: {error}"
        finally:
            for task in (reader, watchdog):
                task.cancel()
            await asyncio.gather(reader, watchdog, return_exceptions=True)
            with contextlib.suppress(Exception):
                await connection.close()
            await charger.detach(cp, why)
            self._forget(charger)

    async def _watch(self, cp: GatewayChargePoint | GatewayChargePoint201) -> None:
        while cp.answering or time.monotonic() - cp.last_message < self.silence_limit:
            await asyncio.sleep(min(1.0, self.silence_limit / 4))


def _basic_auth(header: str | None) -> tuple[str, bytes]:
    """(user, raw password bytes) of a ``Basic`` Authorization header; ("", b"") when absent
    or bad. The password stays bytes: a charger following OCPP 1.6's security profile 1
    sends the bytes its hex AuthorizationKey encodes, which need not be UTF-8."""
    if not header:
        return "", b""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return "", b""
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except binascii.Error:
        return "", b""
    user, sep, password = decoded.partition(b":")
    try:
        return (user.decode("utf-8"), password) if sep else ("", b"")
    except UnicodeDecodeError:
        return "", b""
