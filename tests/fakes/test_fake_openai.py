"""FakeOpenAI itself: what tests and benchmarks rely on (faults in order, records, counters)."""

from __future__ import annotations

import json
import socket
import urllib.request

import pytest

from fakes.fake_openai import FakeOpenAI

pytestmark = pytest.mark.timeout(30)


def post(url: str, body: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.load(e)


def test_faults_apply_in_order_then_normal_replies() -> None:
    msgs = {"model": "m", "messages": [{"role": "user", "content": "hi there"}], "max_tokens": 1}
    with FakeOpenAI(answer=lambda body: "two words") as srv:
        srv.script({"status": 429, "retry_after": "2"}, {"answer": "scripted"})
        status, headers, body = post(srv.url, msgs)
        assert status == 429 and headers["retry-after"] == "2" and body["error"]["type"] == "rate_limit_exceeded"
        assert post(srv.url, msgs)[2]["choices"][0]["message"]["content"] == "scripted"
        status, _, body = post(srv.url, msgs)  # max_tokens 1 cuts "two words"
        assert body["choices"][0]["message"]["content"] == "two" and body["choices"][0]["finish_reason"] == "length"
        assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
        assert [r.status for r in srv.chat_requests()] == [429, 200, 200] and srv.count == 3
        srv.reset()
        assert srv.count == 0 and srv.requests == [] and srv.connections == 0
        with pytest.raises(ValueError, match="unknown fault keys"):
            srv.script({"stauts": 500})


def test_expect_100_continue_is_answered() -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 2000}]}).encode()
    with FakeOpenAI() as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                  b"expect: 100-continue\r\ncontent-length: %d\r\n\r\n" % len(body))
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
