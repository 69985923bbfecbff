"""Credentials (never stored in clear), registration rules and seeding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from central_app.db import AuditRow, ChargingPointRow, DatabaseError, engine_url, open_database
from central_app.store import DEFAULT_SEED, RegistryError, Store
from wire.credentials import hash_credential, new_credential, verify_credential


def test_hash_verifies_and_never_contains_the_secret() -> None:
    secret = new_credential()
    stored = hash_credential(secret)
    assert secret not in stored
    assert verify_credential(secret, stored)
    assert not verify_credential(secret + "x", stored)
    assert hash_credential(secret) != stored  # salted
    for bad in ("", "scrypt$1$2", "md5$a$b$c$d$e", None):
        assert not verify_credential(secret, bad)


@pytest.fixture
def store(db_url: str) -> Store:
    s = Store(open_database(db_url))
    s.seed(DEFAULT_SEED)
    return s


def test_seed_file_is_valid_and_seeding_is_idempotent(store: Store) -> None:
    data = json.loads(DEFAULT_SEED.read_text())
    cps = data["charging_points"]
    assert len(cps) >= 10 and len(data["drivers"]) >= 10
    for cp in cps:
        assert 0 <= cp["x"] <= 1000 and 0 <= cp["y"] <= 700 and 0.25 <= cp["price"] <= 0.60
    assert store.seed(DEFAULT_SEED) == (0, 0)
    assert not store.is_empty()


def test_seeded_cp_registers_once_and_keeps_its_place(store: Store) -> None:
    credential, record = store.register_cp("CP-01", "", None, None, default_price=0.35, who="t")
    assert record.location == "Old Town" and record.price == 0.42 and record.x == 420
    with pytest.raises(RegistryError, match="already registered"):
        store.register_cp("CP-01", "Old Town", 1, 2, default_price=0.35, who="t")
    assert store.authenticate_cp("CP-01", credential).cp_id == "CP-01"
    with pytest.raises(RegistryError, match="bad credential"):
        store.authenticate_cp("CP-01", "nope")
    with store.db.Session.begin() as s:
        stored = s.scalar(
            select(ChargingPointRow.credential_hash).where(ChargingPointRow.id == "CP-01")
        )
        actions = list(s.scalars(select(AuditRow.action)))
    assert stored and credential not in stored
    assert "register_seeded" in actions


def test_unknown_cp_registers_with_default_price_and_reset_allows_again(store: Store) -> None:
    _, record = store.register_cp("CP-77", "Harbour", 700, 600, default_price=0.33, who="t")
    assert record.price == 0.33 and record.location == "Harbour"
    store.reset_credential("CP-77", "admin")
    with pytest.raises(RegistryError, match="not registered"):
        store.authenticate_cp("CP-77", "anything")
    store.register_cp("CP-77", "", None, None, default_price=0.33, who="t")
    with pytest.raises(RegistryError, match="unknown cp"):
        store.authenticate_cp("CP-404", "x")


def test_the_briefs_mysql_url_means_pymysql_in_utf8mb4() -> None:
    def mapped(url: str) -> str:
        return engine_url(url).render_as_string(hide_password=False)

    assert mapped("mysql://u:p@h/db") == "mysql+pymysql://u:p@h/db?charset=utf8mb4"
    assert mapped("mariadb://u:p@h:3307/db") == "mysql+pymysql://u:p@h:3307/db?charset=utf8mb4"
    assert (
        mapped("mysql+pymysql://u@h/db?charset=latin1") == "mysql+pymysql://u@h/db?charset=latin1"
    )
    assert mapped("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert mapped("sqlite:///c.db") == "sqlite:///c.db"


def test_bad_database_urls_are_clear_errors(tmp_path: Path) -> None:
    for url in (
        "nonsense",
        "foo://x",
        "postgresql://u:secret@127.0.0.1:1/x",
        "mysql://u:secret@127.0.0.1:1/x",  # the brief's form, nobody listening
    ):
        with pytest.raises(DatabaseError) as info:
            open_database(url)
        assert "secret" not in str(info.value)
