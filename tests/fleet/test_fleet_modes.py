"""``evc-fleet`` measures the secured network unless told ``--plain`` (issue 20): which layers a
command line turns on, what a given broker needs, how Central is started for each mode, and
what the table's first column says. No broker, no Central."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fleet.broker import Broker
from fleet.commands import default_central_command
from fleet.errors import FleetError
from fleet.main import _check_kafka, _options, build_parser
from fleet.report import _mode_cell
from fleet.security import KafkaAccess, Security, make_security, mode_label


def _layers(*argv: str) -> tuple[bool, bool, bool]:
    args = build_parser().parse_args(["run", "--cps", "10", *argv])
    opts = _options(args, 10)
    return opts.tls, opts.sealed, args.sasl or not args.plain


@pytest.mark.parametrize(
    ("argv", "layers"),
    [
        ((), (True, True, True)),
        (("--tls", "--sealed"), (True, True, True)),  # the old opt-in spelling: still secured
        (("--plain",), (False, False, False)),
        (("--plain", "--tls", "--sealed"), (True, True, False)),
        (("--plain", "--sasl"), (False, False, True)),
    ],
)
def test_the_secured_network_is_the_default_and_plain_an_option(
    argv: tuple[str, ...], layers: tuple[bool, bool, bool]
) -> None:
    assert _layers(*argv) == layers


def test_a_given_broker_says_what_its_mode_needs() -> None:
    parse = build_parser().parse_args
    with pytest.raises(FleetError, match="--kafka-secrets DIR.*--plain"):
        _check_kafka(parse(["run", "--cps", "1", "--kafka", "127.0.0.1:9092"]), sasl=True)
    plain = parse(["run", "--cps", "1", "--kafka", "127.0.0.1:9092", "--plain"])
    _check_kafka(plain, sasl=False)
    with pytest.raises(FleetError, match="goes with --kafka"):
        _check_kafka(parse(["run", "--cps", "1", "--kafka-secrets", "/x"]), sasl=True)


def test_the_broker_the_fleet_starts_has_a_secrets_dir_of_the_run(tmp_path: Path) -> None:
    assert Broker(None, tmp_path).access == KafkaAccess((tmp_path / "secrets").resolve())
    assert Broker(None, tmp_path, sasl=False).access == KafkaAccess(None)
    given = Broker("127.0.0.1:1", tmp_path, given_secrets=tmp_path / "s")
    assert given.access.secrets == (tmp_path / "s").resolve()


def test_central_is_started_in_its_own_secure_mode_or_through_the_wrapper(
    tmp_path: Path,
) -> None:
    access = KafkaAccess(tmp_path)
    secured = make_security(True, True, access, tmp_path / "unused")
    assert secured.kafka_credentials == tmp_path / "kafka-central.properties"
    assert "--insecure" not in secured.central_args()
    assert secured.command(default_central_command()) == (default_central_command(), {})
    assert Security().command(default_central_command())[1] == {}  # --insecure, PLAINTEXT
    # plain TCP on a SASL_SSL broker: --insecure, and the wrapper hands Central its role file
    tcp = make_security(False, False, access, tmp_path)
    command, env = tcp.command(default_central_command())
    assert command[:2] == [sys.executable, "-c"]
    assert env == {
        "EVC_FLEET_SEAL_KAFKA": "0",
        "EVC_FLEET_KAFKA_ROLE_FILE": str(tmp_path / "kafka-central.properties"),
    }
    with pytest.raises(FleetError, match="default Central command"):
        tcp.command(["my-central"])


def test_the_table_says_what_ran() -> None:
    assert mode_label(True, True, True) == "TLS+sealed+SASL_SSL"
    assert mode_label(False, False, False) == "plain"
    assert _mode_cell({"tls": True, "sealed": True, "sasl": True}) == " TLS+sealed+SASL_SSL"
    assert _mode_cell({"tls": False, "sealed": False, "sasl": False}) == " plain"
    assert _mode_cell({"tls": True, "sealed": True}) == " TLS+sealed"  # older results
    assert _mode_cell({}) == ""
