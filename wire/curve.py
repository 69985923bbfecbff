"""CURVE keys of the monitor ⇄ engine ZeroMQ link (docs/security.md, layer 7).

Anyone who reaches an engine's HEALTH port could otherwise send ``KEY#cp#…`` and replace the
CP's key. With CURVE (ZeroMQ's own security: Curve25519 key exchange, every message
encrypted and authenticated) the engine is the server and lets in only monitors whose public
key it holds, so a peer without one never gets a HEALTH or a KEY through: ZeroMQ drops it at
the handshake. The monitor also holds the engine's public key, so it hands the CP's key only
to the genuine engine.

One folder, by default ``curve/`` in the secrets directory (``wire.pki``)::

    engine.key                  the engines' public key: monitors need it (copy it to theirs)
    engine.key_secret           the engines' secret key: stays on the engines' host
    <cp_id>/monitor.key         the monitor of <cp_id>: its public key; an engine lets a peer
                                in, as <cp_id>, when its key is one of the ``*.key`` here
    <cp_id>/monitor.key_secret  its secret key: stays on the monitor's host

An engine learns its CP id from its monitor's first HEALTH (PROTOCOL.md §2), after its socket
is bound, so its keypair cannot be chosen per CP: it is one per folder (per host, normally).
The monitors' keys are per CP: the engine knows which CP a peer speaks for from the key it
authenticated with, answers a HEALTH or KEY naming another CP with KO, and, once it adopted its
CP, lets in only that CP's monitor keys.

The files are in ``zmq.auth``'s certificate format (``zmq.auth.load_certificate`` reads them),
mode 0600. A program creates its *own* missing keypair at start (the engine ``engine.*``, a
monitor its CP's ``monitor.*``), atomically: the secret file is written complete under a
temporary name and linked into place only if none is there, so two programs starting at once
end up with the same key. ``evc-secrets curve`` creates and rotates them by hand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.auth import load_certificate

from wire.errors import CurveKeyError
from wire.pki import default_dir, private_draft, write_private

CURVE_DIR = "curve"
ENGINE = "engine"
MONITOR = "monitor"
_Z85_KEY = re.compile(rb"[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}")
# cp ids are free text on the wire (no '#', no spaces); as a folder name they must not climb
_UNSAFE_NAME = re.compile(r"[/\\\x00]")


def default_curve_dir() -> Path:
    """``curve/`` in the secrets directory (``$EVC_SECRETS`` or ``~/.config/…``)."""
    return default_dir() / CURVE_DIR


@dataclass(frozen=True)
class Keypair:
    """A CURVE keypair, both halves Z85-encoded (40 bytes each), as libzmq's options take them."""

    public: bytes
    secret: bytes


