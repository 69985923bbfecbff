"""The open-files limit, and how many monitor connections Central may hold under it.

Every monitor connection is a file descriptor. Linux starts a process with a soft
``RLIMIT_NOFILE`` of 1024 although the hard limit is usually far higher, so a Central that
wants 10,000 monitors must raise its soft limit first (any process may, up to the hard
limit). It must then keep its own ceiling *below* that limit: the database, Kafka's sockets
and pipes, log files and the GUI need descriptors too, and a server that lets ``accept()``
run into ``EMFILE`` can neither refuse the surplus cleanly nor open a database connection.
``safe_max_connections`` is the number to pass as ``FramedServer(max_connections=...)``; the
server then answers an ENQ beyond it with NACK while descriptors are still available.
"""

from __future__ import annotations

import logging

try:
    import resource
except ImportError:  # Windows: no rlimits
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Descriptors kept free for everything that is not a monitor connection: database pool,
# librdkafka (a socket per broker plus its wake-up pipes), log files, the event loop's own
# epoll and self-pipe, the listener's spare descriptor, Qt.
RESERVED_FDS = 256
# What a platform without rlimits is assumed to allow (the C runtime's stdio default).
FALLBACK_LIMIT = 512
# Ceiling used when the hard limit is "unlimited" (setting an infinite soft limit fails on
# some systems; Linux caps descriptors at fs.nr_open, 1048576 by default).
UNLIMITED_CAP = 1 << 20


def open_files_limit() -> int:
    """The current soft limit on open descriptors."""
    if resource is None:
        return FALLBACK_LIMIT
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return UNLIMITED_CAP if soft == resource.RLIM_INFINITY else soft


def raise_open_files_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the (new) soft limit.

    Never lowers it and never fails: if the system refuses, the current limit is kept and
    returned (and logged), since a smaller Central is better than none.
    """
    if resource is None:
        return FALLBACK_LIMIT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = UNLIMITED_CAP if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    return open_files_limit()


def safe_max_connections(limit: int | None = None, reserve: int = RESERVED_FDS) -> int:
    """How many monitor connections fit under ``limit`` (default: the current soft limit)
    while ``reserve`` descriptors stay free for everything else; at least 1."""
    if limit is None:
        limit = open_files_limit()
    return max(1, limit - reserve)
