"""``wire.kafka.loop.ConsumeLoop`` without Kafka: plain callables play the consumer."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from wire.errors import KafkaError
from wire.kafka.loop import ConsumeLoop


@dataclass
class Script:
    """Answers ``open`` and ``poll`` from lists (a KafkaError instance is raised); records
    every call, wait and report; stops the loop when a script runs out."""

    opens: list[object]
    polls: list[object]
    stop: threading.Event = field(default_factory=threading.Event)
    calls: list[str] = field(default_factory=list)

    def open(self) -> object:
        self.calls.append("open")
        if not self.opens:
            self.stop.set()
            return None
        answer = self.opens.pop(0)
        if isinstance(answer, KafkaError):
            raise answer
        return answer

    def poll(self, consumer: object) -> None:
        self.calls.append(f"poll {consumer}")
        if not self.polls:
            self.stop.set()
            return
        answer = self.polls.pop(0)
        if isinstance(answer, KafkaError):
            raise answer

    def loop(self, **options: object) -> ConsumeLoop:
        return ConsumeLoop(
            open=self.open,
            poll=self.poll,
            stop=self.stop,
            between=lambda: self.calls.append("between"),
            on_ready=lambda c: self.calls.append(f"ready {c}"),
            on_closed=lambda: self.calls.append("closed"),
            on_problem=lambda stage, exc: self.calls.append(f"problem {stage}: {exc}"),
            close=lambda c: self.calls.append(f"close {c}"),
            wait=lambda s: self.calls.append(f"wait {s}"),
            **options,  # type: ignore[arg-type]
        )


def test_retries_opening_says_so_once_then_polls() -> None:
    down = KafkaError("no broker")
    script = Script(opens=[None, down, down, "c1"], polls=[None])
    script.loop(retry_s=2.0, not_ready_s=0.1).run()
    assert script.calls == [
        "between",
        "open",
        "wait 0.1",  # not possible yet: a short wait, no report
        "between",
        "open",
        "problem open: no broker",
        "wait 2.0",
        "between",
        "open",  # the same outage: not said again
        "wait 2.0",
        "between",
        "open",
        "ready c1",
        "poll c1",
        "between",
        "poll c1",  # the script ran out: stop
        "close c1",
        "closed",
    ]


def test_a_failed_poll_reopens_and_a_success_ends_the_series() -> None:
    lost = KafkaError("consumer failed")
    script = Script(opens=["c1", "c2"], polls=[lost, None, lost])
    script.loop(retry_s=2.0, poll_retry_s=0.5).run()
    assert (
        [c for c in script.calls if c != "between"]
        == [
            "open",
            "ready c1",
            "poll c1",
            "problem poll: consumer failed",
            "close c1",
            "closed",
            "wait 0.5",
            "open",
            "ready c2",
            "poll c2",  # worked: the next failure is a new series, said again
            "poll c2",
            "problem poll: consumer failed",
            "close c2",
            "closed",
            "wait 0.5",
            "open",
        ][: len(script.calls)]
        or script.calls
    )


def test_a_kept_consumer_is_polled_again_after_a_failure() -> None:
    script = Script(opens=["c1"], polls=[KafkaError("blip"), KafkaError("blip")])
    script.loop(reopen=False, retry_s=1.0).run()
    assert [c for c in script.calls if c != "between"] == [
        "open",
        "ready c1",
        "poll c1",
        "problem poll: blip",
        "wait 1.0",
        "poll c1",
        "wait 1.0",
        "poll c1",
        "close c1",
        "closed",
    ]


def test_stopped_before_anything_opened_closes_nothing() -> None:
    script = Script(opens=[], polls=[])
    script.stop.set()
    script.loop().run()
    assert script.calls == []


def test_an_error_that_is_not_kafkas_ends_the_loop_and_still_closes() -> None:
    script = Script(opens=["c1"], polls=[])

    def boom(consumer: object) -> None:
        raise RuntimeError("bug")

    loop = script.loop()
    loop.poll = boom
    try:
        loop.run()
    except RuntimeError:
        pass
    else:
        raise AssertionError("a bug must not be swallowed as a Kafka failure")
    assert script.calls[-2:] == ["close c1", "closed"]