def _certificate(keypair: Keypair, *, secret: bool, what: str) -> bytes:
    """One key file in ``zmq.auth.create_certificates``' format."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    kind = "**Secret** Certificate" if secret else "Public Certificate"
    lines = [
        f"#   ****  Generated on {stamp} by evc-secrets  ****",
        f"#   ZeroMQ CURVE {kind}: {what}",
        "#   Keep it private; never copy it to another host."
        if secret
        else "#   Public: copy it to the hosts that must recognise this key.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{keypair.public.decode("ascii")}"',
    ]
    if secret:
        lines.append(f'    secret-key = "{keypair.secret.decode("ascii")}"')
    return ("\n".join(lines) + "\n").encode("ascii")


def _create_once(path: Path, data: bytes) -> bool:
    """Write ``path`` (0600) only if it does not exist; True when this call created it.

    The file is complete before it appears: written under a temporary name, then hard-linked
    to ``path`` (which fails if another process got there first)."""
    with private_draft(path, data) as draft:
        try:
            os.link(draft, path)
        except FileExistsError:
            return False
        return True


def _read(path: Path, *, secret: bool) -> Keypair:
    """A key file (``zmq.auth`` format); ``CurveKeyError`` naming the file when unusable."""
    if not path.exists():
        raise CurveKeyError(f"{path} does not exist")
    try:
        public, secret_key = load_certificate(path)
    except ValueError as exc:
        raise CurveKeyError(f"{path} is not a CURVE key file (no public-key)") from exc
    except OSError as exc:
        raise CurveKeyError(f"cannot read the CURVE key {path}: {exc}") from exc
    if not _Z85_KEY.fullmatch(public or b""):
        raise CurveKeyError(f"{path} is not a CURVE key file (no valid public-key)")
    if secret:
        if secret_key is None or not _Z85_KEY.fullmatch(secret_key):
            raise CurveKeyError(f"{path} is not a CURVE secret key file (no valid secret-key)")
        if zmq.curve_public(secret_key) != public:
            raise CurveKeyError(f"{path}: its public-key does not belong to its secret-key")
        return Keypair(public, secret_key)
    return Keypair(public, b"")


class CurveKeys:
    """One CURVE folder (see the module docstring). Every error is a ``CurveKeyError``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()

    def __repr__(self) -> str:
        return f"CurveKeys({str(self.root)!r})"

    # --- paths --------------------------------------------------------------------------------

    @property
    def engine_public(self) -> Path:
        return self.root / f"{ENGINE}.key"

    @property
    def engine_secret(self) -> Path:
        return self.root / f"{ENGINE}.key_secret"

    def cp_dir(self, cp_id: str) -> Path:
        if not cp_id or cp_id in (".", "..") or cp_id.startswith(".") or _UNSAFE_NAME.search(cp_id):
            raise CurveKeyError(f"cp id {cp_id!r} cannot name a folder of CURVE keys")
        return self.root / cp_id

    def monitor_public(self, cp_id: str) -> Path:
        return self.cp_dir(cp_id) / f"{MONITOR}.key"

    def monitor_secret(self, cp_id: str) -> Path:
        return self.cp_dir(cp_id) / f"{MONITOR}.key_secret"

    # --- creating and rotating ----------------------------------------------------------------

    def ensure_engine(self) -> bool:
        """Create the engines' keypair when it is missing; True if this call created it."""
        return self._ensure(self.engine_secret, self.engine_public, "the engines' keypair")

    def ensure_monitor(self, cp_id: str) -> bool:
        """Create ``cp_id``'s monitor keypair when it is missing; True if created now."""
        return self._ensure(
            self.monitor_secret(cp_id), self.monitor_public(cp_id), f"the monitor of {cp_id}"
        )

    def rotate_engine(self) -> Keypair:
        """A new keypair for the engines (replaces the old one; engines need a restart)."""
        return self._rotate(self.engine_secret, self.engine_public, "the engines' keypair")

    def rotate_monitor(self, cp_id: str) -> Keypair:
        """A new keypair for ``cp_id``'s monitor; the old public key is no longer let in."""
        return self._rotate(
            self.monitor_secret(cp_id), self.monitor_public(cp_id), f"the monitor of {cp_id}"
        )

    def _ensure(self, secret: Path, public: Path, what: str) -> bool:
        keypair = Keypair(*zmq.curve_keypair())
        try:
            created = _create_once(secret, _certificate(keypair, secret=True, what=what))
            if created or not public.exists():
                # whoever created the secret file, the public one is derived from it
                mine = _read(secret, secret=True)
                write_private(public, _certificate(mine, secret=False, what=what))
        except OSError as exc:
            raise CurveKeyError(f"cannot create the CURVE keys in {secret.parent}: {exc}") from exc
        return created

    def _rotate(self, secret: Path, public: Path, what: str) -> Keypair:
        keypair = Keypair(*zmq.curve_keypair())
        try:
            write_private(secret, _certificate(keypair, secret=True, what=what))
            write_private(public, _certificate(keypair, secret=False, what=what))
        except OSError as exc:
            raise CurveKeyError(f"cannot write the CURVE keys in {secret.parent}: {exc}") from exc
        return keypair

    # --- reading ------------------------------------------------------------------------------

    def engine_keypair(self) -> Keypair:
        """The engines' own keypair (an engine's CURVE server keys)."""
        return _read(self.engine_secret, secret=True)

    def engine_public_key(self) -> bytes:
        """The engines' public key, which a monitor pins."""
        try:
            return _read(self.engine_public, secret=False).public
        except CurveKeyError as exc:
            if self.engine_public.exists():
                raise
            raise CurveKeyError(
                f"no CURVE key for the engine: {self.engine_public} does not exist. EV_CP_E "
                "creates it at its first start with this secrets directory; for an engine on "
                "another host copy its curve/engine.key here (docs/security.md)"
            ) from exc

    def monitor_keypair(self, cp_id: str) -> Keypair:
        """``cp_id``'s monitor keypair (its CURVE client keys)."""
        return _read(self.monitor_secret(cp_id), secret=True)

    def monitor_keys(self, cp_id: str) -> set[bytes]:
        """The public keys let in as ``cp_id``: every ``*.key`` in its folder (none: empty)."""
        try:
            folder = self.cp_dir(cp_id)
            files = sorted(folder.glob("*.key")) if folder.is_dir() else []
        except (CurveKeyError, OSError):
            return set()
        keys = set()
        for path in files:
            try:
                keys.add(_read(path, secret=False).public)
            except CurveKeyError:
                continue  # an unreadable file lets nobody in
        return keys

    def cp_of(self, public: bytes, only: str | None = None) -> str | None:
        """The CP whose monitor holds ``public`` (Z85); with ``only``, that CP or None."""
        if only is not None:
            return only if public in self.monitor_keys(only) else None
        try:
            folders = sorted(p for p in self.root.iterdir() if p.is_dir())
        except OSError:
            return None
        for folder in folders:
            if folder.name.startswith("."):
                continue
            if public in self.monitor_keys(folder.name):
                return folder.name
        return None

    def listing(self) -> list[tuple[str, bytes]]:
        """(file relative to the folder, public key) of every public key file, for ``show``."""
        found = []
        paths = [self.engine_public]
        with contextlib.suppress(OSError):
            paths += sorted(self.root.glob("*/*.key"))
        for path in paths:
            try:
                found.append((str(path.relative_to(self.root)), _read(path, secret=False).public))
            except CurveKeyError:
                continue
        return found


