"""A small HTTP/1.1 keep-alive transport for the openai SDK, for plain ``http://`` endpoints.

Why: at 64 requests in flight, httpx2's default transport (httpcore2 over anyio) spent about
3 ms of CPU per request here, twice the SDK's own work, mostly in the connection pool's
bookkeeping; this transport does the same exchange over asyncio streams for a fraction of that.
It is used for ``http://`` base URLs only (self-hosted servers: vLLM, llama.cpp, the fake server);
``https://`` (api.openai.com) keeps the SDK's own transport, with TLS, HTTP/2 and proxies.

It speaks what OpenAI-compatible servers answer: Content-Length or chunked bodies, keep-alive
or close, no content-encoding (it asks for ``identity``). Errors are httpx2's, so the SDK maps
them as usual: connect/read timeouts to ``APITimeoutError``, the rest to ``APIConnectionError``.
A request that fails on a reused idle connection before any byte came back is sent once more
on a fresh one (the server may have closed it meanwhile).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(Exception):
    """A reused connection failed before the reply began."""


class StreamsTransport(httpx2.AsyncBaseTransport):
    def __init__(self, max_idle: int = 1024):
        self.max_idle = max_idle
        self._idle: dict[tuple[str, int], list[Conn]] = {}

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme != "http":
            raise httpx2.UnsupportedProtocol(f"StreamsTransport serves http:// only, not {request.url.scheme}://")
        key = (request.url.host, request.url.port or 80)
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        data = _head(request) + await request.aread()
        idle = self._idle.get(key)
        if idle:
            try:
                return await self._exchange(request, key, idle.pop(), data, timeouts, reused=True)
            except _Stale:
                pass
        return await self._exchange(request, key, await _connect(key, timeouts.get("connect")), data, timeouts, reused=False)

    async def _exchange(self, request: httpx2.Request, key: tuple[str, int], conn: Conn, data: bytes,
                        timeouts: dict[str, Any], reused: bool) -> httpx2.Response:
        reader, writer = conn
        started = False
        read_timeout = timeouts.get("read")
        try:
            writer.write(data)
            async with asyncio.timeout(read_timeout):  # one deadline for the whole reply
                line = await reader.readline()
                if not line:
                    raise ConnectionResetError("server closed the connection")
                started = True
                status, headers, keep = await _read_head(line, reader)
                body, keep = await _read_body(reader, status, headers, keep)
        except BaseException as e:
            writer.close()
            if isinstance(e, TimeoutError):
                raise httpx2.ReadTimeout(f"no reply within {read_timeout} s", request=request) from e
            if isinstance(e, (OSError, asyncio.IncompleteReadError, ValueError)):
                if reused and not started:
                    raise _Stale() from e
                raise httpx2.ReadError(f"{type(e).__name__}: {e}", request=request) from e
            raise
        if keep and len(self._idle.setdefault(key, [])) < self.max_idle:
            self._idle[key].append(conn)
        else:
            writer.close()
        return httpx2.Response(status, headers=headers, content=body, request=request,
                               extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        pools, self._idle = self._idle, {}
        for conns in pools.values():
            for _, writer in conns:
                writer.close()


def _head(request: httpx2.Request) -> bytes:
    url = request.url
    target = url.raw_path or b"/"
    lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
    for k, v in request.headers.raw:
        if k.lower() != b"accept-encoding":
            lines.append(k + b": " + v)
    lines.append(b"accept-encoding: identity")
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def _connect(key: tuple[str, int], timeout: float | None) -> Conn:
    try:
        return await asyncio.wait_for(asyncio.open_connection(*key, limit=1 << 22), timeout)
    except TimeoutError as e:
        raise httpx2.ConnectTimeout(f"no connection to {key[0]}:{key[1]} within {timeout} s") from e
    except OSError as e:
        raise httpx2.ConnectError(f"{key[0]}:{key[1]}: {e.strerror or e}") from e


async def _read_head(status_line: bytes, reader: asyncio.StreamReader) -> tuple[int, list[tuple[bytes, bytes]], bool]:
    version, _, rest = status_line.partition(b" ")
    status = int(rest[:3])
    headers: list[tuple[bytes, bytes]] = []
    connection = b""
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ConnectionResetError("connection closed in the reply's headers")
        k, _, v = line.partition(b":")
        k, v = k.strip(), v.strip()
        headers.append((k, v))
        if k.lower() == b"connection":
            connection = v.lower()
    keep = connection != b"close" if version == b"HTTP/1.1" else connection == b"keep-alive"
    return status, headers, keep


async def _read_body(reader: asyncio.StreamReader, status: int, headers: list[tuple[bytes, bytes]],
                     keep: bool) -> tuple[bytes, bool]:
    """The body, and whether the connection can be used again."""
    fields = {k.lower(): v for k, v in headers}
    if b"content-length" in fields:
        return await reader.readexactly(int(fields[b"content-length"])), keep
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await reader.readline()).split(b";", 1)[0], 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):  # trailers
                    pass
                return b"".join(parts), keep
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if status in (204, 304) or status < 200:
        return b"", keep
    return await reader.read(), False  # no length: the body runs to the end of the connection
