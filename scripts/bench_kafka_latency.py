#!/usr/bin/env python3
"""Benchmark Kafka request/reply latency the way driver ↔ Central use it, on a real broker.

    scripts/bench_kafka_latency.py rtt  [--bootstrap H:P] [--n 500] [--rate 20] [--load 2000]
    scripts/bench_kafka_latency.py idle [--bootstrap H:P] [--consumers 100] [--seconds 20]

``rtt``: a "driver" (producer A, consumer A assigned to its key's partition of the notices
topic, polling like ``driver_app.runtime``) sends ``charge_request`` to the requests topic;
a "Central" thread (consumer B, group-subscribed, polling like ``central_app.kafka_loop``;
producer B) answers each of the driver's requests with an ``authorized`` notice. ``--n``
round trips at ``--rate`` per second, while a load thread produces ``--load`` other
``charge_request`` per second to the requests topic (Central reads them and answers none).
Prints p50/p95/p99/max of the round trip, and how Central consumed (messages per poll), so
a latency gain that costs batching shows.

``idle``: ``--consumers`` key-assigned consumers (like drivers and engines) poll an idle
topic for ``--seconds``; prints this process's CPU and the broker's CPU (from
``/proc/<pid>/stat``; the broker's pid is known when this script started the broker, or is
given with ``--broker-pid``).

Without ``--bootstrap`` a broker is started with ``scripts/kafka-local`` on a free port in
a temporary run dir (as ``tests/conftest.py`` does) and stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from wire.kafka.admin import ensure_topics  # noqa: E402
from wire.kafka.consumer import EventConsumer, Received  # noqa: E402
from wire.kafka.messages import (  # noqa: E402
    DRIVER_NOTICES,
    REQUESTS,
    AuthorizedNotice,
    ChargeRequest,
)
from wire.kafka.producer import EventProducer  # noqa: E402
from wire.kafka.topics import Topics  # noqa: E402

KAFKA_LOCAL = REPO / "scripts" / "kafka-local"
DRIVER = "bench-driver"


# --- broker -----------------------------------------------------------------------------------


@contextlib.contextmanager
def broker(bootstrap: str | None, broker_pid: int | None) -> Iterator[tuple[str, int | None]]:
    """``(bootstrap, broker pid or None)``: the given broker, or one started for the run."""
    if bootstrap:
        yield bootstrap, broker_pid
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="evc-bench-kafka-") as run_dir:
        args = [sys.executable, str(KAFKA_LOCAL)]
        started = subprocess.run(
            [*args, "start", "--port", str(port), "--run-dir", run_dir, "--insecure"],
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            sys.exit(f"scripts/kafka-local start failed:\n{started.stdout}{started.stderr}")
        try:
            pid_text = (Path(run_dir) / "kafka.pid").read_text().strip()
            yield f"127.0.0.1:{port}", int(pid_text) if pid_text.isdigit() else None
        finally:
            subprocess.run([*args, "stop", "--run-dir", run_dir], capture_output=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


# --- rtt ----------------------------------------------------------------------------------------


class Central(threading.Thread):
    """Consumer B + producer B: answers the bench driver's requests, reads the rest."""

    def __init__(self, bootstrap: str, topics: Topics, timeout: float, max_messages: int):
        super().__init__(name="bench-central", daemon=True)
        self.topics = topics
        self.timeout = timeout
        self.max_messages = max_messages
        self.stop = threading.Event()
        self.producer = EventProducer(bootstrap, client_id="bench-central")
        self.consumer = EventConsumer(
            bootstrap,
            group_id=f"bench-central-{uuid.uuid4().hex[:8]}",
            codecs={topics.requests: REQUESTS},
            dead_letter_topic=None,
            client_id="bench-central",
            auto_offset_reset="latest",
        )
        self.consumer.subscribe()
        self.cost_s = 0.0
        self.polls = 0
        self.nonempty_polls = 0
        self.read = 0
        self.seen: dict[str, float] = {}  # request_id -> when Central's handler got it

    def _on_request(self, received: Received) -> None:
        request = received.event
        assert isinstance(request, ChargeRequest)
        if self.cost_s:
            busy_until = time.perf_counter() + self.cost_s
            while time.perf_counter() < busy_until:
                pass  # Central's own work per event (database, state), held the GIL
        if request.driver_id != DRIVER:
            return
        self.seen[request.request_id] = time.perf_counter()
        notice = AuthorizedNotice(
            request_id=request.request_id,
            session_id=f"s-{request.request_id}",
            cp_id=request.cp_id,
            driver_id=request.driver_id,
            expires_at=request.ts,
        )
        self.producer.send(self.topics.driver_notices, request.driver_id, notice)

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                n = self.consumer.poll(
                    self._on_request, timeout=self.timeout, max_messages=self.max_messages
                )
                self.producer.poll(0)
                self.polls += 1
                if n:
                    self.nonempty_polls += 1
                    self.read += n
        finally:
            self.consumer.close()
            self.producer.close()


