"""Issue 24, item 5: the local authorization list file (``cp_core.local_list``) and
``evc-admin ocpp local-list``, which fills it with Central's registered drivers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from central_app import admin
from cp_core import local_list
from cp_core.local_list import HEADER, LocalList, LocalListError


def test_no_file_is_no_list(tmp_path: Path) -> None:
    assert local_list.read(tmp_path / "absent.txt") is None


def test_the_default_file_is_in_the_secrets_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVC_SECRETS", str(tmp_path))
    assert local_list.default_path() == tmp_path / "ocpp-local-list.txt"
    local_list.write(["D-001"])
    assert local_list.read() == LocalList(1, ("D-001",))


def test_each_write_raises_the_version_and_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    assert local_list.write(["D-001", "D-002", "D-001"], path) == LocalList(1, ("D-001", "D-002"))
    assert path.read_text() == f"{HEADER}1\nD-001\nD-002\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert local_list.write(["D-003"], path) == LocalList(2, ("D-003",))
    assert local_list.read(path) == LocalList(2, ("D-003",))
    assert [p.name for p in tmp_path.iterdir()] == ["list.txt"]  # no temporary file left
    assert local_list.write([], path) == LocalList(3, ())  # an empty list clears the chargers'


def test_comments_blank_lines_and_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{HEADER}12\n\n# the fleet\nD-001   # Anna's card\n  D-002\nD-001\n")
    assert local_list.read(path) == LocalList(12, ("D-001", "D-002"))


def test_a_hand_written_file_without_the_header_is_versioned_by_its_time(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("# my cards\nCARD-7\n")
    os.utime(path, (1_800_000_000, 1_800_000_000))
    assert local_list.read(path) == LocalList(1_800_000_000, ("CARD-7",))
    os.utime(path, (1_800_000_060, 1_800_000_060))  # edited again: another version
    assert local_list.read(path).version == 1_800_000_060  # type: ignore[union-attr]
    assert local_list.write(["CARD-7"], path).version == 1_800_000_061


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("D-001\nD 002\n", "line 2: 'D 002' is not a driver id"),
        (f"{HEADER}seven\nD-001\n", "'seven' is not a positive whole number"),
        (f"{HEADER}0\n", "'0' is not a positive whole number"),
        ("X" * 65 + "\n", "at most 64 characters"),
    ],
)
def test_a_malformed_file_is_said_in_words(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "list.txt"
    path.write_text(text)
    with pytest.raises(LocalListError, match=said) as caught:
        local_list.read(path)
    assert str(path) in str(caught.value)
    # writing replaces the broken file, under a version unlike its own
    assert local_list.write(["D-001"], path).ids == ("D-001",)
    assert local_list.read(path) is not None


def test_an_unreadable_file_is_said_in_words(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(LocalListError, match="Cannot read the local authorization list"):
        local_list.read(path)
    directory = tmp_path / "a-directory.txt"
    directory.mkdir()
    with pytest.raises(LocalListError, match="Cannot read"):
        local_list.read(directory)


def test_evc_admin_writes_every_registered_driver(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    for driver in ("D-002", "D-001"):
        assert admin.main(["--db", url, "driver", "add", driver]) == 0
    path = tmp_path / "gateway" / "list.txt"
    capsys.readouterr()
    assert admin.main(["--db", url, "ocpp", "local-list", "--file", str(path)]) == 0
    said = capsys.readouterr().out
    assert local_list.read(path) == LocalList(1, ("D-001", "D-002"))
    assert said.count("\n") == 1
    assert "2 driver ids" in said and "version 1" in said and str(path) in said
    assert "next boot" in said and "copy" in said
    # a driver removed at Central leaves the next version
    assert admin.main(["--db", url, "driver", "remove", "D-002"]) == 0
    assert admin.main(["--db", url, "ocpp", "local-list", "--file", str(path)]) == 0
    assert local_list.read(path) == LocalList(2, ("D-001",))
    assert "1 driver id," in capsys.readouterr().out


def test_evc_admin_says_why_it_cannot_write(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'central.db'}"
    assert admin.main(["--db", url, "driver", "add", "D-001"]) == 0
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    capsys.readouterr()
    assert admin.main(["--db", url, "ocpp", "local-list", "--file", str(blocker / "x.txt")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("evc-admin: error: Cannot write") and "Traceback" not in err
