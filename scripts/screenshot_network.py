#!/usr/bin/env python3
"""Screenshots for docs/user-guide.md, taken from a real running network.

    .venv/bin/python scripts/screenshot_network.py [--out docs/img] [--run-dir /tmp/guide-run]

Starts its own Kafka broker (``scripts/kafka-local``, own port and run dir), then
``scripts/run_network.py --gui`` (Central, 5 CPs with their technician panels, 2 drivers on
autopilot) on the X display in ``$DISPLAY`` — or on a private ``Xvfb`` when there is none.
Once supplies run, it plays technician and operator for a moment (Break (KO) on CP-05's panel,
Stop on CP-04 in the control center) so every state is on screen, waits until driver D-001 is
in its second charge (so it has a ticket too), and captures the windows with ImageMagick ``import``:

- ``guide-operator.png``: the control center;
- ``guide-driver.png``: D-001's client during its charge;
- ``guide-technician.png``: the panel of the CP serving D-001, beside CP-05's broken panel.

Needs ``Xvfb``, ``xdotool`` and ``imagemagick`` (Debian: ``apt-get install xvfb xdotool
imagemagick``). Everything it started is stopped at the end. The clicks use positions in the
windows' default layout (1400x900 control center, 600x640 panel); the script checks on Kafka
that they took effect and says so if not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

# Click targets in the default layouts (window coordinates).
PANEL_BREAK = (367, 274)  # technician panel: "Break (KO)"
CENTRAL_ROW_4 = (847, 206)  # control center table, 4th row (sorted by CP id: CP-04)
CENTRAL_STOP = (112, 17)  # toolbar: "Selection: Stop"
CENTRAL_TABLE_EMPTY = (1000, 570)  # below the last row: clears the selection


def say(text: str) -> None:
    print(f"screenshots: {text}", flush=True)


def run(*argv: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False).stdout


class Screen:
    def __init__(self, display: str) -> None:
        self.env = {**os.environ, "DISPLAY": display}

    def windows(self, name: str) -> list[str]:
        found = run("xdotool", "search", "--onlyvisible", "--name", name, env=self.env)
        return [w for w in found.split() if w]

    def window(self, name: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.windows(name)
            if found:
                return found[0]
            time.sleep(0.5)
        raise SystemExit(f"screenshots: no window named {name!r} after {timeout:.0f}s")

    def click(self, window: str, xy: tuple[int, int]) -> None:
        run("xdotool", "windowraise", window, env=self.env)
        time.sleep(0.3)
        x, y = xy
        run("xdotool", "mousemove", "--window", window, str(x), str(y), "click", "1", env=self.env)
        time.sleep(0.3)

    def capture(self, window: str, path: Path) -> None:
        run("xdotool", "windowraise", window, env=self.env)
        run("xdotool", "mousemove", "0", "999", env=self.env)  # no hover highlight or tooltip
        time.sleep(0.8)  # let the raised window repaint
        subprocess.run(["import", "-window", window, str(path)], env=self.env, check=True)
        say(f"wrote {path}")


def start_xvfb(geometry: str) -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", geometry, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.kill()
        raise SystemExit("screenshots: Xvfb did not start")
    return xvfb, f":{number}"


class Watch:
    """Follows the network state and D-001's notices on Kafka (the summary's view)."""

    def __init__(self, bootstrap: str) -> None:
        from wire.kafka.consumer import EventConsumer
        from wire.kafka.messages import DRIVER_NOTICES, NETWORK_STATE
        from wire.kafka.topics import Topics

        topics = Topics()
        self.status: dict[str, str] = {}
        self.progress: dict[str, int] = {}  # D-001's session id -> notices
        self.cp_of: dict[str, str] = {}
        self.tickets = 0  # D-001's tickets so far
        self.consumer = EventConsumer(
            bootstrap,
            group_id=f"screenshots-{os.getpid()}",
            codecs={topics.network_state: NETWORK_STATE, topics.driver_notices: DRIVER_NOTICES},
            dead_letter_topic=None,
            from_beginning=True,
        )
        self.consumer.subscribe()

    def _handle(self, received) -> None:
        event = received.event
        kind = getattr(event, "TYPE", "")
        if kind == "cp_state":
            self.status[event.cp_id] = event.status
        elif kind == "supply_progress" and event.driver_id == "D-001":
            self.progress[event.session_id] = self.progress.get(event.session_id, 0) + 1
            self.cp_of[event.session_id] = event.cp_id
        elif kind in ("ticket", "supply_interrupted") and event.driver_id == "D-001":
            self.progress.pop(event.session_id, None)
            self.tickets += kind == "ticket"

    def until(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.consumer.poll(self._handle, timeout=0.2)
            result = predicate()
            if result:
                return result
        say(f"warning: {what} did not happen within {timeout:.0f}s")
        return None

    def close(self) -> None:
        self.consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--run-dir", type=Path, default=Path("/tmp/guide-run"))
    parser.add_argument("--kafka-port", type=int, default=19192)
    parser.add_argument("--central-port", type=int, default=17070)
    parser.add_argument("--engine-base-port", type=int, default=17600)
    parser.add_argument("--geometry", default="1600x1000x24", help="Xvfb screen")
    args = parser.parse_args(argv)
    for tool in ("xdotool", "import"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"screenshots: {tool} is missing (apt-get install xdotool imagemagick)"
            )
    args.out.mkdir(parents=True, exist_ok=True)
    kafka_run = args.run_dir / "kafka"
    kafka_local = [PYTHON, str(ROOT / "scripts" / "kafka-local")]
    subprocess.run([*kafka_local, "stop", "--run-dir", str(kafka_run)], capture_output=True)
    shutil.rmtree(args.run_dir, ignore_errors=True)
    args.run_dir.mkdir(parents=True)

    xvfb = None
    display = os.environ.get("DISPLAY", "")
    if not display:
        xvfb, display = start_xvfb(args.geometry)
        say(f"started Xvfb on {display}")
    screen = Screen(display)
    network = None
    watch = None
    try:
        where = ["--port", str(args.kafka_port), "--run-dir", str(kafka_run)]
        subprocess.run([*kafka_local, "start", *where, "--insecure"], check=True)
        bootstrap = f"127.0.0.1:{args.kafka_port}"
        env = {k: v for k, v in screen.env.items() if k != "QT_QPA_PLATFORM"}
        with (args.run_dir / "run.out").open("wb") as out:
            network = subprocess.Popen(
                [
                    PYTHON,
                    str(ROOT / "scripts" / "run_network.py"),
                    "--gui",
                    "--no-tile",  # the click targets below are in the default window sizes
                    "--metrics-port-base",  # no fixed metrics ports: another run may hold them
                    "0",
                    "--web-port",  # nor EV_Web's (its page has its own screenshot: tests/web)
                    "0",
                    "--insecure",  # its own PLAINTEXT broker (started above)
                    "--kafka",
                    bootstrap,
                    "--central-port",
                    str(args.central_port),
                    "--engine-base-port",
                    str(args.engine_base_port),
                    "--run-dir",
                    str(args.run_dir / "net"),
                    "--fresh",
                    "--cps",
                    "5",
                    "--drivers",
                    "2",
                    "--speed",
                    "10",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        say(f"network starting (log {args.run_dir / 'run.out'})")
        central = screen.window("^Control center")
        driver = screen.window("^EV Driver — D-001")
        panels = {f"CP-0{i}": screen.window(f"^EV_CP CP-0{i} ") for i in range(1, 6)}
        sys.path.insert(0, str(ROOT))
        watch = Watch(bootstrap)
        watch.until(
            lambda: sum(s != "DISCONNECTED" for s in watch.status.values()) >= 5,
            60,
            "five CPs connected",
        )
        # Technician: break CP-05. Operator: stop CP-04.
        screen.click(panels["CP-05"], PANEL_BREAK)
        screen.click(central, CENTRAL_ROW_4)
        screen.click(central, CENTRAL_STOP)
        screen.click(central, CENTRAL_TABLE_EMPTY)
        watch.until(
            lambda: (
                watch.status.get("CP-05") == "BROKEN" and watch.status.get("CP-04") == "STOPPED"
            ),
            10,
            "CP-05 BROKEN and CP-04 STOPPED",
        )
        session = watch.until(
            lambda: (
                watch.tickets >= 1 and next((s for s, n in watch.progress.items() if n >= 4), None)
            ),
            120,
            "D-001's second charge, four seconds in",
        )
        cp_id = watch.cp_of.get(session or "", "CP-01")
        screen.capture(driver, args.out / "guide-driver.png")
        screen.capture(central, args.out / "guide-operator.png")
        serving = args.run_dir / "panel-serving.png"
        broken = args.run_dir / "panel-broken.png"
        screen.capture(panels.get(cp_id, panels["CP-01"]), serving)
        screen.capture(panels["CP-05"], broken)
        subprocess.run(
            ["convert", str(serving), str(broken), "-background", "#d0d4d8", "-splice", "12x0",
             "+append", "-chop", "12x0", str(args.out / "guide-technician.png")],
            check=True,
        )  # fmt: skip
        say(f"wrote {args.out / 'guide-technician.png'} ({cp_id} serving D-001, CP-05 broken)")
    finally:
        if watch is not None:
            watch.close()
        if network is not None and network.poll() is None:
            network.send_signal(signal.SIGTERM)
            try:
                network.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(network.pid, signal.SIGKILL)
        subprocess.run([*kafka_local, "stop", "--run-dir", str(kafka_run)], capture_output=True)
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
