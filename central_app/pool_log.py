"""SQLAlchemy's pool reporting a connection it could not reset: one warning line, no
traceback.

When a connection is returned to the pool, the pool rolls it back ("reset on return"). If
the server ended the session meanwhile (a PostgreSQL restart), that rollback fails, and the
pool logs "Exception during reset or similar" at ERROR with the traceback, then discards the
connection and goes on with a fresh one: for Central an outage it expects and already
reports in words (the database writer's "database unavailable"). The epoch check of a pair
invalidates a connection it finds lost (central_app.leadership), so the pool has nothing to
reset there; this filter covers any other path, so that evc-chaos's ``traceback`` rule
(no traceback in any log) holds through database restarts.
"""

from __future__ import annotations

import logging

# SQLAlchemy names each pool's logger after its class (sqlalchemy.log.class_logger); a
# logger's filters apply only to its own records, so each is given the filter.
POOL_LOGGERS = tuple(
    f"sqlalchemy.pool.impl.{name}"
    for name in (
        "QueuePool",
        "NullPool",
        "SingletonThreadPool",
        "StaticPool",
        "AsyncAdaptedQueuePool",
    )
)
RESET_FAILED = "Exception during reset or similar"


class ResetFailureInOneLine(logging.Filter):
    """Rewrites the pool's reset failure as a WARNING naming the error, without exc_info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != RESET_FAILED or not record.exc_info:
            return True
        error = record.exc_info[1]
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        record.msg = "database connection discarded: its rollback on return failed (%s: %s)"
        record.args = (type(error).__name__, first[:200])
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        return True


_FILTER = ResetFailureInOneLine()


def quiet_pool_resets() -> None:
    """Install the filter on every pool logger (once; safe to call again)."""
    for name in POOL_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
