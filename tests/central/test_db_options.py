"""EV_Central and evc-admin name Central's database with the same ``--db``/``--data-dir``
options (``central_app.db_options``), so both open the same one."""

from __future__ import annotations

from pathlib import Path

import pytest

from central_app.admin import build_parser as admin_parser
from central_app.db import DB_FILE
from central_app.db_options import db_url
from central_app.main import build_parser as central_parser

PROGRAMS = {
    "EV_Central": (central_parser, ["--port", "7070", "--kafka", "127.0.0.1:9092"]),
    "evc-admin": (admin_parser, ["db", "current"]),
}


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_db_url_from_db_else_env_else_sqlite_in_data_dir(
    program: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parser, needed = PROGRAMS[program]

    def url(*options: str) -> str:
        return db_url(parser().parse_args([*options, *needed]))

    monkeypatch.delenv("EVC_DB_URL", raising=False)
    assert url("--data-dir", str(tmp_path)) == f"sqlite:///{tmp_path / DB_FILE}"
    assert url() == f"sqlite:///{Path('.run') / 'central' / DB_FILE}"
    assert url("--db", "postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("EVC_DB_URL", "mysql://u@h/db")
    assert url("--data-dir", str(tmp_path)) == "mysql://u@h/db"
