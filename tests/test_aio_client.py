"""``wire.aio_client.AsyncCentralClient`` against a scripted peer on a real socket: the same
rules as the blocking client (``wire.tcp_exchange``), on asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from wire.aio_client import AsyncCentralClient
from wire.errors import ConnectionLost, HandshakeRefused, ResponseTimeout, TooManyAttempts
from wire.framing import Control, Frame, FrameDecoder, encode_frame
from wire.tcp_messages import Alive, EngineHealth, Heartbeat

ACK, NACK, EOT = bytes([Control.ACK]), bytes([Control.NACK]), bytes([Control.EOT])
Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def frames(reader: asyncio.StreamReader, decoder: FrameDecoder) -> list[object]:
    return decoder.feed(await reader.read(4096))


async def with_peer(script: Script, test: Callable[[AsyncCentralClient], Awaitable[None]]) -> None:
    server = await asyncio.start_server(script, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = AsyncCentralClient("127.0.0.1", port, response_timeout=0.5, connect_timeout=1)
    try:
        await test(client)
    finally:
        await client.close()
        server.close()


def beat() -> Heartbeat:
    return Heartbeat(cp_id="CP-1", engine=EngineHealth.OK)


def test_a_nacked_request_is_resent_and_the_response_acked() -> None:
    seen: list[object] = []

    async def central(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        assert await reader.read(1) == bytes([Control.ENQ])
        writer.write(ACK)
        for answer in (NACK, ACK):
            while not (events := await frames(reader, decoder)):
                pass
            seen.extend(events)
            writer.write(answer)
        writer.write(encode_frame(Alive(cp_id="CP-1", admin_state="ACTIVE").to_bytes()))
        seen.append(await reader.read(1))
        writer.write(EOT)

    async def test(client: AsyncCentralClient) -> None:
        await client.connect()
        answer = await client.request(beat())
        assert answer == Alive(cp_id="CP-1", admin_state="ACTIVE")

    asyncio.run(with_peer(central, test))
    assert seen == [Frame(beat().to_bytes())] * 2 + [ACK]


def test_errors_are_session_errors_and_close_the_client() -> None:
    async def refuses(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(NACK)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(ACK)
        await asyncio.sleep(2)

    async def nacks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        writer.write(ACK)
        decoder = FrameDecoder()
        for _ in range(3):
            while not await frames(reader, decoder):
                pass
            writer.write(NACK)
        await asyncio.sleep(1)

    async def refused(client: AsyncCentralClient) -> None:
        with pytest.raises(HandshakeRefused):
            await client.connect()
        assert not client.connected

    async def times_out(client: AsyncCentralClient) -> None:
        await client.connect()
        with pytest.raises(ResponseTimeout):
            await client.request(beat())
        assert not client.connected
        with pytest.raises(ConnectionLost):
            await client.request(beat())

    async def gives_up(client: AsyncCentralClient) -> None:
        await client.connect()
        with pytest.raises(TooManyAttempts):
            await client.request(beat())

    asyncio.run(with_peer(refuses, refused))
    asyncio.run(with_peer(silent, times_out))
    asyncio.run(with_peer(nacks, gives_up))


def test_nobody_listening_is_connection_lost() -> None:
    async def test() -> None:
        with pytest.raises(ConnectionLost):
            await AsyncCentralClient("127.0.0.1", 1, connect_timeout=1).connect()

    asyncio.run(test())
