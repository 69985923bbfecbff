"""The engine link's CURVE keys on disk (``wire.curve``) and ``evc-secrets curve``.

Creation is idempotent and atomic: programs starting at the same moment on one secrets
directory end up with one key, never a half-written file or two different keys.
"""

from __future__ import annotations

import multiprocessing
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest
import zmq.auth

from tests.procs import run_module
from wire.curve import CurveClient, CurveKeys, CurveServer, default_curve_dir
from wire.errors import CurveKeyError

REPO = Path(__file__).resolve().parents[1]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_are_created_once_in_zmq_auth_format(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path / "curve")
    assert keys.ensure_engine() is True
    assert keys.ensure_monitor("CP-01") is True
    engine, monitor = keys.engine_keypair(), keys.monitor_keypair("CP-01")
    # again: nothing changes
    assert keys.ensure_engine() is False
    assert keys.ensure_monitor("CP-01") is False
    assert keys.engine_keypair() == engine
    assert keys.monitor_keypair("CP-01") == monitor
    # zmq.auth reads them; the public file has no secret; the secret matches its public half
    assert zmq.auth.load_certificate(keys.engine_public) == (engine.public, None)
    assert zmq.auth.load_certificate(keys.monitor_secret("CP-01")) == (
        monitor.public,
        monitor.secret,
    )
    assert zmq.curve_public(monitor.secret) == monitor.public
    assert keys.engine_public_key() == engine.public
    assert keys.monitor_keys("CP-01") == {monitor.public}
    assert keys.cp_of(monitor.public) == "CP-01"
    assert keys.cp_of(engine.public) is None
    for path in (keys.engine_secret, keys.engine_public, keys.monitor_secret("CP-01")):
        assert _mode(path) == 0o600, path
    assert _mode(keys.root) == 0o700
    # nothing left behind by the atomic writes
    assert sorted(p.name for p in keys.root.rglob(".*")) == []


def test_a_lost_public_file_is_derived_again_from_the_secret(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path)
    keys.ensure_monitor("CP-01")
    before = keys.monitor_keypair("CP-01")
    keys.monitor_public("CP-01").unlink()
    assert keys.ensure_monitor("CP-01") is False
    assert keys.monitor_keys("CP-01") == {before.public}


