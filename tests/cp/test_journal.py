"""The journal: atomic writes, tolerant reads, clearing; the credential store's permissions."""

from __future__ import annotations

import os
import stat

from cp_core.credentials import CredentialStore
from cp_core.journal import Journal


def test_write_read_clear(tmp_path) -> None:
    journal = Journal(tmp_path / "j", "CP1")
    assert journal.read() is None
    record = {"status": "running", "session_id": "S", "kwh_exact": 1.23456}
    journal.write(record)
    assert journal.read() == record
    journal.write({**record, "kwh_exact": 2.5})
    assert journal.read()["kwh_exact"] == 2.5
    assert [p.name for p in (tmp_path / "j").iterdir()] == ["CP1.json"]  # no temp files left
    journal.clear()
    assert journal.read() is None
    journal.clear()  # twice is fine


def test_corrupt_or_foreign_journal_is_ignored(tmp_path) -> None:
    journal = Journal(tmp_path, "CP1")
    journal.path.write_text("{not json")
    assert journal.read() is None
    journal.path.write_text('{"status": "weird"}')
    assert journal.read() is None


def test_credential_file_is_private(tmp_path) -> None:
    store = CredentialStore(tmp_path / "creds")
    assert store.load("CP1") is None
    path = store.save("CP1", "s3cret")
    assert store.load("CP1") == "s3cret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_key_or_claim_file_of_the_wrong_form_reads_as_none_and_is_logged(
    tmp_path, caplog
) -> None:
    store = CredentialStore(tmp_path / "creds")
    key = "k" * 43
    store.save_key("CP1", key)
    claim = store.claim("CP1")  # made and saved
    assert (store.load_key("CP1"), store.load_claim("CP1")) == (key, claim)
    store.save_key("CP1", "k" * 42)  # one character short of 32 bytes
    store.claim_path("CP1").write_text("bad claim!\n")
    with caplog.at_level("WARNING"):
        assert (store.load_key("CP1"), store.load_claim("CP1")) == (None, None)
    assert f"ignoring {store.key_path('CP1')}: not a key" in caplog.text
    assert f"ignoring {store.claim_path('CP1')}: not a registration claim" in caplog.text


def test_unwritable_journal_dir_raises_oserror_for_the_service_to_report(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    journal = Journal(blocker / "j", "CP1")
    try:
        journal.write({"status": "running"})
    except OSError:
        pass
    else:  # pragma: no cover
        raise AssertionError("expected OSError")
    journal.clear()  # tolerant
