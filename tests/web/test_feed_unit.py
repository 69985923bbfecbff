"""EV_Web's data feed without a browser or a broker: ``cp_state`` → the page's JSON events.

What leaves the server is checked field by field (the page is public: no driver data, no live
kW or € of somebody's supply), then the same through the real aiohttp application: a change
applied to the hub arrives on ``/events`` as one ``cp`` event.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp.test_utils import TestClient, TestServer

from citymap.city import load_city
from web_app.board import LOOKS, Board, FeedStatus, sse_event
from web_app.citysvg import city_svg
from web_app.feed import NetworkFeed
from web_app.hub import Hub
from web_app.server import build_app, page_html, states_css
from wire.kafka.messages import CpState
from wire.kafka.topics import Topics

PUBLIC_KEYS = {"cp_id", "location", "x", "y", "price", "state", "label", "updated"}


def _state(status: str = "ACTIVE", **changes: object) -> CpState:
    fields: dict = dict(cp_id="CP-01", location="Old Town", x=420.0, y=330.0, price=0.45)
    fields.update(changes)
    return CpState(status=status, **fields)


def test_a_cp_state_becomes_its_public_json_without_live_supply_numbers() -> None:
    board = Board()
    change = board.apply(_state("SUPPLYING", kw=22.0, eur=3.5))
    assert change is not None
    assert set(change) == PUBLIC_KEYS  # kw, eur and anything about a driver never leave
    assert change["state"] == "busy" and change["label"] == "In use"
    assert (change["cp_id"], change["price"], change["x"], change["y"]) == (
        "CP-01",
        0.45,
        420.0,
        330.0,
    )


def test_only_what_the_page_shows_makes_an_event() -> None:
    board = Board()
    assert board.apply(_state("SUPPLYING", kw=7.0, eur=0.1)) is not None
    assert board.apply(_state("SUPPLYING", kw=11.0, eur=0.9)) is None  # live numbers only
    stopped = board.apply(_state("STOPPED"))
    assert stopped is not None and stopped["state"] == "out_of_order"
    assert [cp["state"] for cp in board.snapshot()] == ["out_of_order"]


def test_every_status_has_words_a_colour_and_a_symbol() -> None:
    board = Board()
    for i, status in enumerate(["ACTIVE", "SUPPLYING", "STOPPED", "BROKEN", "DISCONNECTED", "NEW"]):
        board.apply(_state(status, cp_id=f"CP-{i}"))
    states = [cp["state"] for cp in board.snapshot()]
    assert states == ["available", "busy", "out_of_order", "broken", "offline", "offline"]
    assert len({look.fill for look in LOOKS.values()}) == len(LOOKS)
    assert len({look.symbol for look in LOOKS.values()}) == len(LOOKS)
    assert all(f".state-{state}{{--fill:" in states_css() for state in set(states))


def test_an_event_is_one_sse_record_with_compact_json() -> None:
    data = {"cp_id": "CP-01", "location": "line\nbreak"}
    raw = sse_event("cp", data)
    assert raw.endswith(b"\n\n") and raw.count(b"\n") == 3
    name, body = raw.decode().split("\n")[:2]
    assert name == "event: cp" and json.loads(body.removeprefix("data: ")) == data


def test_the_page_has_the_city_map_and_the_legend() -> None:
    city = load_city()
    html = page_html(city_svg(city), "EVCharging · <Nova>")
    assert html.count("<polygon") >= len(city.districts) + len(city.water) + len(city.parks)
    assert '<g id="cps">' in html and "EVCharging · &lt;Nova&gt;" in html
    for look in LOOKS.values():
        assert look.label in html
    assert "<script>" not in html and "style=" not in html  # the CSP allows no inline code


async def _read_events(client: TestClient, count: int) -> list[tuple[str, object]]:
    events: list[tuple[str, object]] = []
    response = await client.get("/events")
    assert response.headers["Content-Type"].startswith("text/event-stream")
    name = ""
    async with asyncio.timeout(5):
        while len(events) < count:
            line = (await response.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    response.close()
    return events


def test_the_stream_sends_the_snapshot_then_each_change() -> None:
    async def scenario() -> list[tuple[str, object]]:
        hub = Hub()
        hub.apply(_state("ACTIVE"))
        async with TestClient(TestServer(build_app(hub, "<html></html>"))) as client:
            reader = asyncio.create_task(_read_events(client, 4))
            async with asyncio.timeout(5):
                while hub.listeners == 0:
                    await asyncio.sleep(0.01)
            hub.apply(_state("BROKEN"))
            hub.set_status(FeedStatus(loaded=True))
            events = await reader
            snapshot = await (await client.get("/api/cps")).json()
            assert [cp["state"] for cp in snapshot["cps"]] == ["broken"]
            return events

    events = asyncio.run(scenario())
    names = [name for name, _ in events]
    assert names == ["status", "snapshot", "cp", "status"]
    assert [cp["state"] for cp in events[1][1]] == ["available"]  # type: ignore[union-attr,index]
    assert events[2][1]["state"] == "broken"  # type: ignore[index]
    assert events[3][1] == {"loaded": True, "problem": None}


def test_a_browser_that_falls_behind_is_dropped_and_shutdown_ends_every_stream() -> None:
    async def scenario() -> None:
        hub = Hub(queue_limit=3)
        slow, live = hub.subscribe(), hub.subscribe()
        while not live.empty():  # this one keeps up
            live.get_nowait()
        hub.apply(_state("ACTIVE"))
        hub.apply(_state("BROKEN"))  # the slow one's queue (status, snapshot, cp) is full
        assert hub.listeners == 1
        drained = [slow.get_nowait() for _ in range(slow.qsize())]
        assert drained[-1] is None  # its stream ends; the browser reconnects
        hub.close()
        assert hub.listeners == 0
        assert [live.get_nowait() for _ in range(live.qsize())][-1] is None

    asyncio.run(scenario())


def test_the_page_sends_its_security_headers() -> None:
    async def scenario() -> None:
        async with TestClient(TestServer(build_app(Hub(), "<html></html>"))) as client:
            page = await client.get("/")
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            assert "Server" not in page.headers
            missing = await client.get("/nowhere")
            assert missing.status == 404 and "Traceback" not in await missing.text()
            assert (await (await client.get("/healthz")).text()).strip() == "ok"

    asyncio.run(scenario())


def test_the_page_says_when_kafka_cannot_be_reached() -> None:
    """No broker at the address: the feed tells the page its data is not live (no broker is
    needed to test that; librdkafka reports the address unreachable)."""

    async def scenario() -> FeedStatus:
        hub = Hub()
        feed = NetworkFeed(hub, asyncio.get_running_loop(), "127.0.0.1:1", Topics("x."))
        feed.start()
        try:
            async with asyncio.timeout(20):
                while hub.status.problem is None:
                    await asyncio.sleep(0.05)
        finally:
            await asyncio.to_thread(feed.close)
        return hub.status

    status = asyncio.run(scenario())
    assert status == FeedStatus(loaded=False, problem="The live data is unreachable.")
