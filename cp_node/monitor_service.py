"""The monitor process: a health loop (ZeroMQ) and a Central loop (framed TCP), one thread each.

- Health loop: every second ``HEALTH#cp_id#price#admin_state#central_link`` through the
  lazy-pirate client (500 ms); a transition wakes the Central loop so FAULT/RECOVERED leave at
  once instead of at the next heartbeat.
- Central loop: connect, AUTH with the stored credential (REGISTER first when there is none,
  or when Central forgot it after ``evc-admin cp reset-credential``), then HEARTBEAT every
  second plus FAULT/RECOVERED on transitions. Any session error: central_link DOWN, "Cannot
  reach CENTRAL", reconnect after a ``Backoff`` (full jitter, 0.2 s doubling to a 5 s
  ceiling, reset once a heartbeat was answered). A request is never repeated on the same
  connection (``CentralClient`` resends a frame only after a NACK): a slow or lost answer
  ends the session and the next session starts from AUTH.
- REGISTER carries the claim saved beforehand (``CredentialStore.claim``), so a REGISTER
  whose answer was lost is simply tried again and Central answers it with a new credential.
- REGISTER also carries the operator's enrollment token (``enroll_token``,
  ``cp_core.enrollment``), read from its file just before each REGISTER. A refusal for want
  of a valid token, or because the operator revoked the CP, is said once in words (what the
  operator must do) and retried after the usual ``auth_retry``: that retry is how a
  re-admitted CP comes back by itself once its token is there.
- The CP's key (docs/security.md) comes with REGISTERED and AUTHORIZED (AUTHORIZED's wins:
  Central may rotate it) and is stored beside the credential. The health loop hands it to the
  engine (``KEY#cp_id#key``) after every new connection to the engine (a restarted engine has
  none) and whenever it changed. A Central that sends no key (``--insecure``): no KEY.
  With ``curve`` (a ``wire.curve.CurveClient``) the engine link is CURVE: HEALTH and KEY go
  only to the engine whose public key we hold, authenticated with this CP's monitor key.
- TLS (``tls``, a ``wire.tls.client_context``): Central's certificate is verified against the
  CA and the ``central`` host name before anything is sent. An untrusted certificate is said
  once per series of failed attempts, and retried with the usual back-off (the operator may
  be fixing the CA). The TLS session is kept across reconnections, so reconnecting to the
  same Central process resumes it.

Nothing a peer does may end the process: every wire error is caught and shown.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable

from cp_core.credentials import CredentialStore
from cp_core.enrollment import EnrollToken, EnrollTokenError, refusal
from cp_core.monitor_state import (
    AUTH_RETRY,
    NEXT_CENTRAL_S,
    NO_ANSWER,
    PROBE_TIMEOUT_S,
    Backoff,
    CentralAddresses,
    MonitorState,
    PartnerProbe,
    spread,
)
from wire.curve import CurveClient
from wire.errors import (
    CentralMoved,
    EngineHandshakeFailed,
    EngineUnreachable,
    MessageError,
    SessionError,
    UntrustedCertificate,
    WireError,
)
from wire.health import LazyPirateClient
from wire.health_messages import CentralLink, Health, HealthOk, Key
from wire.tally import FastHistogram, Tally
from wire.tcp_client import CONNECT_TIMEOUT, RESPONSE_TIMEOUT, CentralClient
from wire.tcp_messages import (
    Alive,
    Auth,
    Authorized,
    EngineHealth,
    Error,
    Fault,
    Heartbeat,
    Noted,
    Register,
    Registered,
    Rejected,
)

log = logging.getLogger(__name__)

# s beyond one health check's own time-out that the first HEARTBEAT waits for that check
FIRST_CHECK_SLACK = 0.5
# s from a HEARTBEAT sent to Central's ALIVE (the monitor's metrics, cp_node.metrics)
HEARTBEAT_RTT_BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class AuthProblem(Exception):
    """Central refused this CP; the message tells the technician what to do."""


class MonitorService:
    def __init__(
        self,
        *,
        cp_id: str,
        engine: tuple[str, int],
        central: tuple[str, int] | list[tuple[str, int]],
        credentials: CredentialStore,
        location: str = "",
        x: float | None = None,
        y: float | None = None,
        interval: float = 1.0,
        health_timeout_ms: int = 500,
        connect_timeout: float = CONNECT_TIMEOUT,
        response_timeout: float = RESPONSE_TIMEOUT,
        backoff: Backoff | None = None,
        auth_retry: float = AUTH_RETRY,
        rng: Callable[[], float] = random.random,
        say: Callable[[str], None] = print,
        tls: ssl.SSLContext | None = None,
        curve: CurveClient | None = None,
        enroll_token: EnrollToken | None = None,
    ) -> None:
        self.cp_id = cp_id
        self.enroll_token = enroll_token or EnrollToken()  # read again before each REGISTER
        self.tls = tls
        self.curve = curve  # the engine link's CURVE keys (docs/security.md); None: plain
        self._tls_sessions: dict[tuple[str, int], ssl.SSLSession | None] = {}
        self.probe = PartnerProbe()  # when a silent active's partner is asked
        self.engine_endpoint = f"tcp://{engine[0]}:{engine[1]}"
        # Central's addresses: one, or the two of an active/standby pair (the standby answers
        # ENQ with NACK): on a failure the next one is tried at once, the back-off waits only
        # after a whole round failed.
        self.centrals = CentralAddresses.of(central)
        self.credentials = credentials
        self.location, self.x, self.y = location, x, y
        self.interval = interval
        self.health_timeout_ms = health_timeout_ms
        self.connect_timeout = connect_timeout
        self.response_timeout = response_timeout
        self.backoff = backoff if backoff is not None else Backoff(random=rng)
        self.auth_retry = auth_retry
        self._random = rng
        self._say = say
        self.state = MonitorState(cp_id)
        # for the metrics (cp_node.metrics), each written by one thread: HEALTH outcomes by
        # the health loop; heartbeats' round trips and sessions by the Central loop
        self.checks = Tally(*(h.value for h in EngineHealth))
        self.heartbeat_rtt = FastHistogram(HEARTBEAT_RTT_BOUNDS)
        self.central_sessions = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # wakes the Central loop (a health transition)
        self._recheck = threading.Event()  # wakes the health loop (the central link changed)
        self._threads: list[threading.Thread] = []
        self._last_problem = ""
        # the CP's key: (version, text); version grows with every new key from Central
        self._key: tuple[int, str] | None = None
        self._key_sent: tuple[int, int] | None = None  # (key version, engine connection)
        self._key_problem = ""
        try:
            stored = credentials.load_key(cp_id)
        except OSError as exc:
            log.warning("cannot read the stored key: %s", exc)
            stored = None
        if stored is not None:
            self._key = (0, stored)

    def say(self, text: str) -> None:
        self._say(f"{time.strftime('%H:%M:%S')} [{self.cp_id}] {text}")

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        for name, target in (("health", self._health_loop), ("central", self._central_loop)):
            thread = threading.Thread(target=target, name=f"monitor-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._recheck.set()
        for thread in self._threads:
            thread.join(timeout=3.0)

    # --- health loop --------------------------------------------------------------------------

    def _health_loop(self) -> None:
        client = LazyPirateClient(
            self.engine_endpoint, timeout_ms=self.health_timeout_ms, curve=self.curve
        )
        next_check = time.monotonic()
        try:
            while not self._stop.is_set():
                self._check(client)
                next_check += self.interval
                now = time.monotonic()
                if next_check < now:
                    next_check = now
                if self._recheck.wait(next_check - now):
                    # tell the engine about the central link at once, then keep the rhythm
                    self._recheck.clear()
                    next_check = time.monotonic()
        finally:
            client.close()

    def _check(self, client: LazyPirateClient) -> None:
        with self._lock:
            request = Health(
                cp_id=self.cp_id,
                price=self.state.price,
                admin_state=self.state.admin_state,
                central_link=self.state.central_link,
            )
        try:
            reply = client.check(request)
        except EngineHandshakeFailed as exc:  # its port answered; our keys did not fit
            outcome, state, reason = EngineHealth.UNREACHABLE, None, str(exc)
        except EngineUnreachable:
            outcome, state, reason = EngineHealth.UNREACHABLE, None, NO_ANSWER
        except MessageError as exc:
            outcome, state, reason = EngineHealth.KO, None, f"bad reply: {exc}"
        except WireError as exc:
            outcome, state, reason = EngineHealth.UNREACHABLE, None, str(exc)
        else:
            if isinstance(reply, HealthOk):
                outcome, state, reason = EngineHealth.OK, reply.engine_state, ""
            else:
                outcome, state, reason = EngineHealth.KO, None, reply.reason
            self._hand_key(client)  # the engine answered: it can take the key now
        self.checks.add(outcome.value)
        with self._lock:
            before = self.state.engine
            changed = self.state.on_check(outcome, state=state, reason=reason)
        if changed:
            self._wake.set()
            if outcome == EngineHealth.OK:
                if before != EngineHealth.OK:
                    self.say(f"Engine OK at {self.engine_endpoint}")
            elif outcome == EngineHealth.KO:
                self.say(f"Engine KO: {reason}")
            else:
                why = "" if reason == NO_ANSWER else f": {reason}"
                self.say(f"Engine UNREACHABLE at {self.engine_endpoint}{why}")

    def _hand_key(self, client: LazyPirateClient) -> None:
        """Send KEY when the engine has not had this key on this connection (health thread)."""
        with self._lock:
            key = self._key
        if key is None:
            return
        version, text = key
        sent = (version, client.connections)
        if self._key_sent == sent:
            return
        try:
            reply = client.check(Key(cp_id=self.cp_id, key=text))
        except WireError as exc:
            problem = f"Could not hand the key to the engine ({exc}); retrying"
        else:
            if isinstance(reply, HealthOk):
                self._key_sent = (version, client.connections)
                self._key_problem = ""
                self.say("Key handed to the engine")
                return
            problem = f"The engine refused the key ({reply.reason}); retrying"
        if problem != self._key_problem:
            self.say(problem)
        self._key_problem = problem

    def _new_key(self, key: str) -> None:
        """A key from Central: store it (0600, atomic) and have the health loop send it."""
        with self._lock:
            if self._key is not None and self._key[1] == key:
                return
            version = 0 if self._key is None else self._key[0] + 1
        self.credentials.save_key(self.cp_id, key)  # OSError: reported by the Central loop
        with self._lock:
            self._key = (version, key)
        self.say("Key from Central stored" if version == 0 else "New key from Central stored")
        self._recheck.set()

    # --- central loop -------------------------------------------------------------------------

    @property
    def central(self) -> tuple[str, int]:
        """The address of Central now tried or served by."""
        return self.centrals.current

    def _central_loop(self) -> None:
        while not self._stop.is_set():
            host, port = self.central
            client = CentralClient(
                host,
                port,
                connect_timeout=self.connect_timeout,
                response_timeout=self.response_timeout,
                ssl=self.tls,
                tls_session=self._tls_sessions.get((host, port)),
            )
            try:
                client.connect()
                self._tls_sessions[(host, port)] = client.tls_session
                self._authenticate(client)
                self.centrals.served()  # after a loss here, the others first
                self._session(client)
                wait = 0.0  # only when stopping
            except AuthProblem as exc:
                self._link_down(str(exc))
                wait = spread(self.auth_retry, self._random())
            except CentralMoved as exc:  # already pointed at the partner that took over
                self._link_down(f"CENTRAL at {host}:{port}: {exc}; moving to it")
                wait = NEXT_CENTRAL_S
            except UntrustedCertificate as exc:
                reason = str(exc).removeprefix("Central's certificate is not trusted: ")
                self._link_down(
                    f"Central at {host}:{port} presented a certificate we do not trust: "
                    f"{reason}; not connecting (retrying in case the CA is being fixed)"
                )
                wait = self.backoff.next_delay()
            except WireError as exc:
                self._link_down(f"Cannot reach CENTRAL at {host}:{port} ({_why(exc)}); retrying")
                wait = self.centrals.failed(self.backoff)
            except OSError as exc:  # the credential folder, not the network
                self._link_down(f"Cannot use the credential folder: {exc}; retrying")
                wait = spread(self.auth_retry, self._random())
            finally:
                client.close()
            log.debug("next attempt to reach Central in %.2f s", wait)
            self._stop.wait(wait)

    def _partner_took_over(self, silent_s: float) -> bool:
        """A pair's active gone silent (frozen, partitioned) mid-exchange: has the standby
        taken over? Asked when ``PartnerProbe`` says: a short session attempt at the partner
        (the standby answers ENQ with NACK until it is the active). Without this the monitor
        waits out its 10 s response time-out; a loaded but live active costs only these
        refused probes, never a reconnection."""
        if not self.probe.due(self.centrals, silent_s, time.monotonic()):
            return False
        for host, port in self.centrals.others():
            probe = CentralClient(
                host,
                port,
                connect_timeout=PROBE_TIMEOUT_S,
                response_timeout=PROBE_TIMEOUT_S,
                ssl=self.tls,
                tls_session=self._tls_sessions.get((host, port)),
            )
            try:
                probe.connect()
            except WireError:
                continue
            probe.close()
            self.centrals.move_to((host, port))
            return True
        return False

    def _link_down(self, problem: str) -> None:
        with self._lock:
            was_up = self.state.central_link == CentralLink.UP
            self.state.central_link = CentralLink.DOWN
        if was_up:
            self._recheck.set()
        if was_up or problem != self._last_problem:
            self.say(problem)
        self._last_problem = problem

    def _authenticate(self, client: CentralClient) -> None:
        credential = self.credentials.load(self.cp_id)
        path = self.credentials.path(self.cp_id)
        if credential is not None:
            response = client.request(Auth(cp_id=self.cp_id, credential=credential))
            if isinstance(response, Authorized):
                self.credentials.forget_claim(self.cp_id)  # left by a registration, if any
                if response.key:
                    self._new_key(response.key)
                self._authorized(response.price, response.admin_state, "authenticated")
                return
            if isinstance(response, Error):
                raise AuthProblem(f"Central could not handle AUTH ({response.reason}); retrying")
            reason = getattr(response, "reason", "refused")
            # Central may have forgotten the credential (reset-credential, a revocation), or
            # it was issued to a REGISTER retried since: register again (with the claim, if
            # one is saved, and the enrollment token, if one is given).
            if self._register(client) is not None:
                raise AuthProblem(
                    f"Central rejected the stored credential ({reason}). Ask the operator to "
                    f"run `evc-admin cp reset-credential {self.cp_id}`; this monitor then "
                    "registers again by itself."
                )
            return
        if self._register(client) is not None:
            raise AuthProblem(
                f"CP id {self.cp_id} is already registered at Central and there is no "
                f"credential at {path}. Copy that CP's credential file there, or ask the "
                f"operator to run `evc-admin cp reset-credential {self.cp_id}`."
            )

    def _register(self, client: CentralClient) -> str | None:
        """REGISTER (with the saved claim and the enrollment token), store the credential,
        AUTH with it; None once done.

        Central's reason when it refused the registration for a reason the caller words
        (already registered); a refusal about enrollment or revocation raises AuthProblem
        with the operator's next step instead. The claim is on disk before REGISTER leaves,
        and the same claim goes with every retry until an AUTH succeeded.
        """
        claim = self.credentials.claim(self.cp_id)
        try:
            token = self.enroll_token.read()
        except EnrollTokenError as exc:
            raise AuthProblem(f"{exc}; retrying") from None
        response = client.request(
            Register(
                cp_id=self.cp_id,
                location=self.location,
                x=self.x,
                y=self.y,
                claim=claim,
                token=token,
            )
        )
        if isinstance(response, Rejected):
            log.info("REGISTER refused: %s", response.reason)
            advice = refusal(self.cp_id, response.reason, self.enroll_token, sent=bool(token))
            if advice is not None:
                raise AuthProblem(advice)
            return response.reason
        if isinstance(response, Error):
            raise AuthProblem(f"Central could not handle REGISTER ({response.reason}); retrying")
        if not isinstance(response, Registered):
            raise AuthProblem(f"unexpected answer to REGISTER: {response.to_text()}")
        stored = self.credentials.save(self.cp_id, response.credential)
        self.say(f"Registered at Central; credential stored in {stored}")
        if response.key:
            self._new_key(response.key)
        auth = client.request(Auth(cp_id=self.cp_id, credential=response.credential))
        if not isinstance(auth, Authorized):
            raise AuthProblem(f"Central refused the new credential: {auth.to_text()}")
        self.credentials.forget_claim(self.cp_id)
        if auth.key:
            self._new_key(auth.key)  # AUTHORIZED's key wins over REGISTERED's
        self._authorized(auth.price, auth.admin_state, "authenticated")
        return None

    def _authorized(self, price: float, admin_state: object, how: str) -> None:
        with self._lock:
            self.state.price = price
            self.state.admin_state = admin_state  # type: ignore[assignment]
            self.state.central_link = CentralLink.UP
            self.state.on_session()
        self.central_sessions += 1
        self._recheck.set()
        self._last_problem = ""
        host, port = self.central
        self.say(
            f"Connected to CENTRAL at {host}:{port}, {how} ({admin_state}, {price:.2f} EUR/kWh)"
        )

    def _await_first_check(self) -> None:
        """Hold the session's first HEARTBEAT until the engine was checked once.

        A monitor that just started knows nothing of its engine yet; a heartbeat sent then
        would say UNREACHABLE and flash a healthy CP ACTIVE -> BROKEN -> ACTIVE at Central.
        One check ends within ``health_timeout_ms`` (an engine that does not answer is then
        UNREACHABLE for real), so the wait is bounded well inside Central's 3 s watchdog.
        """
        deadline = time.monotonic() + self.health_timeout_ms / 1000 + FIRST_CHECK_SLACK
        while not self._stop.is_set():
            with self._lock:
                known = self.state.engine_known
            remaining = deadline - time.monotonic()
            if known or remaining <= 0:
                return
            self._wake.wait(remaining)
            self._wake.clear()

    def _session(self, client: CentralClient) -> None:
        self._await_first_check()
        next_beat = time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                report = self.state.next_report()
            if report is not None:
                message = report.message
                answer = client.request(message)
                if not isinstance(answer, Noted):
                    raise SessionError(f"Central answered {answer.to_text()} to {message.OPCODE}")
                with self._lock:
                    self.state.mark_reported(report)
                if isinstance(message, Fault):
                    self.say(f"Told Central: FAULT ({message.reason})")
                else:
                    self.say("Told Central: RECOVERED")
            now = time.monotonic()
            if now >= next_beat:
                with self._lock:
                    beat = Heartbeat(cp_id=self.cp_id, engine=self.state.engine)
                sent = time.monotonic()
                answer = client.request(beat, on_silence=self._partner_took_over)
                if not isinstance(answer, Alive):
                    raise SessionError(f"Central answered {answer.to_text()} to HEARTBEAT")
                self.heartbeat_rtt.observe(time.monotonic() - sent)
                self.backoff.reset()  # this session worked: the next failure retries quickly
                with self._lock:
                    changed = answer.admin_state != self.state.admin_state
                    self.state.admin_state = answer.admin_state
                if changed:
                    self.say(f"Central set this CP {answer.admin_state}")
                next_beat += self.interval
                if next_beat <= now:
                    next_beat = now + self.interval
            self._wake.wait(max(0.0, next_beat - time.monotonic()))
            self._wake.clear()
        client.close()


def _why(exc: Exception) -> str:
    """The short cause of a wire error ("Connection refused" rather than the whole chain)."""
    text = str(exc)
    if text.startswith("cannot connect to Central"):
        text = text.rsplit(": ", 1)[-1]
        text = text.split("] ", 1)[-1]
    return text
