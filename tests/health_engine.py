"""A stand-in engine for tests: a HealthResponder in its own process, so it can be SIGKILLed.

Usage: ``python -m tests.health_engine PORT`` (0: a free port). Prints the bound port, then
answers ``OK#cp_id#IDLE`` until killed.
"""

from __future__ import annotations

import sys
import threading

from wire.health import HealthResponder
from wire.health_messages import EngineState, Health, HealthOk


def answer(request: Health) -> HealthOk:
    return HealthOk(request.cp_id, EngineState.IDLE)


def main() -> None:
    responder = HealthResponder(int(sys.argv[1]), answer, host="127.0.0.1")
    print(responder.port, flush=True)
    responder.serve(threading.Event())


if __name__ == "__main__":
    main()
