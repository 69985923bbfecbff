"""The drivers' ids an OCPP charger may authorize by itself: its local authorization list.

A charger that cannot reach the gateway (or whose gateway cannot reach Central) still lets
a driver charge when the card's id is in its local authorization list (OCPP 1.6 §3.5,
2.0.1 C13); the transaction is billed when the charger comes back (docs/ocpp.md,
"Transactions the charger started alone"). ``evc-admin ocpp local-list`` writes the ids of
Central's registered drivers into this file; EV_OCPP reads it after each accepted
BootNotification and sends it to a charger whose list has another version (``SendLocalList``).

The file lives where the gateway runs, like the chargers' passwords (``cp_core.passwords``):
by default ``ocpp-local-list.txt`` in the secrets directory ($EVC_SECRETS or
~/.config/evcharging/secrets). It is text, one driver id a line, ``#`` starting a comment::

    # EVCharging local authorization list, version 7
    D-001
    D-002   # the fleet's spare card

The header's version is what the chargers compare (``GetLocalListVersion``): ``write``
raises it by one each time, so every charger takes the new list at its next boot. A file
written by hand without the header is versioned by its modification time (seconds), which
also changes whenever it is edited.

Reading and writing only: no I/O beyond this one file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from wire.pki import default_dir, write_private

FILE_NAME = "ocpp-local-list.txt"
HEADER = "# EVCharging local authorization list, version "
_HEADER = re.compile(r"#\s*EVCharging local authorization list, version\s+(\S*)\s*")
# a driver id as Central stores it (at most 64 characters); whitespace and "#" cannot be
# written in the file's lines
ID = re.compile(r"[^\s#]{1,64}")


class LocalListError(Exception):
    """The local list file cannot be used (unreadable, malformed); the message says why."""


@dataclass(frozen=True)
class LocalList:
    """One version of the list: the version the chargers compare, and the ids in file order."""

    version: int
    ids: tuple[str, ...]


def default_path() -> Path:
    return Path(default_dir()) / FILE_NAME


def read(path: str | os.PathLike[str] | None = None) -> LocalList | None:
    """The list in ``path`` (default ``default_path()``); None when there is no such file.
    LocalListError for a file that cannot be read or is not such a list."""
    path = Path(path) if path is not None else default_path()
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise LocalListError(f"Cannot read the local authorization list {path}: {why}") from None
    return parse(text, mtime, str(path))


def parse(text: str, mtime: float, where: str = "the local authorization list") -> LocalList:
    """The list in ``text`` (a file modified at ``mtime``, its version when it has no header)."""
    lines = text.splitlines()
    version = _header_version(lines[0] if lines else "", where)
    ids: list[str] = []
    for number, line in enumerate(lines, start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if not ID.fullmatch(entry):
            raise LocalListError(
                f"{where}, line {number}: {entry!r} is not a driver id (one id a line, at "
                "most 64 characters without spaces; # starts a comment). Fix the line, or "
                "write the list again with `evc-admin ocpp local-list`"
            )
        if entry not in ids:
            ids.append(entry)
    return LocalList(int(mtime) if version is None else version, tuple(ids))


def _header_version(first: str, where: str) -> int | None:
    """The version the header on the first line states; None for a file without it."""
    match = _HEADER.fullmatch(first.strip())
    if match is None:
        return None
    try:
        version = int(match.group(1))
    except ValueError:
        version = -1
    if not 0 < version < 2**31:  # OCPP's version is an integer; 0 means "no list"
        raise LocalListError(
            f"{where}: the header's version {match.group(1)!r} is not a positive whole number "
            f"(expected '{HEADER}N')"
        )
    return version


def write(ids: Iterable[str], path: str | os.PathLike[str] | None = None) -> LocalList:
    """Replace the list in ``path`` (default ``default_path()``) atomically, mode 0600, with
    ``ids`` under the previous version + 1 (1 for a new file); the list written."""
    path = Path(path) if path is not None else default_path()
    ids = tuple(dict.fromkeys(ids))
    bad = next((i for i in ids if not ID.fullmatch(i)), None)
    if bad is not None:
        raise LocalListError(f"{bad!r} cannot go into a local authorization list (not an id)")
    try:
        previous = read(path)
    except LocalListError:
        # a broken file is what this call replaces: any version unlike its own will do, as
        # the chargers only compare versions for equality
        previous = LocalList(_modified(path), ())
    written = LocalList(1 if previous is None else previous.version + 1, ids)
    body = "".join(f"{i}\n" for i in written.ids)
    try:
        write_private(path, f"{HEADER}{written.version}\n{body}".encode())
    except OSError as exc:
        raise LocalListError(f"Cannot write {path}: {exc.strerror or exc}") from None
    return written


def _modified(path: Path) -> int:
    try:
        return int(path.stat().st_mtime)
    except OSError as exc:
        raise LocalListError(f"Cannot write {path}: {exc.strerror or exc}") from None