def _race(root: str, start_at: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    keys = CurveKeys(root)
    while time.time() < start_at:
        pass  # spin: every process calls ensure at the same instant
    created = (keys.ensure_engine(), keys.ensure_monitor("CP-01"))
    queue.put((created, keys.engine_keypair().public, keys.monitor_keypair("CP-01").public))


@pytest.mark.process
def test_programs_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 3.0  # after every process started (spawn costs ~0.5 s each)
    procs = [
        ctx.Process(target=_race, args=(str(tmp_path / "curve"), start_at, queue)) for _ in range(6)
    ]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(10)
        assert proc.exitcode == 0
    assert len({engine for _, engine, _ in results}) == 1
    assert len({monitor for _, _, monitor in results}) == 1
    assert sum(created[0] for created, _, _ in results) == 1  # exactly one made each key
    assert sum(created[1] for created, _, _ in results) == 1
    keys = CurveKeys(tmp_path / "curve")
    assert keys.engine_keypair().public == results[0][1]


def test_threads_starting_at_once_agree_too(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path)
    barrier = threading.Barrier(8)
    created: list[bool] = []

    def make() -> None:
        barrier.wait()
        created.append(keys.ensure_monitor("CP-02"))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert created.count(True) == 1
    assert len(keys.monitor_keys("CP-02")) == 1


def test_rotation_replaces_the_key(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path)
    keys.ensure_engine()
    keys.ensure_monitor("CP-01")
    old_engine, old_monitor = keys.engine_keypair(), keys.monitor_keypair("CP-01")
    new_monitor = keys.rotate_monitor("CP-01")
    assert new_monitor != old_monitor
    assert keys.monitor_keypair("CP-01") == new_monitor
    assert keys.cp_of(old_monitor.public) is None  # the old key no longer gets in
    assert keys.cp_of(new_monitor.public) == "CP-01"
    assert keys.rotate_engine() != old_engine
    assert keys.engine_public_key() != old_engine.public


def test_missing_and_unusable_keys_say_which_file(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path / "curve")
    with pytest.raises(CurveKeyError, match=r"engine\.key does not exist.*copy"):
        keys.engine_public_key()
    with pytest.raises(CurveKeyError, match=r"CP-01/monitor\.key_secret does not exist"):
        keys.monitor_keypair("CP-01")
    keys.ensure_engine()
    keys.engine_secret.write_text("not a key\n")
    with pytest.raises(CurveKeyError, match="not a CURVE key file"):
        keys.engine_keypair()
    with pytest.raises(CurveKeyError, match="not a CURVE key file"):
        CurveServer(keys)
    # a monitor key pasted over by another one's public half: caught, not used
    keys.ensure_monitor("CP-01")
    other = CurveKeys(tmp_path / "other")
    other.ensure_monitor("CP-01")
    keys.monitor_secret("CP-01").write_text(
        keys.monitor_secret("CP-01")
        .read_text()
        .replace(
            keys.monitor_keypair("CP-01").public.decode(),
            other.monitor_keypair("CP-01").public.decode(),
        )
    )
    with pytest.raises(CurveKeyError, match="does not belong to its secret-key"):
        keys.monitor_keypair("CP-01")


@pytest.mark.parametrize("cp_id", ["../CP-01", "a/b", ".hidden", "..", ""])
def test_a_cp_id_cannot_climb_out_of_the_folder(tmp_path: Path, cp_id: str) -> None:
    keys = CurveKeys(tmp_path / "curve")
    with pytest.raises(CurveKeyError, match="cannot name a folder"):
        keys.ensure_monitor(cp_id)
    assert keys.cp_of(b"x" * 40, only=cp_id) is None
    assert not (tmp_path / "CP-01").exists()


def test_the_default_folder_is_in_the_secrets_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("EVC_SECRETS", str(tmp_path / "s"))
    assert default_curve_dir() == tmp_path / "s" / "curve"


def test_the_client_and_server_open_their_own_keys(tmp_path: Path) -> None:
    keys = CurveKeys(tmp_path)
    client, created = CurveClient.open(keys, "CP-01")
    assert created
    with pytest.raises(CurveKeyError, match="EV_CP_E creates it"):
        client.load()  # no engine key yet: said, with what to do
    server, created = CurveServer.open(keys)
    assert created
    own, engine = client.load()
    assert engine == server.keypair.public
    assert server.peer_of(own.public) == "CP-01"
    server.pin("CP-02")
    assert server.peer_of(own.public) is None


def _secrets_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return run_module("wire.secrets_cli", *args)


@pytest.mark.process
def test_evc_secrets_curve_creates_and_rotates(tmp_path: Path) -> None:
    made = _secrets_cli("curve", "CP-01", "CP-02", "--dir", str(tmp_path))
    assert made.returncode == 0, made.stderr
    keys = CurveKeys(tmp_path / "curve")
    engine, monitor = keys.engine_keypair(), keys.monitor_keypair("CP-01")
    assert "created the engines' keypair" in made.stdout
    assert "created CP-01's monitor keypair" in made.stdout
    assert monitor.public.decode() in made.stdout  # the public keys, to compare copies

    again = _secrets_cli("curve", "CP-01", "--dir", str(tmp_path))
    assert again.returncode == 0 and "already there" in again.stdout
    assert keys.monitor_keypair("CP-01") == monitor

    rotated = _secrets_cli("curve", "CP-01", "--rotate", "--dir", str(tmp_path))
    assert rotated.returncode == 0, rotated.stderr
    assert keys.monitor_keypair("CP-01") != monitor
    assert keys.engine_keypair() == engine  # only what was named
    engine_rotated = _secrets_cli("curve", "--engine", "--rotate", "--curve-dir", str(keys.root))
    assert engine_rotated.returncode == 0 and "Restart the engines" in engine_rotated.stdout
    assert keys.engine_keypair() != engine

    nothing = _secrets_cli("curve", "--rotate", "--dir", str(tmp_path))
    assert nothing.returncode == 2 and "needs CP ids" in nothing.stderr
    bad = _secrets_cli("curve", "../x", "--dir", str(tmp_path))
    assert bad.returncode == 2 and "cannot name a folder" in bad.stderr
    assert "Traceback" not in bad.stderr

    shown = _secrets_cli("show", "--dir", str(tmp_path))
    assert "curve/CP-02/monitor.key" in shown.stdout
