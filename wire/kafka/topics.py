"""The topic registry: names, partition counts and cleanup policy, in one place.

A ``prefix`` namespaces every topic so that tests (and several demo networks) can share one
broker without reading each other's traffic; production runs use the empty prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = ""

    @property
    def requests(self) -> str:
        return self.prefix + "evc.requests"

    @property
    def cp_commands(self) -> str:
        return self.prefix + "evc.cp.commands"

    @property
    def cp_events(self) -> str:
        return self.prefix + "evc.cp.events"

    @property
    def driver_notices(self) -> str:
        return self.prefix + "evc.driver.notices"

    @property
    def network_state(self) -> str:
        return self.prefix + "evc.network.state"

    @property
    def central_status(self) -> str:
        return self.prefix + "evc.central.status"

    @property
    def dead_letter(self) -> str:
        return self.prefix + "evc.dead-letter"

    def specs(self) -> list[TopicSpec]:
        return [
            TopicSpec(self.requests, 6),
            TopicSpec(self.cp_commands, 12),
            TopicSpec(self.cp_events, 6),
            TopicSpec(self.driver_notices, 12),
            TopicSpec(self.network_state, 6, compacted=True),
            TopicSpec(self.central_status, 1),
            TopicSpec(self.dead_letter, 1),
        ]

    def partitions_of(self, topic: str) -> int:
        for spec in self.specs():
            if spec.name == topic:
                return spec.partitions
        raise KeyError(topic)
