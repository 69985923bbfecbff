"""EV_OCPP's link to an active/standby pair: ``--central H:P,H:P`` and moving to the one
that answers (``CentralAddresses``, shared with EV_CP_M)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from cp_core.credentials import CredentialStore
from cp_core.enrollment import TokenFolder
from cp_core.monitor_state import NEXT_CENTRAL_S, Backoff, CentralAddresses
from ocpp_gateway.central_monitor import CentralMonitor
from ocpp_gateway.main import build_parser
from tests.cp.fake_central import FakeCentral
from tests.procs import free_port
from wire.pki import write_private
from wire.tcp_client import RESPONSE_TIMEOUT
from wire.tcp_messages import Heartbeat, Register


def test_central_takes_the_pairs_two_addresses() -> None:
    args = build_parser().parse_args(
        ["--port", "9000", "--central", "10.0.0.1:7070,central-b:7071", "--kafka", "k:9092"]
    )
    assert args.central == [("10.0.0.1", 7070), ("central-b", 7071)]
    one = build_parser().parse_args(["--port", "9000", "--central", "h:7070", "--kafka", "k:1"])
    assert one.central == [("h", 7070)]


def test_kafka_topic_prefix_and_log_level_are_the_other_programs_options(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EVC_TOPIC_PREFIX", "t1-")
    base = ["--port", "9000", "--central", "h:7070", "--kafka", "k:9092"]
    args = build_parser().parse_args([*base, "--log-level", "info"])
    assert (args.kafka, args.topic_prefix, args.log_level) == ("k:9092", "t1-", "INFO")
    for wrong in (["--kafka", "no-port"], ["--log-level", "LOUD"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args([*base, *wrong])
        assert exit_.value.code == 2


def test_the_other_address_first_then_the_back_off_after_a_whole_round() -> None:
    centrals = CentralAddresses.of([("a", 1), ("b", 2)])
    backoff = Backoff(random=lambda: 0.5)
    assert centrals.failed(backoff) == NEXT_CENTRAL_S and centrals.current == ("b", 2)
    assert centrals.failed(backoff) == 0.2 and centrals.current == ("a", 1)  # round over
    centrals.at = 1
    centrals.served()  # b served, then lost: a is tried at once
    assert centrals.failed(backoff) == NEXT_CENTRAL_S and centrals.current == ("a", 1)
    alone = CentralAddresses.of(("a", 1))
    assert alone.failed(Backoff(random=lambda: 0.5)) == 0.1 and alone.current == ("a", 1)


def test_the_link_moves_to_the_central_that_answers(tmp_path: Path) -> None:
    central = FakeCentral()
    port = central.start()
    said: list[str] = []

    async def scenario() -> tuple[str, tuple[str, int]]:
        link = CentralMonitor(
            "OCPP-01",
            central=[("127.0.0.1", free_port()), ("127.0.0.1", port)],  # the first is gone
            credentials=CredentialStore(tmp_path),
            may_register=True,
            on_authorized=lambda *_: None,
            on_admin=lambda _: None,
            say=said.append,
        )
        link.start()
        try:
            async with asyncio.timeout(10):
                outcome = await link.outcome
            return outcome, link.central
        finally:
            await link.close()

    try:
        outcome, served_by = asyncio.run(scenario())
    finally:
        central.shutdown()
    assert outcome == "accepted" and served_by == ("127.0.0.1", port)
    assert any("Cannot reach CENTRAL" in line for line in said), said


def test_a_silent_active_is_left_for_the_partner_that_took_over_before_the_time_out(
    tmp_path: Path,
) -> None:
    """The pair's active frozen mid-session (SIGSTOP: its socket open, nothing answered) and
    the standby taking over 3 s later: EV_OCPP's link asks the partner, as EV_CP_M does,
    and is served there within seconds, not after its 10 s response time-out (evc-chaos:
    the gateway's links lagged EV_CP_M's by that much after every frozen active)."""
    active, partner = FakeCentral(), FakeCentral()
    addresses = [("127.0.0.1", active.start()), ("127.0.0.1", partner.start())]
    partner.refuse("this Central is the standby")
    # one database behind the pair: the credential registered at one is good at the other
    partner.credentials, partner.claims, partner.used = (
        active.credentials,
        active.claims,
        active.used,
    )
    said: list[str] = []

    async def scenario() -> tuple[float, tuple[str, int]]:
        loop = asyncio.get_running_loop()
        link = CentralMonitor(
            "OCPP-01",
            central=addresses,
            credentials=CredentialStore(tmp_path),
            may_register=True,
            on_authorized=lambda *_: None,
            on_admin=lambda _: None,
            say=said.append,
        )
        link.start()
        try:
            async with asyncio.timeout(10):
                assert await link.outcome == "accepted"
                while not active.requests(Heartbeat, "OCPP-01"):
                    await asyncio.sleep(0.02)
            active.freeze(thawed)  # SIGSTOP: the session open, nothing answered
            frozen_at = loop.time()
            loop.call_later(3.0, partner.refuse, None)  # the lease ran out: it took over
            try:
                async with asyncio.timeout(RESPONSE_TIMEOUT - 1):
                    while not partner.requests(Heartbeat, "OCPP-01"):
                        await asyncio.sleep(0.02)
            except TimeoutError:
                raise AssertionError(
                    f"not served by the partner {RESPONSE_TIMEOUT - 1:g} s after the freeze"
                ) from None
            return loop.time() - frozen_at, link.central
        finally:
            await link.close()

    thawed = threading.Event()
    try:
        took, served_by = asyncio.run(scenario())
    finally:
        thawed.set()
        active.shutdown()
        partner.shutdown()
    assert served_by == addresses[1]
    assert took < 8.0, f"{took:.1f} s after the active froze"
    assert any("took over; moving to it" in line for line in said), said


def test_a_charger_without_its_token_is_refused_once_in_words_and_its_token_file_lets_it_in(
    tmp_path: Path,
) -> None:
    """A secured Central wants the operator's token (``--enroll-tokens DIR``, one file per
    charger). Each BootNotification starts a new link; the refusal is said once, not at every
    boot, and a token dropped in the folder is used at the next one."""
    central = FakeCentral()
    port = central.start()
    central.tokens = {}
    folder = TokenFolder(tmp_path / "tokens")
    said: list[str] = []

    async def boot(problem: str) -> tuple[str, str]:
        link = CentralMonitor(
            "OCPP-01",
            central=("127.0.0.1", port),
            credentials=CredentialStore(tmp_path / "creds"),
            may_register=True,
            on_authorized=lambda *_: None,
            on_admin=lambda _: None,
            say=said.append,
            tokens=folder,
            problem=problem,
        )
        link.start()
        try:
            async with asyncio.timeout(10):
                return await link.outcome, link.problem
        finally:
            await link.close()

    try:
        first, problem = asyncio.run(boot(""))
        again, same = asyncio.run(boot(problem))  # the charger boots again: no new line
        write_private(folder.path("OCPP-01"), central.issue_token("OCPP-01").encode())
        accepted, _ = asyncio.run(boot(same))
    finally:
        central.shutdown()
    assert first == again and first.startswith("refused: Central refuses OCPP-01")
    assert f"put it in {folder.path('OCPP-01')}" in problem and same == problem
    assert [line for line in said if "Central refuses" in line] == [problem]
    assert accepted == "accepted" and central.credentials.get("OCPP-01")
    assert [r.request.token for r in central.requests(Register, "OCPP-01")][-1]
