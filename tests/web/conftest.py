"""EV_Web as a real process and headless Chromium through Selenium (Debian's chromium and
chromium-driver, which scripts/setup-system installs; the tests skip, saying so, only where
they are missing)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from wire.kafka.topics import Topics

START_TIMEOUT_S = 20.0


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture
def browser() -> Iterator:
    """Headless Chromium, 1280x900. Selenium is given both binaries, so it never tries to
    download a browser (Selenium Manager)."""
    found = _chromium()
    if found is None:
        pytest.skip(
            "Chromium is not installed: the browser tests need Debian's chromium and "
            "chromium-driver (scripts/setup-system installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=en-GB",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=found[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_url(process: subprocess.Popen[str], timeout: float) -> str:
    """The URL EV_Web prints once it listens; fails with its output if it exits first."""
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if ": serving " in line and not found:
                found.append(line.rsplit(" ", 1)[-1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or not found:
        process.kill()
        raise AssertionError(f"EV_Web did not start within {timeout:.0f}s: {''.join(seen)}")
    return found[0]


@pytest.fixture
def ev_web(kafka_bootstrap: str, topics: Topics, tmp_path: Path) -> Iterator[str]:
    """EV_Web (``--insecure``: the session's PLAINTEXT broker) on a free port; its URL."""
    log = (tmp_path / "ev_web.err").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web_app",
            "--kafka",
            kafka_bootstrap,
            "--topic-prefix",
            topics.prefix,
            "--port",
            "0",
            "--insecure",
            "--log-level",
            "INFO",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield _wait_for_url(process, START_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
