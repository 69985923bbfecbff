"""The engine's journal: the running supply on disk, so a SIGKILL loses at most a second.

One JSON file per CP, ``<dir>/<cp_id>.json``, replaced atomically (write a temporary file in
the same folder, fsync it, ``os.replace`` it over the old one, fsync the folder). Two records:

- ``{"status": "running", ...}`` — the supply in progress (see ``EngineMachine.journal_record``);
- ``{"status": "ended", "event": {...}}`` — a ``supply_ended`` not yet confirmed delivered to
  Kafka; it is resent after a restart (Central tickets each session once, so resending is safe).

Beside it, ``<dir>/<cp_id>.replay.json`` keeps the replay window of Central's commands
(``cp_core.command_guard.ReplayWindow``: the last accepted ``seq`` and recent ``authorize``
session ids), written the same way before an accepted command is obeyed and never cleared,
so a restarted engine still refuses a command it obeyed before.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class Journal:
    def __init__(self, directory: str | os.PathLike[str], cp_id: str) -> None:
        self.directory = Path(directory)
        self.path = self.directory / f"{cp_id}.json"
        self.replay_path = self.directory / f"{cp_id}.replay.json"

    def write(self, record: dict[str, Any]) -> None:
        self._write(self.path, record)

    def write_replay(self, record: dict[str, Any]) -> None:
        """Store the replay window (OSError when it cannot be written)."""
        self._write(self.replay_path, record)

    def read_replay(self) -> dict[str, Any] | None:
        """The stored replay window, or None (none yet; unreadable is logged)."""
        try:
            record = json.loads(self.replay_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("cannot read the replay window %s: %s", self.replay_path, exc)
            return None
        return record if isinstance(record, dict) else None

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        data = json.dumps(record, separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        self._fsync_dir()

    def read(self) -> dict[str, Any] | None:
        """The stored record, or None when there is none or it is unreadable (logged)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cannot read journal %s: %s", self.path, exc)
            return None
        try:
            record = json.loads(text)
        except json.JSONDecodeError as exc:
            log.warning("journal %s is not valid JSON (%s); ignoring it", self.path, exc)
            return None
        if not isinstance(record, dict) or record.get("status") not in ("running", "ended"):
            log.warning("journal %s has an unknown shape; ignoring it", self.path)
            return None
        return record

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot clear journal %s: %s", self.path, exc)
            return
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        fsync_dir(self.directory)


def fsync_dir(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (best effort: not every file system
    can fsync a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
