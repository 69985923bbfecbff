"""A server's TLS certificate on the command line (``wire.cli.add_server_cert``/``server_cert``):
EV_Central's and EV_Web's ``--tls-cert``/``--tls-key`` and EV_OCPP's ``--ocpp-cert``/
``--ocpp-key`` are one pair of options, read one way."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from central_app.main import build_parser as central_parser
from central_app.main import resolve_tls
from ocpp_gateway.main import build_parser as ocpp_parser
from web_app.main import build_parser as web_parser
from wire import cli
from wire.errors import TlsConfigError

KAFKA = ["--kafka", "127.0.0.1:9092"]
PROGRAMS = {  # program: (its parser, the arguments it needs, option, file name)
    "EV_Central": (central_parser, ["--port", "7070", *KAFKA], "tls", "central"),
    "EV_Web": (web_parser, KAFKA, "tls", "web"),
    "EV_OCPP": (ocpp_parser, ["--port", "9000", "--central", "h:7070", *KAFKA], "ocpp", "ocpp"),
}


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EVC_SECRETS", str(tmp_path / "secrets"))
    return tmp_path / "secrets"


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_both_files_named_or_neither_for_the_secrets_directorys(
    program: str, secrets_dir: Path, tmp_path: Path
) -> None:
    parser, needed, option, name = PROGRAMS[program]

    def files(*extra: str) -> tuple[Path, Path]:
        return cli.server_cert(parser().parse_args([*needed, *extra]), option, name)

    assert files() == (secrets_dir / f"{name}.pem", secrets_dir / f"{name}.key")
    cert, key = tmp_path / "a.pem", tmp_path / "a.key"
    assert files(f"--{option}-cert", str(cert), f"--{option}-key", str(key)) == (cert, key)
    for alone in ([f"--{option}-cert", str(cert)], [f"--{option}-key", str(key)]):
        with pytest.raises(TlsConfigError, match=f"--{option}-cert and --{option}-key go together"):
            files(*alone)


def test_the_options_say_their_default_files() -> None:
    parser = argparse.ArgumentParser()
    cli.add_server_cert(parser, "tls", "web", "HTTPS certificate")
    text = " ".join(parser.format_help().split())  # as read, whatever the wrapping
    assert "--tls-cert FILE" in text and "--tls-key FILE" in text
    assert "web.pem in the secrets directory" in text and "web.key there" in text


def test_central_says_how_to_get_its_certificate_or_that_the_two_go_together(
    secrets_dir: Path, tmp_path: Path
) -> None:
    base = PROGRAMS["EV_Central"][1]
    args = central_parser().parse_args(base)
    problem = resolve_tls(args)
    assert problem is not None and "evc-secrets init" in problem and "--insecure" in problem
    assert args.tls_cert == secrets_dir / "central.pem"
    alone = central_parser().parse_args([*base, "--tls-key", str(tmp_path / "k")])
    assert "go together" in (resolve_tls(alone) or "")
    named = central_parser().parse_args(
        [*base, "--tls-cert", str(tmp_path / "c"), "--tls-key", str(tmp_path / "k")]
    )
    assert resolve_tls(named) is None  # named files are checked when Central opens them
    assert resolve_tls(central_parser().parse_args([*base, "--insecure"])) is None
