"""Shared fixtures: a real Kafka broker for the session and a fresh topic prefix per test;
a real PostgreSQL server for the session and a fresh database per test (``tests.postgres``),
and the same with MariaDB (``tests.mariadb``).

``EVC_KAFKA=host:port`` reuses a running broker; otherwise ``scripts/kafka-local`` starts one
on a free port in a temporary run dir, and the session stops it at the end. Area-specific
fixtures belong in ``tests/<area>/conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.procs import free_port
from wire.kafka.admin import ensure_topics
from wire.kafka.topics import Topics
from wire.pki import Secrets

REPO = Path(__file__).resolve().parent.parent
KAFKA_LOCAL = REPO / "scripts" / "kafka-local"

# The brokers the suite starts (each worker's, the tests' own, the campaign's) live minutes and
# carry little: a JIT that stops at C1 and the serial collector take about 40 % less CPU to
# start them, create a test's topics and keep them idle, on two cores shared by everything.
# The benchmarks' brokers (evc-fleet, make bench) keep the JVM's defaults.
os.environ.setdefault("EVC_KAFKA_JVM_OPTS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

# The property tests check what the code does, not how fast one example runs: on the xdist
# workers that share two cores with brokers and programs, an example of 0.1 ms can wait
# 250 ms for a CPU, and hypothesis' 200 ms deadline then fails it as "unreliable timings".
settings.register_profile("evc", deadline=None)
settings.load_profile("evc")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``make test``'s workers: the heavy modules run on one worker in a row (tests.parallel)."""
    if config.getvalue("dist") not in ("load", "loadgroup"):  # -n N alone means "load"
        return None
    from tests.parallel import make_scheduler

    return make_scheduler(config, log)


# The tiers (``make check`` runs the unit tier: none of these marks). A test is marked
# ``kafka``/``postgres``/``mariadb`` here by the session fixtures it asks for, directly or
# through others, or by the server a ``db_url``/``server_url`` parameter names.
KAFKA_FIXTURES = frozenset({"kafka_bootstrap", "secure_kafka"})
POSTGRES_FIXTURES = frozenset({"pg_server"})
MARIADB_FIXTURES = frozenset({"maria_server"})
SERVER_PARAMS = ("db_url", "server_url")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if names & KAFKA_FIXTURES:
            item.add_marker(pytest.mark.kafka)
        servers = {callspec.params.get(p) for p in SERVER_PARAMS} if callspec else set()
        if names & POSTGRES_FIXTURES or "postgresql" in servers:
            item.add_marker(pytest.mark.postgres)
        if names & MARIADB_FIXTURES or "mariadb" in servers:
            item.add_marker(pytest.mark.mariadb)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a real broker: ``EVC_KAFKA`` or one started for this session."""
    given = os.environ.get("EVC_KAFKA")
    if given:
        yield given
        return
    port = free_port()
    run_dir = tmp_path_factory.mktemp("kafka-run")
    args = [sys.executable, str(KAFKA_LOCAL)]
    where = ["--port", str(port), "--run-dir", str(run_dir)]
    # PLAINTEXT: most tests; security has its own broker (``secure_kafka``)
    started = subprocess.run([*args, "start", *where, "--insecure"], capture_output=True, text=True)
    try:
        if started.returncode != 0:
            pytest.fail(f"scripts/kafka-local start failed:\n{started.stdout}{started.stderr}")
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*args, "stop", "--now", "--run-dir", str(run_dir)], capture_output=True)


@pytest.fixture(scope="session")
def tls_secrets(tmp_path_factory: pytest.TempPathFactory) -> Secrets:
    """A secrets directory for the session (``wire.pki``): private CA, Central's certificate
    for localhost/127.0.0.1, Kafka role files. Never the user's own directory."""
    secrets = Secrets(tmp_path_factory.mktemp("secrets"))
    secrets.init()
    return secrets


@pytest.fixture(scope="session", autouse=True)
def plaintext_kafka_credentials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Programs that tests start without ``--insecure`` (to test TLS or sealing) still reach
    the session's PLAINTEXT broker: ``EVC_KAFKA_CREDENTIALS`` names a role file saying
    ``security.protocol=PLAINTEXT``. An explicit ``--kafka-credentials`` wins over it."""
    path = tmp_path_factory.mktemp("kafka-plaintext") / "kafka-plaintext.properties"
    path.write_text("# the session broker of the tests\nsecurity.protocol=PLAINTEXT\n")
    before = os.environ.get("EVC_KAFKA_CREDENTIALS")
    os.environ["EVC_KAFKA_CREDENTIALS"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("EVC_KAFKA_CREDENTIALS", None)
        else:
            os.environ["EVC_KAFKA_CREDENTIALS"] = before


@pytest.fixture(scope="session")
def secure_kafka(tls_secrets: Secrets, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """A second broker, secured as ``make run``'s (SASL_SSL, SCRAM users, ACLs), with the
    session's secrets directory (``tls_secrets``); see ``tests/kafka_secure.py``."""
    from tests.kafka_secure import SecureKafka

    port = free_port()
    run_dir = tmp_path_factory.mktemp("kafka-secure-run")
    args = [sys.executable, str(KAFKA_LOCAL)]
    where = ["--port", str(port), "--run-dir", str(run_dir)]
    started = subprocess.run(
        [*args, "start", *where, "--secrets", str(tls_secrets.root)], capture_output=True, text=True
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"kafka-local start (secure) failed:\n{started.stdout}{started.stderr}")
        yield SecureKafka(f"127.0.0.1:{port}", tls_secrets, run_dir, port)
    finally:
        subprocess.run([*args, "stop", "--now", "--run-dir", str(run_dir)], capture_output=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator:
    """A real PostgreSQL server for the session (``scripts/pg-local``; ``EVC_PG_URL`` reuses
    one): ``pg_server.database()`` gives a fresh database, dropped afterwards."""
    from tests.postgres import session_server

    try:
        with session_server() as server:
            yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def pg_url(pg_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a fresh, empty PostgreSQL database for this test."""
    with pg_server.database() as url:
        yield url


@pytest.fixture(scope="session")
def maria_server() -> Iterator:
    """A real MariaDB server for the session (``scripts/maria-local``; ``EVC_MARIADB_URL``
    reuses one): ``maria_server.database()`` gives a fresh database, dropped afterwards.
    Skipped, saying why, only where Debian's mariadb-server is not installed."""
    from tests.mariadb import NotInstalled, session_server

    try:
        with session_server() as server:
            yield server
    except NotInstalled as exc:
        pytest.skip(str(exc))
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def maria_url(maria_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The URL of a fresh, empty MariaDB database for this test, in the brief's form
    ``mysql://user:pass@host:port/db``."""
    with maria_server.database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Central's database, as the embedded SQLite file, on PostgreSQL and on MariaDB: the
    store's tests run against each (Central issues no dialect-specific SQL)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'c.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "maria_url")


@pytest.fixture(params=["postgresql", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh database on each server that can decide a pair's leadership
    (``central_app.leadership``): PostgreSQL, then MariaDB."""
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "maria_url")


@pytest.fixture
def topics(kafka_bootstrap: str) -> Topics:
    """A ``Topics`` with a prefix unique to this test, its topics already created."""
    created = Topics(prefix=f"t{uuid.uuid4().hex[:8]}.")
    ensure_topics(kafka_bootstrap, created)
    return created
