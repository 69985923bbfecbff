"""The driver's own key (docs/security.md, layer 2): reading the key file, opening notices.

In secure mode (the default) a driver seals its ``charge_request`` values with its key (kid
``driver:<id>``) and reads only notices sealed with it. The notices partition is shared with
other drivers (their keys hash to it too), so a notice that does not open with this key, or
is not sealed at all, is simply not for this driver: ignored with a debug log. One that
opens but names another driver would mean Central mixed drivers up: ignored, with a warning.
"""

from __future__ import annotations

import logging
from pathlib import Path

from wire.errors import InvalidEvent
from wire.kafka.messages import DRIVER_NOTICES, Event
from wire.kafka.sealed import driver_kid, key_bytes, open_value
from wire.kafka.topics import Topics
from wire.pki import default_dir

log = logging.getLogger(__name__)

NOTICES_TOPIC = Topics().driver_notices  # the topic name sealed notices are bound to


class DriverKeyError(Exception):
    """No usable key for this driver; the message is the one line to show."""


def default_key_file(driver_id: str) -> Path:
    """``driver-<id>.key`` in the secrets directory (``$EVC_SECRETS`` or the user's)."""
    return default_dir() / f"driver-{driver_id}.key"


def load_driver_key(path: Path, driver_id: str) -> bytes:
    """The raw key from ``path`` (its first line that is not blank or a ``#`` comment)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        problem = "not found"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"unreadable: {getattr(exc, 'strerror', None) or exc}"
    else:
        text = next((ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")), "")
        try:
            return key_bytes(text)
        except ValueError as exc:
            problem = f"not a key: {exc}"
    raise DriverKeyError(
        f"no key for driver {driver_id} ({path}: {problem}): ask the operator for it "
        f"(evc-admin driver key {driver_id} --key-file {path})"
    )


def open_notice(value: bytes | None, *, driver_id: str, key: bytes) -> Event | None:
    """The notice sealed in ``value`` for this driver, or None when it is not for it."""
    own = driver_kid(driver_id)
    try:
        _, notice = open_value(
            value,
            keys=lambda kid: key if kid == own else None,
            topic=NOTICES_TOPIC,
            codec=DRIVER_NOTICES,
        )
    except InvalidEvent as exc:  # ForgedEvent included: sealed with another key, or plain
        log.debug("notice not for %s ignored: %s", driver_id, exc)
        return None
    named = getattr(notice, "driver_id", None)
    if named != driver_id:
        log.warning("a %s notice sealed for %s names driver %s: ignored", notice.TYPE, own, named)
        return None
    return notice
