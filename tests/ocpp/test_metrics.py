"""EV_OCPP's call counting (``Gateway.calls``, read by ``ocpp_gateway.metrics``): every call
a charger makes is counted by action and result, a CALLERROR by its code, and a name outside
OCPP 1.6 is counted as ``other`` (a charger chooses what it sends)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from ocpp_gateway.charge_point import GatewayChargePoint
from ocpp_gateway.gateway import Gateway
from ocpp_gateway.metrics import gateway_metrics, gateway_readiness
from tests.ocpp.gateways import idle_gateway


class Connection:
    def __init__(self) -> None:
        self.sent: list[list] = []

    async def send(self, message: str) -> None:
        self.sent.append(json.loads(message))

    async def recv(self) -> str:  # never called: the test routes messages itself
        raise AssertionError


def gateway(tmp_path: Path) -> Gateway:
    return idle_gateway(tmp_path, central=[("127.0.0.1", 1)], insecure=False)


def test_calls_are_counted_by_action_and_result(tmp_path: Path) -> None:
    gw = gateway(tmp_path)
    conn = Connection()
    cp = GatewayChargePoint("OCPP-U", conn, gw.charger("OCPP-U"))

    async def talk() -> None:
        await cp.route_message(json.dumps([2, "1", "Heartbeat", {}]))
        await cp.route_message(json.dumps([2, "2", "DataTransfer", {"vendorId": "x"}]))
        await cp.route_message(json.dumps([2, "3", "BootNotification", {}]))  # fields missing
        await cp.route_message(json.dumps([2, "4", "Nonsense", {}]))

    asyncio.run(talk())
    assert [m[0] for m in conn.sent] == [3, 4, 4, 4]
    codes = [m[2] for m in conn.sent[1:]]
    assert gw.calls.snapshot() == {
        "received Heartbeat ok": 1,
        f"received DataTransfer {codes[0]}": 1,
        f"received BootNotification {codes[1]}": 1,
        f"received other {codes[2]}": 1,
    }
    assert codes[0] == "NotImplemented" and codes[2] == "NotSupported"
    gw.count_call("sent", "RemoteStartTransaction", "Accepted")
    gw.count_call("sent", "RemoteStopTransaction", "<script>")
    assert gw.calls["sent RemoteStopTransaction other"] == 1

    families = {f.name: f for f in gateway_metrics(gw)}
    calls = {tuple(s.labels.values()): s.value for s in families["evc_ocpp_calls"].samples}
    assert calls[("received", "Heartbeat", "ok")] == 1
    assert calls[("sent", "RemoteStartTransaction", "Accepted")] == 1
    assert "evc_ocpp_kafka_up" not in families  # the Kafka side starts with serve()
    assert not gateway_readiness(gw).ready
