"""The charge points' basic-auth passwords (OCPP 1.6 security profile 1), stored hashed.

``evc-admin ocpp password CP-ID`` sets one; the gateway checks the ``Authorization`` header
of every WebSocket upgrade against it. The file is JSON ``{"cp_id": "sha256$salt$hash"}``,
mode 0600, replaced atomically, by default ``ocpp-passwords.json`` in the secrets directory
($EVC_SECRETS or ~/.config/evcharging/secrets) — the gateway's host, not Central's database:
Central knows nothing of OCPP, and the gateway may run on the CPs' side of the network.

What the charger sends (security profile 1, OCPP 1.6 security whitepaper): the configuration
key ``AuthorizationKey`` holds the password as the *hex* form of its bytes, and a compliant
charger hex-decodes it and sends those raw bytes as the basic-auth password. ``evc-admin``'s
password is 40 hex digits, i.e. exactly such an AuthorizationKey: a compliant charger sends
the 20 bytes it encodes; many vendors send the 40 hex digits as text instead. Both are
accepted (:meth:`PasswordFile.verify` takes the raw bytes of the header). An operator's own
password P is configured as ``AuthorizationKey = hex(P)`` (:func:`authorization_key`), and a
compliant charger then sends P itself.

The hash is the salted SHA-256 of ``wire.credentials``. That is right for what
``evc-admin`` generates (20 random bytes, hex: the OCPP AuthorizationKey form); a password
the operator types instead must be at least 16 characters (the security whitepaper's
minimum) so it is not guessable from a leaked file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path

from wire.credentials import hash_credential, verify_credential
from wire.pki import default_dir, write_private

log = logging.getLogger(__name__)

# what the gateway takes as a charge point id in /ocpp/<id> (and as a certificate's CN): also
# what `evc-admin ocpp password|cert` accept
CHARGE_POINT_ID = re.compile(r"[A-Za-z0-9._:@+-]{1,64}")
FILE_NAME = "ocpp-passwords.json"
MIN_LENGTH = 16
MAX_LENGTH = 40  # OCPP 1.6 security whitepaper: basic-auth password of 16..40 characters


def default_path() -> Path:
    return Path(default_dir()) / FILE_NAME


def new_password() -> str:
    """20 random bytes as 40 hex digits (what a charger's AuthorizationKey holds)."""
    return secrets.token_hex(20)


def _is_hex_key(password: str) -> bool:
    try:
        bytes.fromhex(password)
    except ValueError:
        return False
    return len(password) % 2 == 0


def authorization_key(password: str) -> str:
    """What to set as the charger's ``AuthorizationKey`` for ``password``: the hex form of
    the bytes a compliant charger must send. A password that is hex already (``evc-admin``'s)
    is its own AuthorizationKey; any other text is hex-encoded."""
    return password.lower() if _is_hex_key(password) else password.encode().hex()


def sent_candidates(raw: bytes) -> list[str]:
    """The stored password that the raw basic-auth password ``raw`` may stand for: its hex
    form (a compliant charger sent the bytes its AuthorizationKey encodes) and its text (a
    charger that sends the key's text, or an operator's own password)."""
    out = [raw.hex()]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return out
    if text and text not in out:
        out.append(text)
    return out


class PasswordFile:
    """Read on every check (cheap, a few hundred bytes), so a password set while the
    gateway runs takes effect at the charger's next connection without a restart."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("cannot read the OCPP password file %s: %s", self.path, exc)
            return {}
        return (
            {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}
        )

    def has(self, cp_id: str) -> bool:
        return cp_id in self._load()

    def verify(self, cp_id: str, password: bytes | str) -> bool:
        """``password`` as the charger sent it (raw bytes of the basic-auth header; a str is
        taken as its UTF-8): the spec's hex-decoded AuthorizationKey or the key's text."""
        stored = self._load().get(cp_id)
        raw = password.encode() if isinstance(password, str) else password
        return any(verify_credential(candidate, stored) for candidate in sent_candidates(raw))

    def set(self, cp_id: str, password: str) -> None:
        if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
            raise ValueError(
                f"an OCPP password must be {MIN_LENGTH} to {MAX_LENGTH} characters long"
            )
        data = self._load()
        # a hex password is an AuthorizationKey: one spelling (a compliant charger's bytes
        # come back as lowercase hex)
        data[cp_id] = hash_credential(password.lower() if _is_hex_key(password) else password)
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True).encode())

    def remove(self, cp_id: str) -> bool:
        data = self._load()
        if data.pop(cp_id, None) is None:
            return False
        write_private(self.path, json.dumps(data, indent=1, sort_keys=True).encode())
        return True
