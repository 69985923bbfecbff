"""Commands Central could not send to charging points that never connected to it.

A CP from the seed file that never registered has no key: a command for it (``stop all``)
cannot be sealed, and there is no engine listening anyway; it gets its state (STOPPED or
ACTIVE) from Central when its monitor first connects. That is said once per CP, and the CPs
of one command in one line ("cp:CP-04 has no key … (the CP must register again)" was said
for every seeded CP at every command). Plain Python: the runtime feeds it on its owner.
"""

from __future__ import annotations

from wire.display import count

__all__ = ["NeverConnected"]

SHOWN = 8  # CP ids named in the line; the rest are counted


class NeverConnected:
    def __init__(self) -> None:
        self._said: set[str] = set()
        self._batch: dict[str, set[str]] = {}  # cp id -> the commands not sent

    def add(self, cp_id: str, command: str) -> bool:
        """A command for ``cp_id`` was not sent; True when it opens a new batch (the caller
        then asks for :meth:`line` once the command is done)."""
        if cp_id in self._said:
            return False
        first = not self._batch
        self._batch.setdefault(cp_id, set()).add(command)
        return first

    def line(self) -> str | None:
        """The batch in one line (each CP said once for good), or None."""
        batch, self._batch = self._batch, {}
        if not batch:
            return None
        self._said.update(batch)
        commands = "/".join(sorted(set().union(*batch.values())))
        ids = sorted(batch)
        named = ", ".join(ids[:SHOWN]) + (
            f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
        )
        return (
            f"{commands} not sent to {named}: "
            f"{count(len(ids), 'charging point')} never connected to this Central "
            "(no key yet, no engine listening); "
            f"{'it gets' if len(ids) == 1 else 'each gets'} its state from Central when its "
            "monitor connects"
        )
