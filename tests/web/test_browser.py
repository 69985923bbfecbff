"""EV_Web in a real browser: headless Chromium through Selenium, a real broker, EV_Web as a
process. ``cp_state`` is published on ``evc.network.state`` with the wire producer, exactly
as Central publishes it. Screenshots go to ``EVC_SCREENSHOT_DIR`` when set (docs/img is made
that way), else to the test's tmp folder.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.waiting import wait_for
from web_app.board import LOOKS
from wire.kafka.messages import CpState
from wire.kafka.producer import EventProducer
from wire.kafka.topics import Topics

pytestmark = pytest.mark.process

CHANGE_DEADLINE_S = 2.0
NETWORK = [
    CpState(cp_id="CP-001", location="Old Town", x=470, y=360, price=0.42, status="ACTIVE"),
    CpState(
        cp_id="CP-002",
        location="Harbour",
        x=760,
        y=560,
        price=0.38,
        status="SUPPLYING",
        kw=48.25,
        eur=17.93,
    ),
    CpState(cp_id="CP-003", location="University", x=480, y=120, price=0.45, status="STOPPED"),
    CpState(cp_id="CP-004", location="Riverside", x=170, y=300, price=0.40, status="BROKEN"),
    CpState(cp_id="CP-005", location="Tech Park", x=820, y=160, price=0.50, status="DISCONNECTED"),
]


def _rgb(colour: str) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("EVC_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _publish(bootstrap: str, topics: Topics, *states: CpState) -> None:
    producer = EventProducer(bootstrap, client_id="test-web")
    try:
        for state in states:
            producer.send(topics.network_state, state.cp_id, state)
        assert producer.flush() == 0
    finally:
        producer.close()


def _states(browser) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
    """cp id → (data-state, the state's words) of each list entry."""
    found = browser.execute_script(
        "const out = {};"
        "for (const li of document.querySelectorAll('#cp-list li'))"
        "  out[li.querySelector('.id').textContent] ="
        "    [li.dataset.state, li.querySelector('.state').textContent];"
        "return out;"
    )
    return {cp_id: tuple(pair) for cp_id, pair in found.items()}


def _marker_fill(browser, cp_id: str) -> str:  # type: ignore[no-untyped-def]
    return browser.execute_script(
        "const c = document.querySelector('#marker-' + arguments[0] + ' circle');"
        "return c ? getComputedStyle(c).fill : '';",
        cp_id,
    )


def _loaded(browser, count: int) -> bool:  # type: ignore[no-untyped-def]
    return (
        len(_states(browser)) == count
        and len(browser.find_elements("css selector", "#cps .marker")) == count
        and browser.find_element("id", "status").text == "Live"
    )


def test_the_page_shows_every_cp_and_follows_a_change_within_2_s(
    browser, ev_web: str, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _publish(kafka_bootstrap, topics, *NETWORK)
    browser.get(ev_web)
    wait_for(lambda: _loaded(browser, len(NETWORK)), 20, "the page to list every CP, live")
    assert _states(browser) == {
        "CP-001": ("available", "Available"),
        "CP-002": ("busy", "In use"),
        "CP-003": ("out_of_order", "Out of order"),
        "CP-004": ("broken", "Broken"),
        "CP-005": ("offline", "Offline"),
    }
    # the state in colour as well as in words, on the map and in the list
    for cp_id, state in (("CP-001", "available"), ("CP-004", "broken")):
        fill = LOOKS[next(a for a in LOOKS if a.value == state)].fill
        assert _marker_fill(browser, cp_id) == _rgb(fill)
    text = browser.find_element("tag name", "body").text
    assert "0.42 €/kWh" in text and "Old Town" in text
    # nobody's supply on a public page: CP-002's live kW and € never reach the browser
    assert "48.25" not in browser.page_source and "17.93" not in browser.page_source
    browser.save_screenshot(str(_shots(tmp_path) / "web-status.png"))

    broken = CpState(cp_id="CP-001", location="Old Town", x=470, y=360, price=0.42, status="BROKEN")
    published = time.monotonic()
    _publish(kafka_bootstrap, topics, broken)
    red = _rgb(LOOKS[next(a for a in LOOKS if a.value == "broken")].fill)
    wait_for(
        lambda: (
            _states(browser)["CP-001"] == ("broken", "Broken")
            and _marker_fill(browser, "CP-001") == red
        ),
        CHANGE_DEADLINE_S,
        "CP-001 to turn red and read Broken",
        interval=0.02,
    )
    assert time.monotonic() - published < CHANGE_DEADLINE_S
    assert browser.find_element("id", "summary").text == "· 0 of 5 available"


def test_a_phone_sized_viewport_lays_out_without_horizontal_scroll(
    browser, ev_web: str, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _publish(kafka_bootstrap, topics, *NETWORK)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    browser.get(ev_web)
    wait_for(lambda: _loaded(browser, len(NETWORK)), 20, "the page to list every CP, live")
    layout = browser.execute_script(
        "const doc = document.documentElement;"
        "const wide = [...document.querySelectorAll('body *')]"
        "  .filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 0.5)"
        "  .map((el) => el.tagName + '#' + el.id + '.' + el.className);"
        "const map = document.getElementById('map').getBoundingClientRect();"
        "const list = document.getElementById('cp-list').getBoundingClientRect();"
        "return {inner: window.innerWidth, client: doc.clientWidth, scroll: doc.scrollWidth,"
        "        wide: wide, mapWidth: map.width, mapBottom: map.bottom, listTop: list.top};"
    )
    assert layout["inner"] == 390
    assert layout["scroll"] <= layout["client"], layout  # no horizontal scroll
    assert layout["wide"] == [], layout
    assert layout["mapWidth"] > 300  # the map uses the phone's width ...
    assert layout["listTop"] >= layout["mapBottom"]  # ... and the list comes below it
    font = browser.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('#cp-list .state')).fontSize)"
    )
    assert font >= 14  # readable without zooming
    browser.save_screenshot(str(_shots(tmp_path) / "web-status-phone.png"))
