"""The ``#``-separated text shared by the framed-TCP and ZeroMQ channels.

A message is ``OPCODE#field1#…``. Each channel declares one frozen dataclass per opcode with
``OPCODE`` and its fields in wire order; ``MessageCodec`` parses and formats them, so the
splitting, the field checks and the error messages live in one place.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, ClassVar, TypeVar, get_type_hints

from wire.errors import BadField, MessageError, UnknownOpcode

SEPARATOR = "#"

# A plain decimal number as ``repr(float)`` writes it: no spaces, underscores, nan or inf,
# which Python's ``float()`` would otherwise accept.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def check_field(name: str, value: str) -> str:
    if SEPARATOR in value:
        raise BadField(f"field {name!r} may not contain '#'")
    if any(ord(ch) < 0x20 for ch in value):
        raise BadField(f"field {name!r} may not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadField(f"field {name!r} is not encodable as UTF-8") from None
    return value


def error_reason(text: str, limit: int = 200) -> str:
    """Make ``text`` safe as the one reason field of an error reply (``ERROR#reason`` on TCP,
    ``KO#cp_id#reason`` on ZeroMQ): no '#', no control bytes, at most ``limit`` characters."""
    cleaned = "".join(ch if ch >= " " and ch != SEPARATOR else " " for ch in text).strip()
    return cleaned[:limit] or "error"


def _convert(name: str, kind: Any, raw: str) -> Any:
    if kind is str:
        return raw
    if kind is float:
        if not _NUMBER.fullmatch(raw):
            raise BadField(f"field {name!r} must be a number, got {raw[:32]!r}")
        value = float(raw)
        if not math.isfinite(value):
            raise BadField(f"field {name!r} is out of range, got {raw[:32]!r}")
        return value
    if kind == (float | None):
        if raw == "":
            return None
        return _convert(name, float, raw)
    if isinstance(kind, type) and issubclass(kind, str):  # StrEnum
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
            raise BadField(f"field {name!r} must be one of {allowed}, got {raw!r}") from None
    raise TypeError(f"unsupported field type {kind!r}")


def _render(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadField(f"field {name!r} must be a finite number, got {value!r}")
        return repr(value)
    return str(value)


class Message:
    """Base for ``#`` messages: subclasses are frozen dataclasses with an ``OPCODE``."""

    OPCODE: ClassVar[str]

    def to_text(self) -> str:
        parts = [self.OPCODE]
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            text = check_field(field.name, _render(field.name, getattr(self, field.name)))
            if text == "" and not field.metadata.get("optional"):
                # Refuse to send what the peer would refuse to parse.
                raise BadField(f"{self.OPCODE}: field {field.name!r} may not be empty")
            parts.append(text)
        # A trailing extension field left empty is not sent, so version-1 peers see the
        # message exactly as PROTOCOL.md writes it.
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        while (
            len(parts) > 1 and parts[-1] == "" and fields[len(parts) - 2].metadata.get("trailing")
        ):
            parts.pop()
        return SEPARATOR.join(parts)

    def to_bytes(self) -> bytes:
        return self.to_text().encode("utf-8")


M = TypeVar("M", bound=Message)


class MessageCodec:
    """Parses text into the dataclass its opcode names."""

    def __init__(self, *classes: type[Message]) -> None:
        self._by_opcode = {cls.OPCODE: cls for cls in classes}
        self._hints = {cls: get_type_hints(cls) for cls in classes}

    def parse(self, payload: bytes | str) -> Message:
        if isinstance(payload, bytes):
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise MessageError("message is not valid UTF-8") from None
        else:
            text = payload
        opcode, *raw_fields = text.split(SEPARATOR)
        cls = self._by_opcode.get(opcode)
        if cls is None:
            raise UnknownOpcode(f"unknown opcode {opcode[:32]!r}")
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        required = sum(1 for f in fields if not f.metadata.get("trailing"))
        if not required <= len(raw_fields) <= len(fields):
            raise BadField(f"{opcode} takes {len(fields)} fields, got {len(raw_fields)}")
        values = {}
        for field, raw in zip(fields, raw_fields, strict=False):
            check_field(field.name, raw)
            if raw == "" and not field.metadata.get("optional"):
                raise BadField(f"{opcode}: field {field.name!r} may not be empty")
            values[field.name] = _convert(field.name, self._hints[cls][field.name], raw)
        return cls(**values)
