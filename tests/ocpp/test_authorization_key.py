"""Issue 24, item 1: OCPP 1.6 security profile 1 as the spec says. The AuthorizationKey is
the hex form of the basic-auth password's bytes; a compliant charger hex-decodes it and sends
the raw bytes. The gateway used to accept only the hex text (401 for a compliant charger).
Checked over a real WebSocket upgrade against the gateway's own check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

from central_app import admin
from cp_core.passwords import PasswordFile, authorization_key, new_password
from ocpp_gateway.gateway import Gateway
from ocpp_gateway.sim import basic_auth_header
from tests.ocpp.gateways import idle_gateway

CP = "OCPP-07"


def _gateway(tmp_path: Path, passwords: PasswordFile) -> Gateway:
    return idle_gateway(tmp_path, passwords=passwords)


async def _status(gateway: Gateway, headers: dict[str, str] | None) -> int:
    """The HTTP status of an OCPP upgrade for CP with ``headers`` (101: the socket opened)."""

    async def handler(connection) -> None:  # type: ignore[no-untyped-def]
        await connection.close()

    async with serve(
        handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"], process_request=gateway._check_upgrade
    ) as server:
        port = server.sockets[0].getsockname()[1]  # type: ignore[index]
        try:
            async with connect(
                f"ws://127.0.0.1:{port}/ocpp/{CP}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=headers,
                open_timeout=5,
            ):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code


@pytest.mark.parametrize(
    "sent",
    ["raw bytes (the spec)", "hex text (many vendors)"],
)
def test_a_compliant_charger_and_a_hex_text_one_are_both_accepted(
    tmp_path: Path, sent: str
) -> None:
    passwords = PasswordFile(tmp_path / "pw.json")
    password = new_password()
    passwords.set(CP, password)
    key = authorization_key(password)
    assert key == password and len(bytes.fromhex(key)) == 20
    secret = bytes.fromhex(key) if sent.startswith("raw") else key
    gateway = _gateway(tmp_path, passwords)
    assert asyncio.run(_status(gateway, basic_auth_header(CP, secret))) == 101


def test_wrong_or_missing_passwords_are_still_refused(tmp_path: Path) -> None:
    passwords = PasswordFile(tmp_path / "pw.json")
    passwords.set(CP, new_password())
    gateway = _gateway(tmp_path, passwords)
    other = new_password()
    for headers in (
        None,
        basic_auth_header(CP, bytes.fromhex(other)),
        basic_auth_header(CP, other),
        basic_auth_header("OCPP-08", bytes.fromhex(other)),
        {"Authorization": "Basic !!notbase64"},
    ):
        assert asyncio.run(_status(gateway, headers)) == 401


def test_an_operators_own_password_is_hex_encoded_as_its_key(tmp_path: Path) -> None:
    passwords = PasswordFile(tmp_path / "pw.json")
    passwords.set(CP, "correct horse battery staple")
    key = authorization_key("correct horse battery staple")
    assert bytes.fromhex(key) == b"correct horse battery staple"
    # a compliant charger configured with that key sends the password's own bytes
    assert passwords.verify(CP, bytes.fromhex(key))
    assert not passwords.verify(CP, b"correct horse battery stapler")


def test_evc_admin_says_what_to_configure_and_what_a_charger_sends(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "pw.json"
    assert admin.main(["ocpp", "password", CP, "--file", str(path)]) == 0
    out = capsys.readouterr()
    password = out.out.strip()
    assert f"AuthorizationKey = {password}" in out.err and "20 bytes" in out.err
    assert PasswordFile(path).verify(CP, bytes.fromhex(password))
