"""The operator's one-time enrollment token, as EV_CP_M and EV_OCPP send it in REGISTER.

A secured Central gives a credential to an id that has none (a new CP, a seeded one, one
whose credential was reset) only with a token the operator issued for that id, and to a
*revoked* id only with a token issued after the revocation, in every mode (docs/security.md;
``evc-admin cp enroll ID --token-file F``). REGISTER carries it in its trailing ``token``.

- ``EnrollToken``: EV_CP_M's ``--enroll-token TOKEN|@FILE``. A file is read each time a
  REGISTER is about to leave, never cached, so a token file dropped (or replaced) while the
  monitor runs is used at its next attempt, without a restart; a file that is not there
  yet is simply no token.
- ``TokenFolder``: EV_OCPP's ``--enroll-tokens DIR``, one ``<charger id>.token`` per charger,
  read the same way.
- ``refusal``: the one line a monitor shows when Central refuses it for want of a valid
  token or because the operator revoked it, saying what to do; None for other refusals.

A token file holds the token on its first line that is neither blank nor a ``#`` comment
(what ``evc-admin cp enroll --token-file`` writes, mode 0600). No I/O beyond reading it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ENV = "EVC_ENROLL_TOKEN"  # EV_CP_M's fallback for --enroll-token
_FORM = re.compile(r"[A-Za-z0-9_-]{16,200}")  # wire.credentials.new_credential's form
ISSUE = "evc-admin cp enroll {cp_id} --token-file FILE"


class EnrollTokenError(Exception):
    """The token given cannot be used (unreadable file, not a token); the message says why."""


def read_token_file(path: Path) -> str:
    """The token in ``path``; "" when the file does not exist (yet)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise EnrollTokenError(f"Cannot read the enrollment token file {path}: {why}") from None
    text = next((ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")), "")
    if text and not _FORM.fullmatch(text):
        raise EnrollTokenError(
            f"The enrollment token file {path} holds no token (expected what "
            "`evc-admin cp enroll --token-file` writes)"
        )
    return text


@dataclass(frozen=True)
class EnrollToken:
    """``--enroll-token``: the token itself, or ``@FILE`` (``path``); neither: none."""

    text: str = ""
    path: Path | None = None

    @classmethod
    def parse(cls, value: str | None) -> EnrollToken:
        """``TOKEN``, ``@FILE`` or empty; ValueError (for argparse) on a malformed token."""
        value = (value or "").strip()
        if value.startswith("@"):
            if len(value) == 1:
                raise ValueError("expected @FILE, got '@'")
            return cls(path=Path(value[1:]).expanduser())
        if value and not _FORM.fullmatch(value):
            raise ValueError("not an enrollment token (expected what `evc-admin cp enroll` prints)")
        return cls(text=value)

    @property
    def given(self) -> bool:
        return bool(self.text or self.path)

    def read(self) -> str:
        """The token to send now ("" for none); EnrollTokenError when the file is unusable."""
        return self.text if self.path is None else read_token_file(self.path)

    def how_to_give(self) -> str:
        """How the token reaches this monitor, as advice."""
        if self.path is not None:
            return f"put it in {self.path} (read at every attempt: no restart needed)"
        if self.text:
            return "restart the monitor with --enroll-token @FILE"
        return f"start the monitor with --enroll-token @FILE (or ${ENV})"


@dataclass(frozen=True)
class TokenFolder:
    """``--enroll-tokens DIR`` of a gateway: ``<cp_id>.token`` per charger."""

    directory: Path

    def path(self, cp_id: str) -> Path:
        return self.directory / f"{cp_id}.token"

    def token(self, cp_id: str) -> EnrollToken:
        return EnrollToken(path=self.path(cp_id))


def refusal(cp_id: str, reason: str, token: EnrollToken, *, sent: bool) -> str | None:
    """The line to show for Central's REJECTED ``reason`` when it is about enrollment or a
    revocation (the operator must act); None for any other reason. ``sent``: this REGISTER
    carried a token."""
    issue = ISSUE.format(cp_id=cp_id)
    give = token.how_to_give()
    if "revoked" in reason:
        return (
            f"Central refuses {cp_id}: revoked by the operator; it stays out until the operator "
            f"re-admits it. Ask the operator for a new enrollment token ({issue}) and {give}; "
            "retrying"
        )
    if "enrollment token" not in reason:
        return None
    if sent and ("not valid" in reason or "unknown" in reason):
        return (
            f"Central refuses {cp_id}: its enrollment token is not valid (unknown, already used "
            f"or expired). Ask the operator for a new one ({issue}) and {give}; retrying"
        )
    return (
        f"Central refuses {cp_id}: a CP without a credential joins only with the operator's "
        f"one-time enrollment token. Ask the operator for one ({issue}) and {give}; retrying"
    )
