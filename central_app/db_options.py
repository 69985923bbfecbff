"""``--db URL`` and ``--data-dir DIR``: where Central's database is. EV_Central and evc-admin
work on the same database, so they name it with the same options, read the same way."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from central_app.db import DEFAULT_DATA_DIR, default_url

__all__ = ["add_db_options", "db_url"]


def add_db_options(parser: argparse.ArgumentParser) -> None:
    """``--db URL`` (default ``$EVC_DB_URL``) and ``--data-dir DIR`` (the SQLite file's folder
    when there is no URL)."""
    parser.add_argument(
        "--db",
        default=os.environ.get("EVC_DB_URL"),
        help="SQLAlchemy database URL, e.g. mysql://user:pass@host/db or "
        "postgresql+psycopg://user@host/db (default: env EVC_DB_URL, else SQLite in --data-dir)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default ./.run/central"
    )


def db_url(args: argparse.Namespace) -> str:
    """The URL ``add_db_options``'s options name: ``--db``, else the SQLite file in
    ``--data-dir``."""
    return args.db or default_url(args.data_dir)
