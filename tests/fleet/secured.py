"""A fleet scenario run on the secured network ``evc-fleet`` measures by default (TLS on the
monitor link, sealed values, enrollment tokens, the session's SASL_SSL broker with each
process in its own role), against a real EV_Central: what the smoke and the soak share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from fleet.central import Sampler
from fleet.commands import default_central_command
from fleet.scenario import ScenarioOptions
from fleet.security import KafkaAccess

REPO = Path(__file__).resolve().parents[2]


class Runs(Protocol):
    def run(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Runs)


def secured_options(**changes: Any) -> ScenarioOptions:
    """One simulator worker, 6 s supplies, 30 s to register, the secured network (TLS
    monitors, sealed values); ``changes`` add to or override these."""
    settings: dict[str, Any] = {
        "workers": 1,
        "supply_seconds": 6.0,
        "register_timeout": 30.0,
        "central_cmd": default_central_command(),
        "pythonpath": str(REPO),
        "progress_every": 60.0,
        "tls": True,
        "sealed": True,
        **changes,
    }
    return ScenarioOptions(**settings)


def run_sampled(
    make: Callable[[Sampler, Callable[[str], None]], S],
) -> tuple[S, dict[str, Any], str]:
    """The scenario ``make`` builds (given Central's sampler and where to say things), run
    with the sampler going; returns it, its result and its log."""
    sampler = Sampler()
    sampler.start()
    lines: list[str] = []
    try:
        scenario = make(sampler, lines.append)
        result = scenario.run()
    finally:
        sampler.stop()
    return scenario, result, "\n".join(lines)


def run_secured(
    make: Callable[[str, Sampler, Callable[[str], None], KafkaAccess], S], secure_kafka: Any
) -> tuple[S, dict[str, Any], str]:
    """As ``run_sampled``, ``make`` given also the bootstrap and the broker's role files."""
    access = KafkaAccess(secure_kafka.secrets.root)
    return run_sampled(lambda sampler, say: make(secure_kafka.bootstrap, sampler, say, access))
