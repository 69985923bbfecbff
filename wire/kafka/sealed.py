"""Sealed Kafka values: an event encrypted and authenticated with one CP's or driver's key.

Kafka's ACLs stop outsiders and separate roles, but they are per topic: every engine may read
``evc.cp.commands`` and every driver ``evc.driver.notices``. Within a topic, the key of the
one CP or driver at the other end separates them (docs/security.md). A sealed value is

    {"type": "sealed", "v": 1, "ts": "...", "kid": "cp:CP-01", "n": "<nonce>", "c": "<ct>"}

where ``c`` is AES-256-GCM (``cryptography``) of the original event's JSON with a random
96-bit nonce, and the associated data is ``<topic>|<kid>`` (the topic without its prefix):
a value cannot be moved to another topic, and the ``kid`` it names is the one whose key
opened it. The receiver then checks that the event speaks for that kid (a CP's events name
that CP, a driver's request names that driver): :func:`open_value` returns the kid with the
event for exactly that check.

Key ids: ``cp:<cp_id>`` and ``driver:<driver_id>``. Keys are 32 random bytes, carried as
URL-safe base64 without padding (safe as a ``#`` field).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wire.errors import InvalidEvent
from wire.kafka.messages import Event, EventCodec, load_value
from wire.timefmt import now_ts

SEALED = "sealed"
VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12

KeyLookup = Callable[[str], bytes | None]


class ForgedEvent(InvalidEvent):
    """A sealed value that does not open with the key of the id it names (or names none)."""


def new_key() -> str:
    """A fresh key, as text (what REGISTERED, key files and the database carry)."""
    return _b64(secrets.token_bytes(KEY_BYTES))


def key_bytes(text: str) -> bytes:
    """The raw key from its text form; ValueError if it is not a 256-bit key."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a key must be URL-safe base64") from exc
    if len(raw) != KEY_BYTES:
        raise ValueError(f"a key must be {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def cp_kid(cp_id: str) -> str:
    return f"cp:{cp_id}"


def driver_kid(driver_id: str) -> str:
    return f"driver:{driver_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _aad(topic: str, kid: str) -> bytes:
    return f"{topic}|{kid}".encode()


def seal(event: Event, *, key: bytes, kid: str, topic: str) -> bytes:
    """The sealed JSON value of ``event`` for ``topic`` (the topic name without prefix)."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, event.to_json(), _aad(topic, kid))
    envelope = {
        "type": SEALED,
        "v": VERSION,
        "ts": now_ts(),
        "kid": kid,
        "n": _b64(nonce),
        "c": _b64(ciphertext),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def is_sealed(value: bytes | str | None) -> bool:
    """Cheap test before parsing: sealed values start with the sealed type."""
    if value is None:
        return False
    head = value[:24] if isinstance(value, bytes) else value[:24].encode()
    return head.startswith(b'{"type":"sealed"')


def open_value(
    value: bytes | str | None, *, keys: KeyLookup, topic: str, codec: EventCodec
) -> tuple[str, Event]:
    """Open a sealed value: (kid, event). ``ForgedEvent`` when it does not open with the key
    of the id it names; ``InvalidEvent`` when it is not a sealed value or the event inside
    is not one ``codec`` knows."""
    envelope = load_value(value)
    if not isinstance(envelope, dict) or envelope.get("type") != SEALED:
        raise InvalidEvent("not a sealed value (this topic carries only sealed values)")
    if envelope.get("v") != VERSION:
        raise InvalidEvent(f"unsupported sealed version {envelope.get('v')!r}")
    kid, nonce, ciphertext = envelope.get("kid"), envelope.get("n"), envelope.get("c")
    if not all(isinstance(x, str) for x in (kid, nonce, ciphertext)):
        raise InvalidEvent("sealed value without kid, n or c")
    key = keys(kid)  # type: ignore[arg-type]
    if key is None:
        raise ForgedEvent(f"no key for {kid!r} (unknown, revoked or not issued)")
    try:
        plaintext = AESGCM(key).decrypt(_unb64(nonce), _unb64(ciphertext), _aad(topic, kid))  # type: ignore[arg-type]
    except (InvalidTag, ValueError, binascii.Error) as exc:
        raise ForgedEvent(f"does not open with the key of {kid!r}") from exc
    return kid, codec.parse(plaintext)  # type: ignore[return-value]
