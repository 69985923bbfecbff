"""CP credentials: a random secret handed to the monitor once; Central keeps only a hash.

The secret is 256 bits from ``secrets``, so the key-derivation function is not what protects
it against guessing; scrypt with a per-credential salt still makes a leaked table useless and
costs ~10 ms, cheap enough for thousands of monitors authenticating after a restart. The
stored form carries its parameters (``scrypt$n$r$p$salt$hash``) so they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
N, R, P = 2**12, 8, 1
SALT_BYTES = 16
KEY_BYTES = 32


def new_credential() -> str:
    """A fresh secret, safe as a ``#`` field (URL-safe base64: no ``#``, no control bytes)."""
    return secrets.token_urlsafe(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=64 * 1024 * 1024
    )


def hash_credential(secret: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _derive(secret, salt, N, R, P)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_credential(secret: str, stored: str | None) -> bool:
    """True when ``secret`` matches ``stored``; False for anything malformed (never raises)."""
    if not stored or not secret:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(digest)
        actual = _derive(secret, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)
