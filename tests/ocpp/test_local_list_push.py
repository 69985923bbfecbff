"""Issue 24, item 5: the gateway fills the chargers' local authorization lists. After a
BootNotification answered Accepted it asks GetLocalListVersion and, for another version,
sends SendLocalList (Full) with the file's ids; a charger without a local list stays
connected and is said once.

The gateway's real ``GatewayChargePoint``/``GatewayChargePoint201`` and ``Point`` talk to the
``ocpp`` library's own charge point (the charger's side) over an in-memory connection; the
boot is Accepted by a Central link that is up (no Central, no Kafka)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint as Client16
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v16.enums import Action as Action16
from ocpp.v201 import ChargePoint as Client201
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from ocpp.v201.enums import Action as Action201

from cp_core import local_list
from ocpp_gateway.charge_point import GatewayChargePoint
from ocpp_gateway.charge_point_v201 import GatewayChargePoint201
from ocpp_gateway.connectors import ConnectorCounts
from tests.ocpp.gateways import idle_gateway

CP = "OCPP-LL"
IDS = ["D-001", "D-002", "CARD-" + "9" * 25]  # the last is too long for a 1.6 idTag (20)


class End:
    """One end of an in-memory WebSocket: what one end sends, the other receives."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str] = asyncio.Queue()
        self.peer: End = self
        self.sent: list[Any] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))
        await self.peer.inbox.put(message)

    async def recv(self) -> str:
        return await self.inbox.get()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


class Charger16(Client16):
    """A 1.6 charger with a local list of version ``version``, answering SendLocalList with
    ``status`` (None: it has no handlers at all, the library answers NotImplemented)."""

    def __init__(self, connection: End, version: int, status: str) -> None:
        super().__init__(CP, connection)
        self.version, self.status = version, status
        self.lists: list[dict[str, Any]] = []

    @on(Action16.get_local_list_version)
    def on_get_local_list_version(self) -> result16.GetLocalListVersion:
        return result16.GetLocalListVersion(list_version=self.version)

    @on(Action16.send_local_list)
    def on_send_local_list(self, **request: Any) -> result16.SendLocalList:
        self.lists.append(request)
        return result16.SendLocalList(status=self.status)

    async def boot(self) -> str:
        answer = await self.call(
            call16.BootNotification(charge_point_vendor="ACME", charge_point_model="X1")
        )
        return str(answer.status)

    async def beat(self) -> bool:
        return await self.call(call16.Heartbeat()) is not None


class Charger201(Client201):
    def __init__(self, connection: End, version: int, status: str) -> None:
        super().__init__(CP, connection)
        self.version, self.status = version, status
        self.lists: list[dict[str, Any]] = []

    @on(Action201.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> result201.GetLocalListVersion:
        return result201.GetLocalListVersion(version_number=self.version)

    @on(Action201.send_local_list)
    def on_send_local_list(self, **request: Any) -> result201.SendLocalList:
        self.lists.append(request)
        return result201.SendLocalList(status=self.status)

    async def boot(self) -> str:
        station = {"model": "X1", "vendor_name": "ACME"}
        answer = await self.call(
            call201.BootNotification(charging_station=station, reason="PowerUp")
        )
        return str(answer.status)

    async def beat(self) -> bool:
        return await self.call(call201.Heartbeat()) is not None


class Bare16(Client16):  # no local list handlers: CALLERROR NotImplemented
    boot = Charger16.boot
    beat = Charger16.beat
    lists: list[dict[str, Any]] = []


class Bare201(Client201):
    boot = Charger201.boot
    beat = Charger201.beat
    lists: list[dict[str, Any]] = []


class UpLink:
    """A Central link that has authenticated the CP: its BootNotification is Accepted."""

    up = True

    async def close(self) -> None:
        pass


async def until(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.01)


class Bench:
    """A gateway (no Central, no Kafka), one connection of CP and the charger at its end."""

    def __init__(
        self, tmp_path: Path, version: str, charger: Callable[[End], Any], connectors: int = 1
    ) -> None:
        self.said: list[str] = []
        self.gateway = idle_gateway(
            tmp_path,
            local_list=tmp_path / "list.txt",
            connectors=ConnectorCounts(connectors),
            say=self.said.append,
        )
        ours, theirs = End(), End()
        ours.peer, theirs.peer = theirs, ours
        self.sent = ours.sent  # the gateway's messages, exact
        self.points = self.gateway.charger(CP)
        kind = GatewayChargePoint if version == "1.6" else GatewayChargePoint201
        self.cp = kind(CP, ours, self.points)
        self.points.attach(self.cp, authenticated=True)
        for point in self.points.points:
            point.link = UpLink()  # type: ignore[assignment]
        self.charger = charger(theirs)

    def done(self) -> bool:
        """The gateway's calls to the charger are over (its tasks ended)."""
        return not self.points._tasks

    def asked(self) -> int:
        """How many times the gateway asked the charger's list version."""
        return self.calls().count("GetLocalListVersion")

    def calls(self) -> list[str]:
        """The gateway's calls about the list (a 1.6 charger is asked its connectors, too)."""
        return [m[2] for m in self.sent if m[0] == 2 and "LocalList" in m[2]]

    def about_the_list(self) -> list[str]:
        """What the gateway said about it, without the time of day."""
        return [line[9:] for line in self.said if "local authorization list" in line]

    async def run(self, script: Callable[[Bench], Any]) -> None:
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self.cp.start()), loop.create_task(self.charger.start())]
        try:
            async with asyncio.timeout(10):
                await script(self)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


