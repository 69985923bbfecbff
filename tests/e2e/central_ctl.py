"""EV_Central headless, plus the operator's Stop / Resume buttons read from stdin.

The real ``EV_Central`` offers Stop / Resume only in its Qt control center (headless has no
operator input, and there is no admin command or Kafka/HTTP control for them). So that the
end-to-end test of Stop all / Resume all still drives a *separate* Central process, this
module runs exactly what ``central_app.main`` runs headless (same parser, same
``CentralRuntime``, same console) and maps stdin lines to the control center's calls:
``stop-all``, ``resume-all``, ``stop CP``, ``resume CP``.

    python -m tests.e2e.central_ctl <EV_Central arguments>
"""

from __future__ import annotations

import signal
import sys
import threading

from central_app.console import ConsoleView
from central_app.main import build_parser, config_from
from central_app.runtime import CentralRuntime, StartError
from wire.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    runtime = CentralRuntime(config_from(args))
    runtime.add_listener(ConsoleView(runtime))
    try:
        runtime.start()
    except StartError as exc:
        print(f"EV_Central: error: {exc}", file=sys.stderr, flush=True)
        runtime.stop()
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def commands() -> None:
        for raw in sys.stdin:
            words = raw.split()
            if words == ["stop-all"]:
                runtime.stop_all()
            elif words == ["resume-all"]:
                runtime.resume_all()
            elif len(words) == 2 and words[0] == "stop":
                runtime.stop_cp(words[1])
            elif len(words) == 2 and words[0] == "resume":
                runtime.resume_cp(words[1])
            else:
                print(f"central_ctl: unknown command {raw.strip()!r}", flush=True)
                continue
            print(f"central_ctl: done {' '.join(words)}", flush=True)

    threading.Thread(target=commands, name="central-ctl-stdin", daemon=True).start()
    print(f"EV_Central running on port {runtime.port} (stdin: stop-all / resume-all)", flush=True)
    try:
        stop.wait()
    finally:
        print("EV_Central: stopping…", flush=True)
        runtime.stop()
        print("EV_Central: stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
