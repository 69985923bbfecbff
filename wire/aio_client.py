"""The monitor's side of the framed-TCP session (PROTOCOL.md §1) on asyncio.

``wire.tcp_client.CentralClient`` blocks a thread per session; a process that is the monitor
of many CPs at once (the OCPP gateway) holds one session per CP on one event loop instead.
Same rules as the blocking client, in the same code (``wire.tcp_exchange``), on the same byte
layer (``wire.framing``) and messages (``wire.tcp_messages``): ENQ → ACK opens the session; a
request frame is resent only after a NACK (3 attempts in all); a response is ACKed, a bad one
NACKed; every wait has a deadline;
every socket or TLS error becomes a ``SessionError`` and closes the client, because the
session state is then unknown. TLS session resumption is not done here (each reconnection
is a full handshake; a gateway reconnects rarely).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

from wire.errors import (
    CentralMoved,
    ConnectionLost,
    ResponseTimeout,
    SessionError,
)
from wire.framing import Event, encode_frame
from wire.session import ENQ, EOT, READ_SIZE
from wire.tcp_client import SILENCE_STEP
from wire.tcp_exchange import ClientBase, RequestExchange, handshake, tls_failure
from wire.tcp_messages import RESPONSES, Request, Response


class AsyncCentralClient(ClientBase):
    """One framed-TCP session with Central; requests are serialised by a lock."""

    def __init__(self, host: str, port: int, **options: Any) -> None:
        """``options``: ``ClientBase``'s (``connect_timeout``, ``response_timeout``, ``ssl``,
        ``server_hostname``)."""
        super().__init__(host, port, **options)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def connect(self) -> None:
        """Open TCP (and TLS), then ENQ → ACK."""
        await self.close()
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.server_hostname if self.ssl else None,
                )
        except ssl.SSLError as exc:
            raise tls_failure(exc, where) from exc
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot connect to Central at {where}: {exc}") from exc
        self._new_stream()
        try:
            await self._send(ENQ)
            deadline = self._deadline()
            while not handshake(await self._next_event(deadline, "the answer to ENQ")):
                pass
        except SessionError:
            self._drop()
            raise

    async def request(
        self, message: Request, *, on_silence: Callable[[float], Awaitable[bool]] | None = None
    ) -> Response:
        """Send one request, return Central's response (see ``CentralClient.request``).
        ``on_silence(seconds)`` is awaited about once a second while the answer is late; True
        abandons the exchange with ``CentralMoved`` (the other Central of a pair took over)."""
        exchange = RequestExchange(encode_frame(message.to_bytes()))
        async with self._lock:
            if self._writer is None:
                raise ConnectionLost("not connected")
            try:
                await self._send(exchange.frame)
                deadline = self._deadline()
                while True:
                    event = await self._next_event(deadline, exchange.waiting_for, on_silence)
                    step = exchange.feed(event)
                    if step.send:
                        await self._send(step.send)
                    if step.error is not None:
                        raise step.error
                    if step.resent:
                        deadline = self._deadline()
                    if step.response is not None:
                        return RESPONSES.parse(step.response)  # type: ignore[return-value]
            except SessionError:
                self._drop()
                raise

    async def close(self) -> None:
        """Send EOT and close; never raises."""
        writer = self._writer
        if writer is None:
            return
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            writer.write(EOT)
            async with asyncio.timeout(0.5):
                await writer.drain()
        self._drop()
        with contextlib.suppress(OSError, RuntimeError, TimeoutError):
            async with asyncio.timeout(0.5):
                await writer.wait_closed()

    # -- internals --------------------------------------------------------------------

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.response_timeout

    async def _next_event(
        self,
        deadline: float,
        what: str,
        on_silence: Callable[[float], Awaitable[bool]] | None = None,
    ) -> Event:
        reader = self._reader
        if reader is None:
            raise ConnectionLost("not connected")
        loop = asyncio.get_running_loop()
        began = deadline - self.response_timeout
        while not self._events:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise self._late(what)
            wait = remaining if on_silence is None else min(remaining, SILENCE_STEP)
            try:
                async with asyncio.timeout(wait):
                    chunk = await reader.read(READ_SIZE)
            except TimeoutError as exc:
                if on_silence is not None and wait < remaining:
                    if await on_silence(loop.time() - began):
                        raise CentralMoved(
                            f"Central was silent for {loop.time() - began:.1f} s and the "
                            "other Central of the pair took over"
                        ) from None
                    continue
                raise self._late(what) from exc
            except OSError as exc:
                raise ConnectionLost(f"connection to Central failed: {exc}") from exc
            self._received(chunk)
        return self._events.popleft()

    async def _send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None:
            raise ConnectionLost("not connected")
        try:
            writer.write(data)
            async with asyncio.timeout(self.response_timeout):
                await writer.drain()
        except TimeoutError as exc:
            raise ResponseTimeout("Central does not read (send timed out)") from exc
        except (OSError, RuntimeError) as exc:
            raise ConnectionLost(f"connection to Central failed: {exc}") from exc

    def _drop(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        self._new_stream()
        if writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
