"""EV_CP_E on a slow disk, for tests: while the file named by ``EVC_TEST_SLOW_FSYNC_FLAG``
exists, every ``os.fsync`` prints "slow fsync" and blocks for ``EVC_TEST_SLOW_FSYNC_S`` seconds
(tests/cp/test_slow_journal.py kills the engine during such a write)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from cp_node.engine_main import main

_real_fsync = os.fsync


def _slow_fsync(fd: int) -> None:
    flag = os.environ.get("EVC_TEST_SLOW_FSYNC_FLAG")
    if flag and Path(flag).exists():
        print("slow fsync", flush=True)
        time.sleep(float(os.environ.get("EVC_TEST_SLOW_FSYNC_S", "2")))
    _real_fsync(fd)


if __name__ == "__main__":
    os.fsync = _slow_fsync
    sys.exit(main())