VERSIONS = ["1.6", "2.0.1"]


def charger(version: str, list_version: int, status: str = "Accepted") -> Callable[[End], Any]:
    kind = Charger16 if version == "1.6" else Charger201
    return lambda end: kind(end, list_version, status)


@pytest.mark.parametrize("connectors", [1, 2])
@pytest.mark.parametrize("version", VERSIONS)
def test_a_charger_with_another_version_gets_the_full_list(
    tmp_path: Path, version: str, connectors: int
) -> None:
    """One list per charger, whatever its connectors (each a CP at Central)."""
    written = local_list.write(IDS, tmp_path / "list.txt")
    assert written.version == 1
    bench = Bench(tmp_path, version, charger(version, list_version=0), connectors)
    assert len(bench.points.points) == connectors

    async def script(b: Bench) -> None:
        assert await b.charger.boot() == "Accepted"
        await until(lambda: b.about_the_list(), "the list sent")

    asyncio.run(bench.run(script))
    assert bench.calls() == ["GetLocalListVersion", "SendLocalList"]
    (request,) = [m[3] for m in bench.sent if m[0] == 2 and m[2] == "SendLocalList"]
    if version == "1.6":
        accepted = {"status": "Accepted"}
        assert request == {
            "listVersion": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {"idTag": "D-001", "idTagInfo": accepted},
                {"idTag": "D-002", "idTagInfo": accepted},
            ],
        }
        assert bench.about_the_list() == [
            f"[{CP}] sent the local authorization list version 1 (2 ids); 1 longer than 20 "
            "characters left out (OCPP 1.6 holds no longer id): Accepted"
        ]
    else:
        assert request == {
            "versionNumber": 1,
            "updateType": "Full",
            "localAuthorizationList": [
                {
                    "idToken": {"idToken": i, "type": "Central"},
                    "idTokenInfo": {"status": "Accepted"},
                }
                for i in IDS
            ],
        }
        assert bench.about_the_list() == [
            f"[{CP}] sent the local authorization list version 1 (3 ids): Accepted"
        ]
    assert len(bench.charger.lists) == 1
    counted = bench.gateway.calls.snapshot()
    assert counted["sent GetLocalListVersion ok"] == 1
    assert counted["sent SendLocalList Accepted"] == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_a_charger_with_the_same_version_gets_none(tmp_path: Path, version: str) -> None:
    path = tmp_path / "list.txt"
    local_list.write(IDS, path)
    local_list.write(IDS, path)  # version 2
    bench = Bench(tmp_path, version, charger(version, list_version=2))

    async def script(b: Bench) -> None:
        for boots in (1, 2):  # booting again says nothing new
            assert await b.charger.boot() == "Accepted"
            await until(lambda n=boots: b.asked() == n, "the version asked")
            await until(b.done, "the gateway done with the list")

    asyncio.run(bench.run(script))
    assert bench.calls() == ["GetLocalListVersion", "GetLocalListVersion"]
    assert bench.charger.lists == []
    assert bench.about_the_list() == [f"[{CP}] has the local authorization list version 2 already"]


