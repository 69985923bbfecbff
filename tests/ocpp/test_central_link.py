"""EV_OCPP's link to an active/standby pair: ``--central H:P,H:P`` and moving to the one
that answers (``CentralAddresses``, shared with EV_CP_M)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cp_node.credentials import CredentialStore
from cp_node.monitor_state import NEXT_CENTRAL_S, Backoff, CentralAddresses
from ocpp_gateway.central_link import CentralLink
from ocpp_gateway.main import build_parser
from tests.cp.conftest import free_port
from tests.cp.fake_central import FakeCentral


def test_central_takes_the_pairs_two_addresses() -> None:
    args = build_parser().parse_args(
        ["--port", "9000", "--central", "10.0.0.1:7070,central-b:7071", "--kafka", "k:9092"]
    )
    assert args.central == [("10.0.0.1", 7070), ("central-b", 7071)]
    one = build_parser().parse_args(["--port", "9000", "--central", "h:7070", "--kafka", "k:1"])
    assert one.central == [("h", 7070)]


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
        link = CentralLink(
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
