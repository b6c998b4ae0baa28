"""StreamsTransport, the openai provider's HTTP/1.1 transport for http:// endpoints, against raw
loopback servers that answer in the shapes FakeOpenAI does not: chunked bodies, bodies that end
with the connection, and keep-alive connections the server closes while idle."""

from __future__ import annotations

import asyncio
import json

import httpx2
import pytest

from harness.providers._http import StreamsTransport

pytestmark = pytest.mark.timeout(60)

BODY = json.dumps({"ok": True}).encode()


async def serve(reply, *, close_after: bool):
    """A server that answers every request with ``reply`` (bytes) and counts connections."""
    state = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length")), 0)
                await reader.readexactly(length)
                state["requests"] += 1
                writer.write(reply)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/x", state


async def two_posts(reply: bytes, close_after: bool) -> tuple[list[httpx2.Response], dict]:
    server, url, state = await serve(reply, close_after=close_after)
    async with server, httpx2.AsyncClient(transport=StreamsTransport()) as client:
        out = []
        for _ in range(2):
            out.append(await client.post(url, json={"a": 1}))
            await asyncio.sleep(0.05)  # let a closing server's FIN arrive before the reuse
        return out, state


def test_chunked_body_and_keep_alive() -> None:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (BODY[:5], BODY[5:])) + b"0\r\n\r\n"
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n" + chunks
    out, state = asyncio.run(two_posts(reply, close_after=False))
    assert [r.json() for r in out] == [{"ok": True}] * 2
    assert state["connections"] == 1 and state["requests"] == 2


def test_body_to_end_of_connection() -> None:
    reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n" + BODY
    out, state = asyncio.run(two_posts(reply, close_after=True))
    assert [r.json() for r in out] == [{"ok": True}] * 2 and state["connections"] == 2


def test_idle_connection_closed_by_server_is_replaced() -> None:
    # claims keep-alive, then closes: the reuse fails before any reply and is sent again once
    reply = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)
    out, state = asyncio.run(two_posts(reply, close_after=True))
    assert [r.status_code for r in out] == [200, 200] and state["requests"] == 2 and state["connections"] == 2


def test_errors_are_httpx_errors() -> None:
    async def go() -> None:
        async with httpx2.AsyncClient(transport=StreamsTransport()) as client:
            server, url, _ = await serve(b"", close_after=False)  # never answers
            async with server:
                with pytest.raises(httpx2.ReadTimeout):
                    await client.post(url, json={}, timeout=httpx2.Timeout(0.2))
            with pytest.raises(httpx2.ConnectError):
                await client.post(url, json={})
            with pytest.raises(httpx2.UnsupportedProtocol):
                await client.post("https://127.0.0.1:1/v1", json={})

    asyncio.run(go())
