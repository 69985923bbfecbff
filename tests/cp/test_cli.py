"""Command lines of EV_CP_E and EV_CP_M, including the snake-case aliases of the brief."""

from __future__ import annotations

import pytest

from cp_node import engine_main, monitor_main
from wire.curve import CurveKeys


def test_monitor_accepts_both_spellings() -> None:
    parser = monitor_main.build_parser()
    modern = parser.parse_args(
        ["--engine", "10.0.0.5:5555", "--central", "central:7000", "--cp-id", "CP-1"]
    )
    monitor_main._resolve(modern, parser)
    legacy = parser.parse_args(
        [
            "--engine_ip",
            "10.0.0.5",
            "--engine_port",
            "5555",
            "--central_ip",
            "central",
            "--central_port",
            "7000",
            "--cp_id",
            "CP-1",
        ]
    )
    monitor_main._resolve(legacy, parser)
    for args in (modern, legacy):
        assert args.engine == ("10.0.0.5", 5555)
        assert args.central == [("central", 7000)]
        assert args.cp_id == "CP-1"
    pair = parser.parse_args(["--engine", "e:1", "--central", "a:7000,b:7001", "--cp-id", "C"])
    assert pair.central == [("a", 7000), ("b", 7001)]


def test_monitor_needs_engine_and_central(capsys) -> None:
    parser = monitor_main.build_parser()
    args = parser.parse_args(["--cp-id", "CP-1", "--central", "h:1"])
    with pytest.raises(SystemExit):
        monitor_main._resolve(args, parser)
    assert "--engine" in capsys.readouterr().err


def test_engine_options() -> None:
    args = engine_main.build_parser().parse_args(
        [
            "--kafka",
            "k:9092",
            "--port",
            "6000",
            "--power-kw",
            "50",
            "--speed",
            "10",
            "--autopilot",
            "--plug-delay",
            "1",
            "--unplug-after",
            "20",
            "--unplug-kwh",
            "5",
            "--journal-dir",
            "/tmp/j",
            "--topic-prefix",
            "t.",
            "--no-gui",
        ]
    )
    assert (args.kafka, args.port, args.power_kw, args.speed) == ("k:9092", 6000, 50.0, 10.0)
    assert args.autopilot and args.no_gui and args.unplug_kwh == 5.0


def test_engine_reports_a_busy_port_without_a_traceback(capsys, monkeypatch, tmp_path) -> None:
    from wire.health import HealthResponder

    monkeypatch.setattr(engine_main, "setup_logging", lambda level: None)  # keep pytest's logging
    monkeypatch.setenv("EVC_SECRETS", str(tmp_path))  # its CURVE keys: never the user's folder

    busy = HealthResponder(0, lambda h: None, host="127.0.0.1")  # type: ignore[arg-type,return-value]
    try:
        code = engine_main.main(
            ["--kafka", "127.0.0.1:1", "--port", str(busy.port), "--bind", "127.0.0.1", "--no-gui"]
        )
    finally:
        busy.close()
    assert code == 2
    assert "cannot start" in capsys.readouterr().err


def test_engine_and_monitor_say_in_one_line_what_to_do_with_a_bad_curve_key(
    capsys, monkeypatch, tmp_path, tls_secrets
) -> None:
    monkeypatch.setattr(engine_main, "setup_logging", lambda level: None)
    monkeypatch.setattr(monitor_main, "setup_logging", lambda level: None)
    keys = CurveKeys(tmp_path / "curve")
    keys.ensure_engine()
    keys.ensure_monitor("CP-1")
    keys.engine_secret.write_text("garbage\n")
    keys.monitor_secret("CP-1").write_text("garbage\n")
    with pytest.raises(SystemExit) as engine_exit:
        engine_main.main(
            ["--kafka", "127.0.0.1:1", "--port", "0", "--no-gui", "--curve-dir", str(keys.root)]
        )
    with pytest.raises(SystemExit) as monitor_exit:
        monitor_main.main(
            [
                "--engine",
                "127.0.0.1:1",
                "--central",
                "127.0.0.1:2",
                "--cp-id",
                "CP-1",
                "--central-ca",
                str(tls_secrets.ca_cert),
                "--curve-dir",
                str(keys.root),
            ]
        )
    assert engine_exit.value.code == monitor_exit.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2, err
    assert err[0].startswith("EV_CP_E: error: ") and "engine.key_secret" in err[0]
    assert err[1].startswith("EV_CP_M: error: ") and "CP-1/monitor.key_secret" in err[1]
    assert all("--curve-dir" in line and "--insecure" in line for line in err)


def test_the_engine_binds_to_loopback_unless_told() -> None:
    parser = engine_main.build_parser()
    assert parser.parse_args(["--kafka", "k:1", "--port", "1"]).bind == "127.0.0.1"
    assert parser.parse_args(["--kafka", "k:1", "--port", "1", "--bind", "0.0.0.0"]).bind == (
        "0.0.0.0"
    )
    assert "127.0.0.1" in parser.format_help() and "--curve-dir" in parser.format_help()
