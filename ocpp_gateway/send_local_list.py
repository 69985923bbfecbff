"""The local authorization list towards one charger: ``GetLocalListVersion``, then
``SendLocalList`` (Full) when the charger's version is not the file's.

A charger alone (its WebSocket down, or Central out of reach) authorizes only the ids it
knows itself; the gateway fills its list with the drivers' ids of ``evc-admin ocpp
local-list`` (``cp_core.local_list``). The file is read fresh at each accepted boot
(``ChargerPoints.booted``), so a list written while the gateway runs reaches each charger at its next
boot, without a restart; a charger that has the file's version already gets nothing.

A charger without a local list (a CALLERROR NotSupported/NotImplemented, 1.6's version -1,
status NotSupported), one that refuses it (Failed, VersionMismatch) or does not answer is said
once in the gateway's log, in words, and not again until something else is to be said: the
connection goes on either way (these calls run in a task of their own, never in a handler).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import call as call16
from ocpp.v16.enums import AuthorizationStatus, UpdateType
from ocpp.v201 import call as call201
from ocpp.v201.enums import AuthorizationStatusEnumType, IdTokenEnumType, UpdateEnumType
from websockets.exceptions import ConnectionClosed

from cp_core.local_list import LocalList, LocalListError, read

log = logging.getLogger(__name__)

# the longest id each version's list holds: 1.6's idTag is a CiString20, 2.0.1's idToken 36
ID_LENGTH = {"1.6": 20, "2.0.1": 36}
NOT_SUPPORTED = frozenset({"NotSupported", "NotImplemented"})  # CALLERROR codes: no local list

Ask = Callable[[Any], Awaitable[Any]]


def version_request(version: str) -> Any:
    return call16.GetLocalListVersion() if version == "1.6" else call201.GetLocalListVersion()


def list_request(version: str, wanted: LocalList, ids: list[str]) -> Any:
    """The Full SendLocalList of ``version`` for ``ids``, each authorized (Accepted)."""
    if version == "1.6":
        accepted = {"status": AuthorizationStatus.accepted.value}
        return call16.SendLocalList(
            list_version=wanted.version,
            update_type=UpdateType.full,
            local_authorization_list=[{"id_tag": i, "id_tag_info": accepted} for i in ids],
        )
    token_info = {"status": AuthorizationStatusEnumType.accepted.value}
    central = IdTokenEnumType.central.value
    return call201.SendLocalList(
        version_number=wanted.version,
        update_type=UpdateEnumType.full,
        # an empty Full list (it clears the charger's) is one without the field in 2.0.1
        local_authorization_list=[
            {"id_token": {"id_token": i, "type": central}, "id_token_info": token_info} for i in ids
        ]
        or None,
    )


class LocalListSender:
    """One charger's local authorization list, from the file at ``path`` (None: no list).

    Remembers what it last said so that a charger booting again with the same answer (one
    without a local list) is not said again at every boot."""

    def __init__(self, path: Path | None, say: Callable[[str], None]) -> None:
        self.path = path
        self._say = say
        self._said = ""

    def say(self, text: str) -> None:
        if text != self._said:
            self._said = text
            self._say(text)

    async def send(self, version: str, ask: Ask) -> None:
        """Ask the charger (OCPP ``version``) for its list's version, and send the file's list
        when it differs. ``ask`` makes one call and raises the library's OCPPError for a
        CALLERROR (``Point.ask`` with ``suppress=False``: counted for the metrics)."""
        if self.path is None:
            return
        try:
            wanted = read(self.path)
        except LocalListError as exc:
            self.say(f"local authorization list not sent: {exc}")
            return
        if wanted is None:  # no file: the chargers' lists are the vendor's business
            return
        request = version_request(version)
        try:
            answer = await ask(request)
            have = getattr(answer, "list_version", getattr(answer, "version_number", None))
            if have == -1:  # OCPP 1.6 §6.32: the charger supports no local list
                self.say(self._unsupported("GetLocalListVersion answered -1"))
                return
            if have == wanted.version:
                self.say(f"has the local authorization list version {have} already")
                return
            limit = ID_LENGTH[version]
            ids = [i for i in wanted.ids if len(i) <= limit]
            request = list_request(version, wanted, ids)
            answer = await ask(request)
        except OCPPError as exc:
            code = str(getattr(exc, "code", "") or type(exc).__name__)
            action = type(request).__name__
            if code in NOT_SUPPORTED:
                self.say(self._unsupported(f"{action} answered the CALLERROR {code}"))
            else:
                self.say(
                    f"local authorization list not sent: {action} answered the CALLERROR "
                    f"{code} ({exc.description})"
                )
            return
        except TimeoutError:
            self.say(
                f"local authorization list not sent: no answer to {type(request).__name__} "
                "(tried again at the charger's next boot)"
            )
            return
        except ConnectionClosed:
            return  # the connection's end is said when the point detaches
        status = str(getattr(answer.status, "value", answer.status))
        self.say(self._sent(status, wanted, len(ids), len(wanted.ids) - len(ids), limit, version))

    @staticmethod
    def _unsupported(why: str) -> str:
        return (
            f"keeps no local authorization list ({why}): alone, it authorizes only the ids "
            "of its own cache, if any"
        )

    def _sent(
        self, status: str, wanted: LocalList, sent: int, left_out: int, limit: int, version: str
    ) -> str:
        what = f"local authorization list version {wanted.version} ({sent} ids)"
        if left_out:
            what += (
                f"; {left_out} longer than {limit} characters left out (OCPP {version} holds "
                f"no longer id)"
            )
        if status == "Accepted":
            return f"sent the {what}: Accepted"
        if status == "NotSupported":
            return self._unsupported("SendLocalList answered NotSupported")
        room = "SendLocalListMaxLength" if version == "1.6" else "LocalAuthListCtrlr.Entries"
        why = {
            "Failed": f"it could not store it: is the list longer than its {room}?",
            "VersionMismatch": "it expected another version",
        }.get(status, "")
        return f"the charger refused the {what}: {status}" + (f" ({why})" if why else "")