class Load(threading.Thread):
    """``rate`` charge_requests per second from other drivers, in 10 ms slices."""

    def __init__(self, bootstrap: str, topics: Topics, rate: int):
        super().__init__(name="bench-load", daemon=True)
        self.topics = topics
        self.rate = rate
        self.stop = threading.Event()
        self.sent = 0
        self.producer = EventProducer(bootstrap, client_id="bench-load")

    def run(self) -> None:
        start = time.monotonic()
        try:
            while not self.stop.is_set():
                due = int((time.monotonic() - start) * self.rate)
                while self.sent < due:
                    n = self.sent
                    cp_id = f"CP{n % 10_000:05d}"
                    request = ChargeRequest(
                        request_id=f"load-{n}", driver_id=f"load-{n % 997}", cp_id=cp_id
                    )
                    self.producer.send(self.topics.requests, cp_id, request)
                    self.sent += 1
                self.stop.wait(0.01)
        finally:
            self.producer.close()


@dataclass
class Trips:
    total_ms: list[float] = field(default_factory=list)  # driver send → driver handler
    there_ms: list[float] = field(default_factory=list)  # driver send → Central's handler
    back_ms: list[float] = field(default_factory=list)  # Central's handler → driver handler
    lost: int = 0


def round_trips(
    producer: EventProducer,
    consumer: EventConsumer,
    central: Central,
    count: int,
    rate: float,
    poll_timeout: float,
    patience: float = 10.0,
) -> Trips:
    """``count`` request → reply round trips at ``rate`` per second."""
    answered: dict[str, float] = {}

    def on_notice(received: Received) -> None:
        request_id = getattr(received.event, "request_id", None)
        if request_id is not None:
            answered[request_id] = time.perf_counter()

    trips = Trips()
    next_at = time.perf_counter()
    for n in range(count):
        request_id = f"{uuid.uuid4().hex[:8]}-{n}"
        request = ChargeRequest(request_id=request_id, driver_id=DRIVER, cp_id=f"CP{n % 50:05d}")
        sent_at = time.perf_counter()
        producer.send(central.topics.requests, request.cp_id, request)
        while request_id not in answered and time.perf_counter() - sent_at < patience:
            consumer.poll(on_notice, timeout=poll_timeout)
            producer.poll(0)
        if request_id in answered:
            got, seen = answered[request_id], central.seen[request_id]
            trips.total_ms.append((got - sent_at) * 1000)
            trips.there_ms.append((seen - sent_at) * 1000)
            trips.back_ms.append((got - seen) * 1000)
        else:
            trips.lost += 1
        next_at += 1 / rate
        time.sleep(max(0.0, next_at - time.perf_counter()))
    return trips


def summary(values: list[float]) -> str:
    values = sorted(values)
    if not values:
        return "-"
    return (
        f"p50 {percentile(values, 50):6.1f}  p95 {percentile(values, 95):6.1f}  "
        f"p99 {percentile(values, 99):6.1f}  max {values[-1]:6.1f}  min {values[0]:5.1f}"
    )


def run_rtt(args: argparse.Namespace, bootstrap: str, broker_pid: int | None) -> None:
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    ensure_topics(bootstrap, topics)
    central = Central(bootstrap, topics, args.central_timeout, args.central_max)
    central.cost_s = args.central_cost_ms / 1000
    central.start()
    producer = EventProducer(bootstrap, client_id="bench-driver")
    consumer = EventConsumer(
        bootstrap,
        group_id=f"driver-bench-{uuid.uuid4().hex[:8]}",
        codecs={topics.driver_notices: DRIVER_NOTICES},
        dead_letter_topic=None,
        client_id="bench-driver",
    )
    consumer.assign_key(topics.driver_notices, DRIVER, topics.partitions_of(topics.driver_notices))
    load = Load(bootstrap, topics, args.load) if args.load > 0 else None
    try:
        # Warm up until Central answers (group join, metadata, connections), then measure.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not round_trips(producer, consumer, central, 1, 1000, args.driver_timeout, 5).lost:
                break
        else:
            sys.exit("Central never answered")
        if load is not None:
            load.start()
            time.sleep(2.0)  # let the load settle
        round_trips(producer, consumer, central, 10, args.rate, args.driver_timeout)
        polls0, nonempty0, read0 = central.polls, central.nonempty_polls, central.read
        sent0 = load.sent if load else 0
        started = time.monotonic()
        own0 = sum(os.times()[:2])
        broker0 = cpu_seconds(broker_pid) if broker_pid else 0.0
        trips = round_trips(producer, consumer, central, args.n, args.rate, args.driver_timeout)
        elapsed = time.monotonic() - started
        own_cpu = sum(os.times()[:2]) - own0
        broker_cpu = cpu_seconds(broker_pid) - broker0 if broker_pid else None
        polls = central.polls - polls0
        nonempty = central.nonempty_polls - nonempty0
        read = central.read - read0
        sent = (load.sent if load else 0) - sent0
    finally:
        if load is not None:
            load.stop.set()
            load.join(10)
        central.stop.set()
        central.join(10)
        consumer.close()
        producer.close()
    print(
        f"round trips: {len(trips.total_ms)} answered, {trips.lost} lost, "
        f"{len(trips.total_ms) / elapsed:.1f}/s; load {sent / elapsed:.0f} msgs/s; "
        f"Central's cost {args.central_cost_ms:g} ms/event"
    )
    print(f"round trip ms:    {summary(trips.total_ms)}")
    print(f"  driver→Central: {summary(trips.there_ms)}")
    print(f"  Central→driver: {summary(trips.back_ms)}")
    print(
        f"central: {read / elapsed:.0f} msgs/s handled, {polls} polls "
        f"({nonempty} non-empty), {read / max(1, nonempty):.1f} messages per non-empty poll"
    )
    cpu = f"CPU: this process {100 * own_cpu / elapsed:.0f} %"
    if broker_cpu is not None:
        cpu += f", broker {100 * broker_cpu / elapsed:.0f} %"
    print(cpu + " of one core")


