"""Serve a local model (with a LoRA adapter) as an OpenAI-compatible endpoint on loopback.

llama.cpp's server cannot load a peft adapter, so this fronts harness's own ``local`` provider
with a minimal HTTP server (:mod:`harness.serve.server`): ``POST /v1/chat/completions`` runs the model in-process and
``GET /v1/models`` lists the served name (with a ``shutdown_date`` when given, as OpenAI lists a
retiring model). The migration walkthrough uses it to let a fine-tuned adapter play a hosted
fine-tune that is being retired, reached through the ``openai`` provider as a real one would be.

Requests are answered one at a time (a lock around the model): give the client
``concurrency=1``. Loopback only::

    python -m harness.serve.local --model 'local?adapter=reports/.../adapter' --port 8765 \\
        --served-name ft:gpt-4o-mini-2024-07-18:acme:support:demo --shutdown-date 2027-01-14
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

from harness.core.settings import GenerationSettings
from harness.core.types import Request
from harness.providers.base import ModelSpec, build_provider
from harness.serve.server import ChatServer


def settings_from_body(body: dict[str, Any]) -> GenerationSettings:
    stop = body.get("stop") or []
    return GenerationSettings(max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 256),
                              temperature=float(body.get("temperature") or 0.0), top_p=float(body.get("top_p") or 1.0),
                              stop=[stop] if isinstance(stop, str) else list(stop), seed=body.get("seed", 0))


def local_answer(spec: ModelSpec) -> Any:
    """The fake server's ``answer`` function: the local model's reply to the request's messages."""
    provider = build_provider(spec)
    if hasattr(provider, "load"):
        provider.load()  # now, before the port opens: a first request must not wait out the load and time out

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        msgs = tuple((m["role"], m["content"]) for m in body["messages"])
        resp = provider.generate_batch([Request(msgs, settings_from_body(body), "")])[0]
        if resp.error:
            raise RuntimeError(resp.error)
        out: dict[str, Any] = {"content": resp.text or "", "finish_reason": resp.finish_reason or "stop"}
        if resp.input_tokens is not None and resp.output_tokens is not None:
            out["usage"] = {"prompt_tokens": resp.input_tokens, "completion_tokens": resp.output_tokens,
                            "total_tokens": resp.input_tokens + resp.output_tokens}
        return out

    return answer


def make_server(spec: ModelSpec, served_name: str, port: int = 0, shutdown_date: str | None = None,
                base_name: str | None = None) -> ChatServer:
    models: list[dict[str, Any]] = [{"id": served_name, "owned_by": "local"}]
    if base_name:
        models.append({"id": base_name, "owned_by": "system"} | ({"shutdown_date": shutdown_date} if shutdown_date else {}))
    elif shutdown_date:
        models[0]["shutdown_date"] = shutdown_date
    return ChatServer(local_answer(spec), models=models, port=port)


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m harness.serve.local", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="local", help="a local model spec, e.g. 'local?adapter=DIR'")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--served-name", default="local-model", help="the model id clients ask for")
    ap.add_argument("--base-name", help="also list this base model (a fine-tune's base: its shutdown date applies)")
    ap.add_argument("--shutdown-date", help="YYYY-MM-DD listed for the base (or the served model) in /v1/models")
    a = ap.parse_args(list(argv) if argv is not None else None)
    srv = make_server(ModelSpec.parse(a.model), a.served_name, a.port, a.shutdown_date, a.base_name)
    print(f"serving {a.model} as {a.served_name} on {srv.url}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
