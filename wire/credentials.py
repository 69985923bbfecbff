"""Secrets and their hashes: CP credentials and registration claims (Central keeps only their
hashes) and OCPP chargers' basic-auth passwords (``cp_core.passwords``), hashed the same way.

A credential is 256 bits from ``secrets``: nobody can guess it, so a slow key-derivation
function (made for low-entropy passwords) buys nothing here and cost ~10 ms of CPU per AUTH,
which made a restart storm of 10,000 CPs take minutes. A salted SHA-256 (``sha256$salt$hash``,
microseconds) keeps a leaked table useless, since inverting it means guessing 256 random bits.
Hashes in the older ``scrypt$n$r$p$salt$hash`` form still verify, and the core replaces them
with the new form at the CP's next successful AUTH (``needs_rehash``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "sha256"
LEGACY_SCHEME = "scrypt"
SALT_BYTES = 16
KEY_BYTES = 32


def new_credential() -> str:
    """A fresh secret, safe as a ``#`` field (URL-safe base64: no ``#``, no control bytes)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sha256(secret: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + secret.encode("utf-8")).digest()


def hash_credential(secret: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    return f"{SCHEME}${_b64(salt)}${_b64(_sha256(secret, salt))}"


def needs_rehash(stored: str | None) -> bool:
    """True for a hash in a form that is no longer issued (the slow scrypt one)."""
    return bool(stored) and not stored.startswith(SCHEME + "$")  # type: ignore[union-attr]


def verify_credential(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches ``stored``; False for anything malformed (never raises)."""
    if not stored or not secret:
        return False
    try:
        scheme, *params = stored.split("$")
        if scheme == SCHEME and len(params) == 2:
            salt, digest = params
            actual, expected = _sha256(secret, _unb64(salt)), _unb64(digest)
        elif scheme == LEGACY_SCHEME and len(params) == 5:
            n, r, p, salt, digest = params
            expected = _unb64(digest)
            actual = hashlib.scrypt(
                secret.encode("utf-8"),
                salt=_unb64(salt),
                n=int(n),
                r=int(r),
                p=int(p),
                dklen=len(expected),
                maxmem=64 * 1024 * 1024,
            )
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
