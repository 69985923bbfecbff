"""Issue 24, item 2: OCPP security profiles 2 and 3 served by EV_OCPP itself. The gateway's
own upgrade check over a real ``wss://`` handshake (no broker, no Central): the server
certificate from the CA, basic auth inside TLS (2), client certificates from the CA with the
charge point id as common name (3). Booting over ``wss://`` end to end is in
``tests/e2e/test_ocpp_tls.py``."""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus, WebSocketException

from central_app import admin
from cp_core.passwords import PasswordFile, new_password
from ocpp_gateway import main as gateway_main
from ocpp_gateway.gateway import Gateway
from ocpp_gateway.profiles import SecurityProfile, certificate_refusal
from ocpp_gateway.sim import basic_auth_header, client_tls
from tests.ocpp.gateways import idle_gateway
from wire.errors import TlsConfigError
from wire.pki import Secrets, make_ca, make_client, write_private
from wire.tls import server_context

CP = "OCPP-07"
REFUSED = -1  # no HTTP status: the TLS handshake (or the connection) failed


@pytest.fixture(scope="module")
def secrets(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    made = Secrets(tmp_path_factory.mktemp("ocpp-secrets"))
    made.init()
    return made


def _gateway(tmp_path: Path, secrets: Secrets, profile: SecurityProfile) -> Gateway:
    passwords = PasswordFile(tmp_path / "pw.json")
    client_ca = secrets.ca_cert if profile.client_certificates else None
    return idle_gateway(
        tmp_path,
        passwords=passwords,
        profile=profile,
        server_tls=server_context(secrets.cert("ocpp"), secrets.key("ocpp"), client_ca=client_ca),
    )


def _issued(secrets: Secrets, cp_id: str, tmp_path: Path, ca: tuple[bytes, bytes] | None = None):  # type: ignore[no-untyped-def]
    """(cert, key) files of a client certificate for ``cp_id`` from ``ca`` (the project's)."""
    ca_cert, ca_key = ca or (secrets.ca_cert.read_bytes(), secrets.ca_key.read_bytes())
    cert, key = make_client(cp_id, ca_cert, ca_key)
    tag = "foreign" if ca else "ours"
    write_private(tmp_path / f"{cp_id}-{tag}.pem", cert)
    write_private(tmp_path / f"{cp_id}-{tag}.key", key)
    return tmp_path / f"{cp_id}-{tag}.pem", tmp_path / f"{cp_id}-{tag}.key"


async def _status(
    gateway: Gateway, tls: ssl.SSLContext | None, headers: dict[str, str] | None = None
) -> int:
    """The HTTP status of an OCPP upgrade for CP (101: the socket opened; REFUSED: no HTTP)."""

    async def handler(connection) -> None:  # type: ignore[no-untyped-def]
        await connection.close()

    async with serve(
        handler,
        "127.0.0.1",
        0,
        ssl=gateway.server_tls,
        subprotocols=["ocpp1.6"],
        process_request=gateway._check_upgrade,
    ) as server:
        port = server.sockets[0].getsockname()[1]  # type: ignore[index]
        scheme = "wss" if tls is not None else "ws"
        try:
            async with connect(
                f"{scheme}://127.0.0.1:{port}/ocpp/{CP}",
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers=headers,
                ssl=tls,
                open_timeout=5,
            ):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code
        except (OSError, WebSocketException):
            return REFUSED


def test_profile_2_checks_the_password_inside_tls(tmp_path: Path, secrets: Secrets) -> None:
    gateway = _gateway(tmp_path, secrets, SecurityProfile.TLS_BASIC_AUTH)
    password = new_password()
    gateway.passwords.set(CP, password)
    trusting = client_tls(secrets.ca_cert)
    assert asyncio.run(_status(gateway, trusting, basic_auth_header(CP, password))) == 101
    assert asyncio.run(_status(gateway, trusting, basic_auth_header(CP, new_password()))) == 401
    assert asyncio.run(_status(gateway, trusting)) == 401
    # plain ws:// on the wss:// port, and a charger that does not trust the gateway's CA
    assert asyncio.run(_status(gateway, None, basic_auth_header(CP, password))) == REFUSED
    stranger = client_tls(None)  # the system's roots only
    assert asyncio.run(_status(gateway, stranger, basic_auth_header(CP, password))) == REFUSED


def test_profile_3_wants_the_cas_certificate_naming_the_charge_point(
    tmp_path: Path, secrets: Secrets
) -> None:
    gateway = _gateway(tmp_path, secrets, SecurityProfile.TLS_CLIENT_CERTIFICATE)
    ours = client_tls(secrets.ca_cert, *_issued(secrets, CP, tmp_path))
    assert asyncio.run(_status(gateway, ours)) == 101  # no password needed
    another = client_tls(secrets.ca_cert, *_issued(secrets, "OCPP-08", tmp_path))
    assert asyncio.run(_status(gateway, another)) == 403
    foreign = client_tls(secrets.ca_cert, *_issued(secrets, CP, tmp_path, ca=make_ca("other")))
    assert asyncio.run(_status(gateway, foreign)) == REFUSED
    assert asyncio.run(_status(gateway, client_tls(secrets.ca_cert))) == REFUSED  # none
    # a password is no substitute for the certificate
    gateway.passwords.set(CP, password := new_password())
    headers = basic_auth_header(CP, password)
    assert asyncio.run(_status(gateway, client_tls(secrets.ca_cert), headers)) == REFUSED


def test_a_certificate_speaks_only_for_the_charge_point_it_names() -> None:
    assert certificate_refusal(CP, CP) is None
    assert "OCPP-08" in (certificate_refusal(CP, "OCPP-08") or "")
    assert certificate_refusal(CP, None) == "no client certificate"
    assert [p.scheme for p in SecurityProfile] == ["ws", "wss", "wss"]


def test_evc_admin_issues_a_chargers_certificate_from_the_project_ca(
    tmp_path: Path, secrets: Secrets, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "chargers"
    assert admin.main(["ocpp", "cert", CP, "--dir", str(secrets.root), "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == str(out / f"{CP}.pem")
    assert "--security-profile 3" in printed.err and str(secrets.ca_cert) in printed.err
    for name in (f"{CP}.pem", f"{CP}.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate((out / f"{CP}.pem").read_bytes())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP
    ca = x509.load_pem_x509_certificate(secrets.ca_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    assert admin.main(["ocpp", "cert", "no spaces", "--dir", str(secrets.root)]) == 1
    assert admin.main(["ocpp", "cert", CP, "--dir", str(tmp_path / "nowhere")]) == 2


def test_ev_ocpp_serves_profile_2_by_default_and_1_with_insecure(
    tmp_path: Path, secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--port", "9000", "--central", "127.0.0.1:7070", "--kafka", "127.0.0.1:9092"]

    def chosen(*extra: str) -> tuple[SecurityProfile, ssl.SSLContext | None]:
        return gateway_main.charger_tls(gateway_main.build_parser().parse_args(base + [*extra]))

    monkeypatch.setenv("EVC_SECRETS", str(secrets.root))
    profile, context = chosen()
    assert profile is SecurityProfile.TLS_BASIC_AUTH and context is not None
    assert context.verify_mode == ssl.CERT_NONE
    assert chosen("--insecure") == (SecurityProfile.BASIC_AUTH, None)
    profile, context = chosen("--security-profile", "3")
    assert profile is SecurityProfile.TLS_CLIENT_CERTIFICATE and context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(TlsConfigError):
        chosen("--ocpp-cert", str(secrets.cert("ocpp")))  # without its key

    monkeypatch.setenv("EVC_SECRETS", str(tmp_path / "empty"))
    with pytest.raises(TlsConfigError, match="does not exist"):
        chosen()
    assert chosen("--security-profile", "1") == (SecurityProfile.BASIC_AUTH, None)
    assert gateway_main.main(base) == 2  # says how to get a certificate, serves nothing


def test_make_run_offers_ocpp_tls_and_gives_the_gateway_and_chargers_their_files(
    secrets: Secrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaos.components import load_run_network

    run_network = load_run_network()
    assert run_network.parse_args([]).ocpp_profile == 1  # the demo's default, as before
    assert run_network.parse_args(["--ocpp-tls"]).ocpp_profile == 2
    assert run_network.parse_args(["--ocpp-profile", "3"]).ocpp_profile == 3

    monkeypatch.setenv("EVC_SECRETS", str(secrets.root))

    class Demo:  # just what Network.ocpp_tls reads
        args = run_network.parse_args(["--ocpp-tls"])

    gateway, chargers = run_network.Network.ocpp_tls(Demo(), ["OCPP-01"])  # type: ignore[arg-type]
    assert gateway == [
        "--ocpp-cert",
        str(secrets.cert("ocpp")),
        "--ocpp-key",
        str(secrets.key("ocpp")),
        "--ocpp-ca",
        str(secrets.ca_cert),
    ]
    assert chargers == {"OCPP-01": ["--ca", str(secrets.ca_cert)]}
    Demo.args = run_network.parse_args([])
    assert run_network.Network.ocpp_tls(Demo(), ["OCPP-01"]) == ([], {"OCPP-01": []})  # type: ignore[arg-type]
