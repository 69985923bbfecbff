"""The monitor's secrets on disk, in one folder (mode 0700), each file readable by its owner only.

- ``<cp_id>.cred`` — the credential Central issued at REGISTER; presented with every AUTH.
- ``<cp_id>.claim`` — the registration claim (docs/cp.md, "Retry-safe registration"): a
  random secret created and saved *before* the first REGISTER is sent and sent again with
  every retry, so a REGISTER whose response was lost can be repeated and still gets a
  credential. It is deleted once AUTH with a credential succeeded.
- ``<cp_id>.key`` — the CP's Kafka key (docs/security.md) from REGISTERED or AUTHORIZED (the
  latter wins: Central may rotate it); the monitor hands it to its engine with ``KEY``.

Every write is atomic and durable (temporary file, fsync, ``os.replace``, fsync of the
folder): a monitor killed at any moment finds either the old file or the new one. Errors are
``OSError``; the monitor service reports them and tries again.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path

from cp_core.journal import fsync_dir

log = logging.getLogger(__name__)

CLAIM_BYTES = 32  # secrets.token_urlsafe(32): 43 characters of [A-Za-z0-9_-]
_CLAIM_FORM = re.compile(r"[A-Za-z0-9_-]{16,200}")
_KEY_FORM = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, URL-safe base64 without padding


class CredentialStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    # --- credential ---------------------------------------------------------------------------

    def path(self, cp_id: str) -> Path:
        return self.directory / f"{cp_id}.cred"

    def load(self, cp_id: str) -> str | None:
        return self._read(self.path(cp_id))

    def save(self, cp_id: str, credential: str) -> Path:
        """Write atomically with mode 0600 (the folder is created 0700)."""
        return self._write(self.path(cp_id), credential)

    # --- the CP's Kafka key --------------------------------------------------------------------

    def key_path(self, cp_id: str) -> Path:
        return self.directory / f"{cp_id}.key"

    def load_key(self, cp_id: str) -> str | None:
        """The stored key, or None (none stored, or a file that is not a key: logged)."""
        return self._read_form(self.key_path(cp_id), _KEY_FORM, "a key")

    def save_key(self, cp_id: str, key: str) -> Path:
        """Write atomically with mode 0600, like the credential."""
        return self._write(self.key_path(cp_id), key)

    # --- registration claim -------------------------------------------------------------------

    def claim_path(self, cp_id: str) -> Path:
        return self.directory / f"{cp_id}.claim"

    def load_claim(self, cp_id: str) -> str | None:
        """The saved claim, or None (none saved, or a file that is not a claim: logged)."""
        return self._read_form(self.claim_path(cp_id), _CLAIM_FORM, "a registration claim")

    def claim(self, cp_id: str) -> str:
        """The claim for the next REGISTER of ``cp_id``: the saved one, else a new one.

        A new claim is on disk (fsynced) when this returns, so it can be sent safely: however
        the REGISTER ends, the next attempt sends the same claim.
        """
        existing = self.load_claim(cp_id)
        if existing is not None:
            return existing
        fresh = secrets.token_urlsafe(CLAIM_BYTES)
        self._write(self.claim_path(cp_id), fresh)
        return fresh

    def forget_claim(self, cp_id: str) -> None:
        """Delete the claim (AUTH succeeded: the registration is complete). Never raises: a
        claim left behind is harmless (Central ignores it once the credential was used)."""
        path = self.claim_path(cp_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("cannot delete %s: %s", path, exc)
            return
        self._fsync_dir()

    # --- files --------------------------------------------------------------------------------

    @staticmethod
    def _read(path: Path) -> str | None:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return text or None

    @classmethod
    def _read_form(cls, path: Path, form: re.Pattern[str], what: str) -> str | None:
        """The stored text if it has the ``form`` of ``what`` it should be; a file that does
        not (damaged, or not ours) is logged and read as none stored."""
        text = cls._read(path)
        if text is not None and not form.fullmatch(text):
            log.warning("ignoring %s: not %s", path, what)
            return None
        return text

    def _write(self, final: Path, secret: str) -> Path:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (secret + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, final)
        self._fsync_dir()
        return final

    def _fsync_dir(self) -> None:
        fsync_dir(self.directory)