class CurveServer:
    """An engine's side: its keypair and who may connect (``wire.health.HealthResponder``).

    ``peer_of(public)`` is asked by the ZAP handler at each handshake (so keys added, rotated
    or removed in the folder count at the next connection, with no restart); it names the CP
    a peer speaks for, or None to refuse it. ``pin(cp_id)``: from now on only that CP."""

    def __init__(self, keys: CurveKeys) -> None:
        self.keys = keys
        self.keypair = keys.engine_keypair()
        self._pinned: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, keys: CurveKeys) -> tuple[CurveServer, bool]:
        """The engines' keypair of ``keys``, created when missing; (server, created now)."""
        created = keys.ensure_engine()
        return cls(keys), created

    @property
    def pinned(self) -> str | None:
        return self._pinned

    def pin(self, cp_id: str) -> None:
        with self._lock:
            self._pinned = cp_id

    def peer_of(self, public: bytes) -> str | None:
        with self._lock:
            only = self._pinned
        return self.keys.cp_of(public, only=only)


class CurveClient:
    """A monitor's side: its CP's keypair and the engine's public key, read again for every new
    socket (``wire.health.LazyPirateClient``), so a rotated key is used at the next one."""

    def __init__(self, keys: CurveKeys, cp_id: str) -> None:
        self.keys = keys
        self.cp_id = cp_id

    @classmethod
    def open(cls, keys: CurveKeys, cp_id: str) -> tuple[CurveClient, bool]:
        """``cp_id``'s monitor keypair of ``keys``, created when missing; (client, created)."""
        created = keys.ensure_monitor(cp_id)
        client = cls(keys, cp_id)
        client.keys.monitor_keypair(cp_id)  # readable now, or a CurveKeyError at start
        return client, created

    def load(self) -> tuple[Keypair, bytes]:
        """(our keypair, the engine's public key); ``CurveKeyError`` saying what is missing."""
        return self.keys.monitor_keypair(self.cp_id), self.keys.engine_public_key()
