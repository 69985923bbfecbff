"""Structured, quiet-by-default logging shared by every program."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s"


def setup_logging(level: str = "WARNING", *, stream=None) -> None:
    """Configure the root logger once; programs call it first thing in ``main``."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.WARNING),
        format=FORMAT,
        stream=stream or sys.stderr,
        force=True,
    )
    # librdkafka logs every failed reconnect (many a second while a broker is down); our own
    # adapters report broker state once, in words. Our clients route its lines to DEBUG
    # (wire.kafka.quiet.LibrdkafkaLog); this keeps any other confluent_kafka logger quiet too.
    logging.getLogger("confluent_kafka").setLevel(logging.CRITICAL)
