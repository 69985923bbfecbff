"""``Store.issue_enrollments``: the launchers' and the fleet's one transaction that admits
many CPs at once (docs/security.md, enrollment); each token registers its own id once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from central_app.db import open_database
from central_app.store import RegistryError, Store


def test_bulk_tokens_register_their_ids_once_and_are_audited(tmp_path: Path) -> None:
    store = Store(open_database(f"sqlite:///{tmp_path / 'c.db'}"))
    ids = [f"FL{i:05d}" for i in range(1200)]  # more than one IN chunk
    issued = store.issue_enrollments([*ids, ids[0]], "fleet", 3600)
    assert list(issued) == ids  # one token per id, duplicates once
    assert len({token for token, _ in issued.values()}) == len(ids)
    requests = [
        (cp_id, "Fleet", None, None, 0.3, "test", "", issued[cp_id][0]) for cp_id in ids[:3]
    ]
    requests.append(("FL00003", "Fleet", None, None, 0.3, "test", "", issued["FL00004"][0]))
    results = store.register_many(requests, require_token=True)
    assert [isinstance(r, RegistryError) for r in results] == [False, False, False, True]
    again = store.register_many(
        [("FL99999", "Fleet", None, None, 0.3, "test", "", issued["FL00000"][0])],
        require_token=True,
    )
    assert isinstance(again[0], RegistryError)  # a token is for its own id only
    audit = [entry for entry in store.audit_entries(5000) if entry[2] == "enroll_issued"]
    assert len(audit) == len(ids)

    with pytest.raises(RegistryError, match=r"2 of these charging points are registered"):
        store.issue_enrollments(["FL00000", "FL00001", "NEW-1"], "fleet")
    assert not store.issue_enrollments([], "fleet")
    with pytest.raises(RegistryError):
        store.issue_enrollments(["NEW-1"], "fleet", 0)


def test_evc_admin_enroll_many_writes_the_tokens_of_a_file_of_ids(tmp_path: Path) -> None:
    """What evc-fleet runs as a process (it imports no Central module)."""
    from central_app import admin

    url = f"sqlite:///{tmp_path / 'c.db'}"
    ids_file, tokens_file = tmp_path / "ids.txt", tmp_path / "tokens.json"
    ids_file.write_text("FL00001\nFL00002\n\n")
    argv = ["--db", url, "cp", "enroll-many", "--ids-file", str(ids_file)]
    assert admin.main([*argv, "--tokens-file", str(tokens_file)]) == 0
    tokens = json.loads(tokens_file.read_text())
    assert sorted(tokens) == ["FL00001", "FL00002"]
    assert tokens_file.stat().st_mode & 0o777 == 0o600
    store = Store(open_database(url))
    [result] = store.register_many(
        [("FL00002", "Fleet", None, None, 0.3, "test", "", tokens["FL00002"])], require_token=True
    )
    assert not isinstance(result, RegistryError)
    ids_file.write_text("FL00002\n")  # registered: all or nothing, refused
    assert admin.main([*argv, "--tokens-file", str(tmp_path / "again.json")]) == 1
    ids_file.write_text("bad id#\n")
    assert admin.main([*argv, "--tokens-file", str(tmp_path / "bad.json")]) == 1
