"""OCPP security profiles 2 and 3 served by EV_OCPP itself (issue 24, item 2; docs/ocpp.md):
the ``ocpp`` library's own ChargePoint over a real ``wss://`` WebSocket, the gateway's
certificate issued by the network's private CA, a real EV_Central and broker.

- profile 2: TLS and the charger's basic-auth password; a wrong password is answered 401,
  and the port speaks no plain ``ws://``;
- profile 3: a client certificate from ``evc-admin ocpp cert ID`` (CN = the charge point
  id); a certificate from another CA, or none, fails the handshake; a valid certificate
  of another charger is answered 403.

A 2.0.1 station (subprotocol ``ocpp2.0.1``, the library's v201 ChargePoint) beside the 1.6J
one on the same gateway is checked the same way in both profiles (issue 24, item 3).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus, WebSocketException

from ocpp_gateway.sim import client_tls
from tests.e2e.harness import Network, Observer, Proc
from tests.e2e.ocpp_helpers import Charger, Gateway
from wire.pki import make_ca, make_client, write_private

CP = "OCPP-01"
HEARTBEAT = 3  # s, as tests/e2e/test_ocpp.py (the chargers beat in this test's process)


@pytest.fixture
def central(network: Network) -> Proc:
    if network.secrets is None:
        pytest.skip("wss:// needs the secured network's CA (EVC_E2E_SECURE=1)")
    return network.start_central()


def boots(charger: Charger, observer: Observer) -> None:
    charger.connect()
    assert charger.boot() == "Accepted"
    charger.call("status", "Available")
    observer.wait_status(charger.cp_id, "ACTIVE", 20)


def test_profile_2_boots_over_wss_with_the_password_and_refuses_a_wrong_one(
    network: Network, central: Proc, chargers: list[Charger], observer: Observer
) -> None:
    gateway = Gateway(network, heartbeat=HEARTBEAT, profile=2)
    password = gateway.set_password(CP)
    gateway.start()
    assert gateway.url.startswith("wss://")

    charger = Charger(gateway.url, CP, password, tls=gateway.charger_tls())
    chargers.append(charger)
    boots(charger, observer)

    impostor = Charger(gateway.url, CP, "not-the-password-at-all", tls=gateway.charger_tls())
    chargers.append(impostor)
    with pytest.raises(InvalidStatus) as refused:
        impostor.connect()
    assert refused.value.response.status_code == 401

    plain = Charger(gateway.url.replace("wss://", "ws://"), CP, password)
    chargers.append(plain)
    with pytest.raises((OSError, WebSocketException)):
        plain.connect()  # the password never crosses in clear
    assert observer.status(CP) == "ACTIVE"  # the real charger is untouched

    station = Charger(
        gateway.url, "OCPP-21", gateway.set_password("OCPP-21"), gateway.charger_tls(), "2.0.1"
    )
    chargers.append(station)
    boots(station, observer)  # OCPP 2.0.1 over the same wss:// and the same passwords


def test_profile_3_boots_with_the_cas_certificate_and_refuses_a_foreign_or_anothers(
    network: Network, central: Proc, chargers: list[Charger], observer: Observer, tmp_path: Path
) -> None:
    gateway = Gateway(network, heartbeat=HEARTBEAT, profile=3)
    network.enroll(CP, gateway.tokens / f"{CP}.token")  # Central's enrollment, as ever
    gateway.start()

    charger = Charger(gateway.url, CP, tls=gateway.charger_tls(CP))  # no password at all
    chargers.append(charger)
    boots(charger, observer)

    # a certificate naming OCPP-01, from a CA the gateway does not trust
    ca_cert, ca_key = make_ca("someone else's CA")
    cert, key = make_client(CP, ca_cert, ca_key)
    write_private(tmp_path / "foreign.pem", cert)
    write_private(tmp_path / "foreign.key", key)
    assert network.secrets is not None
    foreign = client_tls(
        network.secrets.ca_cert, tmp_path / "foreign.pem", tmp_path / "foreign.key"
    )
    stranger = Charger(gateway.url, CP, tls=foreign)
    chargers.append(stranger)
    with pytest.raises((OSError, WebSocketException)):
        stranger.connect()

    anonymous = Charger(gateway.url, CP, tls=gateway.charger_tls())  # trusts, presents nothing
    chargers.append(anonymous)
    with pytest.raises((OSError, WebSocketException)) as failed:
        anonymous.connect()
    assert failed.type is not InvalidStatus  # the TLS handshake itself, before any HTTP

    # the project CA's valid certificate of another charger, OCPP-02, on OCPP-01's path
    other = gateway.issue_cert("OCPP-02")
    impostor = Charger(
        gateway.url, CP, tls=client_tls(network.secrets.ca_cert, other, other.with_suffix(".key"))
    )
    chargers.append(impostor)
    with pytest.raises(InvalidStatus) as refused:
        impostor.connect()
    assert refused.value.response.status_code == 403
    assert observer.status(CP) == "ACTIVE"  # the real charger is untouched

    network.enroll("OCPP-21", gateway.tokens / "OCPP-21.token")
    station = Charger(gateway.url, "OCPP-21", tls=gateway.charger_tls("OCPP-21"), version="2.0.1")
    chargers.append(station)
    boots(station, observer)  # OCPP 2.0.1 with its own certificate, on the same gateway