@pytest.mark.parametrize("version", VERSIONS)
def test_no_file_no_calls(tmp_path: Path, version: str) -> None:
    bench = Bench(tmp_path, version, charger(version, list_version=0))

    async def script(b: Bench) -> None:
        assert await b.charger.boot() == "Accepted"
        assert await b.charger.beat()

    asyncio.run(bench.run(script))
    assert bench.calls() == [] and bench.said == []


@pytest.mark.parametrize(
    ("version", "kind", "expected"),
    [
        ("1.6", Bare16, "(GetLocalListVersion answered the CALLERROR NotImplemented)"),
        ("2.0.1", Bare201, "(GetLocalListVersion answered the CALLERROR NotImplemented)"),
        ("1.6", "NotSupported", "(SendLocalList answered NotSupported)"),
        ("1.6", -1, "(GetLocalListVersion answered -1)"),
        ("2.0.1", "Failed", "refused the local authorization list version 1 (3 ids): Failed"),
        ("1.6", "VersionMismatch", ": VersionMismatch (it expected another version)"),
    ],
)
def test_a_charger_without_a_list_stays_connected_and_is_said_once(
    tmp_path: Path, version: str, kind: Any, expected: str
) -> None:
    local_list.write(IDS, tmp_path / "list.txt")
    if isinstance(kind, type):
        make: Callable[[End], Any] = lambda end: kind(CP, end)  # noqa: E731
    elif kind == -1:
        make = charger(version, list_version=-1)
    else:
        make = charger(version, list_version=0, status=kind)
    bench = Bench(tmp_path, version, make)

    async def script(b: Bench) -> None:
        for boots in (1, 2):
            assert await b.charger.boot() == "Accepted"
            await until(lambda n=boots: b.asked() == n, "the question")
            await until(b.done, "the gateway done with the list")
            assert await b.charger.beat()  # still connected, still answered

    asyncio.run(bench.run(script))
    (line,) = bench.about_the_list()  # said once, not at every boot
    assert line.startswith(f"[{CP}] ") and expected in line


@pytest.mark.parametrize("version", VERSIONS)
def test_a_charger_that_does_not_answer_is_said_once_and_stays(
    tmp_path: Path, version: str
) -> None:
    local_list.write(IDS, tmp_path / "list.txt")

    def deaf(end: End) -> Any:
        heard = end.recv

        async def recv() -> str:  # the question never reaches the charger
            while "GetLocalListVersion" in (message := await heard()):
                pass
            return message

        end.recv = recv  # type: ignore[method-assign]
        return charger(version, list_version=0)(end)

    bench = Bench(tmp_path, version, deaf)
    bench.cp._response_timeout = 0.2  # the gateway's CALL_TIMEOUT, shortened

    async def script(b: Bench) -> None:
        for boots in (1, 2):
            assert await b.charger.boot() == "Accepted"
            await until(lambda n=boots: b.asked() == n, "the question")
            await until(b.done, "the gateway giving up")
            assert await b.charger.beat()

    asyncio.run(bench.run(script))
    assert bench.about_the_list() == [
        f"[{CP}] local authorization list not sent: no answer to GetLocalListVersion (tried "
        "again at the charger's next boot)"
    ]
    assert bench.gateway.calls["sent GetLocalListVersion no_answer"] == 2
    assert bench.charger.lists == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_boot_not_accepted_gets_no_list(tmp_path: Path, version: str) -> None:
    """A boot answered Rejected (no password provisioned, no Central link): nothing asked."""
    local_list.write(IDS, tmp_path / "list.txt")
    bench = Bench(tmp_path, version, charger(version, list_version=0))
    for point in bench.points.points:
        point.link = None
    bench.points.authenticated = False  # no password provisioned: Rejected at once

    async def script(b: Bench) -> None:
        assert await b.charger.boot() == "Rejected"
        assert await b.charger.beat()

    asyncio.run(bench.run(script))
    assert bench.calls() == [] and bench.about_the_list() == []
