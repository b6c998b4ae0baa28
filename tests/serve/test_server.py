"""harness.serve.server: the loopback server the migration demo serves an adapter with (and the fakes
run on), checked through the openai SDK and raw sockets."""

from __future__ import annotations

import json
import socket

import openai
import pytest
from openai import OpenAI

from harness.serve.server import ChatServer

pytestmark = pytest.mark.timeout(30)


def test_chat_and_models_through_the_sdk_and_errors_as_statuses() -> None:
    seen = []

    def answer(body: dict) -> dict:
        seen.append(body)
        if body["messages"][-1]["content"] == "boom":
            raise RuntimeError("the model fell over")
        return {"content": body["messages"][-1]["content"].upper(), "finish_reason": "stop",
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

    with ChatServer(answer, models=[{"id": "served", "shutdown_date": "2027-01-14"}]) as srv:
        client = OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="served", messages=[{"role": "user", "content": "hi"}])
        assert (reply.choices[0].message.content, reply.model, reply.usage.total_tokens) == ("HI", "served", 2)
        (m,) = client.models.list().data
        assert (m.id, m.owned_by, m.shutdown_date) == ("served", "local", "2027-01-14")
        with pytest.raises(openai.InternalServerError, match="RuntimeError: the model fell over"):
            client.chat.completions.create(model="served", messages=[{"role": "user", "content": "boom"}])
        with pytest.raises(openai.BadRequestError, match="'messages' list"):
            client.post("/chat/completions", body={"model": "served"}, cast_to=object)
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="served", input="x")
        assert len(seen) == 2


def _read_response(s: socket.socket) -> tuple[bytes, bytes, bytes]:
    """One HTTP response off a raw socket: the head may arrive before the body (two writes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, sep, rest = data.partition(b"\r\n\r\n")
    length = next(int(v) for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
                  if k.strip().lower() == b"content-length")
    while len(rest) < length:
        rest += s.recv(65536)
    return head, sep, rest


def test_a_chunked_body_is_read_and_stop_closes_open_connections() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": "chunked"}]}).encode()
    srv = ChatServer(lambda b: {"content": b["messages"][0]["content"]}, models=[]).start()
    with socket.create_connection((srv.host, srv.port), timeout=5) as s:
        half = len(body) // 2
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
                  + b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (half, body[:half], len(body) - half, body[half:]))
        head, _, rest = _read_response(s)
        assert head.startswith(b"HTTP/1.1 200") and json.loads(rest)["choices"][0]["message"]["content"] == "chunked"
        assert srv.connections == 1
        srv.stop()  # the kept-alive connection is closed too: the client reads the end of the stream
        assert s.recv(100) == b""
