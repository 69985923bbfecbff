"""The headless operator's commands: the same Stop / Resume as the control center's buttons."""

from __future__ import annotations

import io

from central_app.console import ConsoleView, operator_command, read_operator_commands
from central_app.views import CpStatus, CpView


class Controls:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None]] = []

    def snapshot(self) -> list[CpView]:
        return [CpView("CP-01", "Old Town", 1.0, 2.0, 0.4, CpStatus.ACTIVE)]

    def add_listener(self, listener: object) -> None:
        pass

    def stop_cp(self, cp_id: str) -> None:
        self.calls.append(("stop", cp_id))

    def resume_cp(self, cp_id: str) -> None:
        self.calls.append(("resume", cp_id))

    def stop_all(self) -> None:
        self.calls.append(("stop", None))

    def resume_all(self) -> None:
        self.calls.append(("resume", None))


def test_commands_call_the_controls() -> None:
    controls = Controls()
    assert operator_command(controls, "stop CP-01\n") == "operator: stop CP-01: done"
    assert operator_command(controls, "resume CP-01") == "operator: resume CP-01: done"
    assert operator_command(controls, "stop all") == "operator: stop all: done"
    assert operator_command(controls, "resume-all") == "operator: resume all: done"
    assert controls.calls == [
        ("stop", "CP-01"),
        ("resume", "CP-01"),
        ("stop", None),
        ("resume", None),
    ]


def test_bad_lines_say_what_to_type_and_touch_nothing() -> None:
    controls = Controls()
    assert "unknown charging point 'CP-99'" in operator_command(controls, "stop CP-99")
    assert "stop CP_ID" in operator_command(controls, "reboot everything")
    assert operator_command(controls, "   ") == ""
    assert controls.calls == []


def test_reader_prints_answers_and_status_until_end_of_input() -> None:
    controls = Controls()
    out = io.StringIO()
    read_operator_commands(ConsoleView(controls, out), io.StringIO("stop all\nstatus\nbogus\n"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "operator: stop all: done"
    assert lines[1].startswith("status: ACTIVE 1")
    assert lines[2].startswith("operator: cannot read 'bogus'")
