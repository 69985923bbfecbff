"""The monitor's credential file: ``<dir>/<cp_id>.cred``, readable by its owner only (0600)."""

from __future__ import annotations

import os
from pathlib import Path


class CredentialStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, cp_id: str) -> Path:
        return self.directory / f"{cp_id}.cred"

    def load(self, cp_id: str) -> str | None:
        try:
            text = self.path(cp_id).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    def save(self, cp_id: str, credential: str) -> Path:
        """Write atomically with mode 0600 (the folder is created 0700)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        final = self.path(cp_id)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (credential + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        return final
