#!/usr/bin/env python3
"""Regenerate every screenshot in ``docs/img/`` (``make screenshots``), so none can drift
from what the programs show.

    .venv/bin/python scripts/screenshots.py [--only NAME ...] [--skip-network]

One step per script, in this order (each writes into ``docs/img/``):

- ``history``: ``screenshot_history.py`` — history-sessions, history-report, history-charts,
  history-cp-detail, driver-spending (a seeded database, offscreen);
- ``control-center``: ``screenshot_control_center.py`` — control-center and, with
  ``--standby``, control-center-standby (demo data, offscreen);
- ``control-center-10k``: ``bench_control_center.py --screenshot`` — control-center-10k, the
  window at 10,000 CPs after a short steady phase of the benchmark (offscreen, ~1 min);
- ``driver``: ``screenshot_driver.py`` — driver-client and driver-ticket (offscreen);
- ``citymap``: ``citymap_screenshot.py`` — citymap (offscreen);
- ``cp-panel``: ``python -m tests.cp.screenshots`` — cp-panel, cp-panel-supplying,
  cp-panel-broken (real engines and monitors against a broker this script starts on
  ``--kafka-port``, insecure, in its own run folder, stopped at the end);
- ``network``: ``screenshot_network.py`` — guide-operator, guide-driver, guide-technician
  (a real ``make run`` network on a private Xvfb display; needs ``xvfb``, ``xdotool`` and
  ``imagemagick``; takes about two minutes).

``docs/img/performance.png`` is not a screenshot: it is the chart of ``make bench``'s
figures (``evc-fleet bench``), redrawn when the benchmark runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
IMG = ROOT / "docs" / "img"
PY = sys.executable
STEPS = (
    "history",
    "control-center",
    "control-center-10k",
    "driver",
    "citymap",
    "cp-panel",
    "network",
)


def say(text: str) -> None:
    print(f"screenshots: {text}", flush=True)


def run(argv: list[str], env: dict[str, str] | None = None) -> None:
    say("$ " + " ".join(os.path.relpath(a, ROOT) if a.startswith(str(ROOT)) else a for a in argv))
    started = time.monotonic()
    subprocess.run(argv, check=True, cwd=ROOT, env=env)
    say(f"  done in {time.monotonic() - started:.0f} s")


def offscreen() -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}


def cp_panels(kafka_port: int) -> None:
    """tests/cp/screenshots.py against a broker of its own (insecure: the test Central)."""
    kafka_local = [PY, str(SCRIPTS / "kafka-local")]
    where = ["--port", str(kafka_port), "--run-dir", f"/tmp/evc-screenshots-kafka-{kafka_port}"]
    subprocess.run([*kafka_local, "stop", *where[2:]], capture_output=True, check=False)
    run([*kafka_local, "start", *where, "--insecure"])
    try:
        env = {**offscreen(), "EVC_KAFKA": f"127.0.0.1:{kafka_port}"}
        run([PY, "-m", "tests.cp.screenshots"], env=env)
    finally:
        subprocess.run([*kafka_local, "stop", *where[2:]], capture_output=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--skip-network", action="store_true", help="all but the Xvfb network")
    parser.add_argument("--kafka-port", type=int, default=19193, help="the cp-panel broker")
    args = parser.parse_args(argv)
    steps = [s for s in args.only if not (args.skip_network and s == "network")]
    if "network" in steps:
        missing = [t for t in ("Xvfb", "xdotool", "import") if shutil.which(t) is None]
        if missing:
            raise SystemExit(
                f"screenshots: {', '.join(missing)} missing for the network step: "
                "apt-get install xvfb xdotool imagemagick (or --skip-network)"
            )
    IMG.mkdir(parents=True, exist_ok=True)
    env = offscreen()
    for step in steps:
        say(f"--- {step}")
        if step == "history":
            run([PY, str(SCRIPTS / "screenshot_history.py"), "--out", str(IMG)], env=env)
        elif step == "control-center":
            run([PY, str(SCRIPTS / "screenshot_control_center.py")], env=env)
            run([PY, str(SCRIPTS / "screenshot_control_center.py"), "--standby"], env=env)
        elif step == "control-center-10k":
            shot = str(IMG / "control-center-10k.png")
            bench = [PY, str(SCRIPTS / "bench_control_center.py"), "--cps", "10000"]
            short = ["--seconds", "3", "--storm-seconds", "0.5", "--log-burst", "1000"]
            run([*bench, *short, "--screenshot", shot], env=env)
        elif step == "driver":
            run([PY, str(SCRIPTS / "screenshot_driver.py"), str(IMG / "driver-client.png")], env)
        elif step == "citymap":
            run([PY, str(SCRIPTS / "citymap_screenshot.py"), str(IMG / "citymap.png")], env=env)
        elif step == "cp-panel":
            cp_panels(args.kafka_port)
        elif step == "network":
            # a real display of its own: the network's programs must not be offscreen
            clean = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM",)}
            clean.pop("DISPLAY", None)  # a private Xvfb, whatever display this shell has
            run([PY, str(SCRIPTS / "screenshot_network.py"), "--out", str(IMG)], env=clean)
    say(f"wrote the screenshots of {', '.join(steps)} into {IMG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
