"""Single-key partition assignment, identical to librdkafka's default keyed partitioner.

librdkafka's ``consistent_random`` partitioner hashes a non-empty key with CRC-32, so an
engine or a driver can compute its own partition and read only that one.
"""

from __future__ import annotations

import zlib


def partition_for(key: str, partitions: int) -> int:
    if partitions <= 0:
        raise ValueError("a topic has at least one partition")
    return zlib.crc32(key.encode("utf-8")) % partitions