# --- idle ---------------------------------------------------------------------------------------


def run_idle(args: argparse.Namespace, bootstrap: str, broker_pid: int | None) -> None:
    topics = Topics(prefix=f"bench{uuid.uuid4().hex[:6]}.")
    ensure_topics(bootstrap, topics)
    partitions = topics.partitions_of(topics.driver_notices)
    stop = threading.Event()
    consumers = []
    for n in range(args.consumers):
        consumer = EventConsumer(
            bootstrap,
            group_id=f"driver-idle-{uuid.uuid4().hex[:8]}",
            codecs={topics.driver_notices: DRIVER_NOTICES},
            dead_letter_topic=None,
            client_id=f"idle-{n}",
        )
        consumer.assign_key(topics.driver_notices, f"idle-driver-{n}", partitions)
        consumers.append(consumer)

    def loop(consumer: EventConsumer) -> None:
        while not stop.is_set():
            consumer.poll(lambda _r: None, timeout=args.poll_timeout)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in consumers]
    for thread in threads:
        thread.start()
    time.sleep(3.0)  # connections and the first fetches
    own0, wall0 = sum(os.times()[:2]), time.monotonic()
    broker0 = cpu_seconds(broker_pid) if broker_pid else None
    time.sleep(args.seconds)
    own1, wall1 = sum(os.times()[:2]), time.monotonic()
    broker1 = cpu_seconds(broker_pid) if broker_pid else None
    stop.set()
    for thread in threads:
        thread.join(5)
    for consumer in consumers:
        consumer.close()
    wall = wall1 - wall0
    print(f"idle: {args.consumers} consumers, poll timeout {args.poll_timeout} s, {wall:.1f} s")
    print(f"consumers' process CPU: {100 * (own1 - own0) / wall:.1f} % of one core")
    if broker0 is not None and broker1 is not None:
        print(f"broker CPU: {100 * (broker1 - broker0) / wall:.1f} % of one core")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("mode", choices=["rtt", "idle"], nargs="?", default="rtt")
    parser.add_argument("--bootstrap", help="host:port of a running broker (default: start one)")
    parser.add_argument("--broker-pid", type=int, help="the given broker's pid (idle CPU)")
    parser.add_argument("--n", type=int, default=500, help="round trips measured")
    parser.add_argument("--rate", type=float, default=20.0, help="round trips per second")
    parser.add_argument("--load", type=int, default=2000, help="background msgs/s (0: none)")
    parser.add_argument("--central-timeout", type=float, default=0.5, help="Central's poll")
    parser.add_argument("--central-max", type=int, default=500, help="Central's max_messages")
    parser.add_argument(
        "--central-cost-ms", type=float, default=0.0, help="Central's CPU work per event"
    )
    parser.add_argument("--driver-timeout", type=float, default=0.05, help="driver's poll")
    parser.add_argument("--consumers", type=int, default=100, help="idle: consumers")
    parser.add_argument("--seconds", type=float, default=20.0, help="idle: measured time")
    parser.add_argument("--poll-timeout", type=float, default=0.05, help="idle: poll timeout")
    args = parser.parse_args()
    with broker(args.bootstrap, args.broker_pid) as (bootstrap, broker_pid):
        if args.mode == "rtt":
            run_rtt(args, bootstrap, broker_pid)
        else:
            run_idle(args, bootstrap, broker_pid)


if __name__ == "__main__":
    main()
