"""Writes vllm_outputs.json: vLLM output objects for the vllm provider's offline tests, with the
local provider's answers to the same requests beside them.

vLLM cannot run on this repository's CPU-only machines, so the objects are not from a vLLM run:
they are built from SmolLM2-135M-Instruct's float32 logits (the local provider's model, on CPU) in
the exact attribute structure of vllm 0.x (``vllm/outputs.py``, ``vllm/logprobs.py``):

* ``RequestOutput``: request_id, prompt, prompt_token_ids, prompt_logprobs, outputs, finished,
  metrics, lora_request, encoder_prompt, encoder_prompt_token_ids, num_cached_tokens;
* ``CompletionOutput``: index, text, token_ids, cumulative_logprob, logprobs, finish_reason,
  stop_reason, lora_request (and routed_experts, kv_transfer_params in newer releases);
* ``Logprob``: logprob, rank, decoded_token; a position's log-probabilities are
  ``{token_id: Logprob}`` holding the chosen token (with its rank) and the top ``k`` (ranks 1..k),
  the chosen one first; a prompt's first position is None. vLLM keeps the end-of-sequence (or
  stop) token that ended a row in ``token_ids`` with its log-probability; a stop string is cut
  from ``text`` (``stop_reason`` is the string) while its tokens stay.

JSON keys are strings: the test turns a position's keys back into ints, as vLLM has them.

    PYTHONPATH=. .venv/bin/python tests/providers/data/make_vllm_outputs.py
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

SYSTEM = "You are a support triage assistant. Answer with one word: billing, shipping, or account."
PROMPTS = [  # (user message, settings): a stop string, an end-of-sequence, a length cut
    ("My card was charged twice for one order.", {"max_tokens": 20, "stop": ["."], "logprobs": True, "top_logprobs": 2}),
    ("Say hello.", {"max_tokens": 40, "stop": [], "logprobs": True, "top_logprobs": 3}),
    ("Write a long story about a parcel that got lost.", {"max_tokens": 6, "stop": [], "logprobs": True, "top_logprobs": 0}),
]
MC = {"kind": "multiple_choice", "context": "Question: What is the capital of France?\nAnswer:",
      "continuations": [" Paris", " London", " Berlin"]}
MC_GREEDY = {"kind": "multiple_choice", "context": "The capital of France is ", "continuations": ["Paris", "London"]}
MC_EMPTY = {"kind": "multiple_choice", "context": "", "continuations": ["Paris is in France."]}
ROLLING = {"kind": "rolling", "text": "The quick brown fox jumps over the lazy dog."}


def logprob(value: float, rank: int, token: str) -> dict:
    return {"__type__": "Logprob", "logprob": value, "rank": rank, "decoded_token": token}


def position(torch, tok, lp_row, chosen: int, k: int) -> dict:
    """vLLM's ``{token_id: Logprob}`` for one position: the chosen token first, then the top k."""
    rank = int((lp_row > lp_row[chosen]).sum()) + 1
    out = {str(chosen): logprob(float(lp_row[chosen]), rank, tok.decode([chosen]))}
    if k:
        v, ids = lp_row.topk(k)
        for r, (val, i) in enumerate(zip(v.tolist(), ids.tolist()), start=1):
            out[str(i)] = logprob(float(val), r, tok.decode([i]))
    return out


def request_output(rid: str, prompt_ids: list[int], prompt_logprobs, outputs: list[dict]) -> dict:
    return {"__type__": "RequestOutput", "request_id": rid, "prompt": None, "prompt_token_ids": prompt_ids,
            "prompt_logprobs": prompt_logprobs, "outputs": outputs, "finished": True, "metrics": None,
            "lora_request": None, "encoder_prompt": None, "encoder_prompt_token_ids": None, "num_cached_tokens": 0}


def main() -> None:
    import torch

    from harness.core.settings import GenerationSettings
    from harness.core.types import LoglikQuery, Request
    from harness.local import loglik as ll
    from harness.local import models as lm
    from harness.providers.base import ModelSpec, build_provider
    from harness.providers.local import _eos_ids

    prov = build_provider(ModelSpec.parse("local"))
    model, tok = prov.load()
    eos = _eos_ids(model, tok)
    data: dict = {"about": __doc__.split("\n\n")[1].replace("\n", " "), "model": "SmolLM2-135M-Instruct float32",
                  "eos_token_ids": eos, "generate": [], "loglik": []}

    for n, (user, s) in enumerate(PROMPTS):
        settings = GenerationSettings(temperature=0.0, **s)
        req = Request(messages=(("system", SYSTEM), ("user", user)), settings=settings, example_id=f"g{n}")
        expected = prov.generate_batch([req])[0]
        prompt = lm.chat_prompt(tok, req.messages)
        ids = ll.encode(tok, prompt)
        gen: list[int] = []
        positions = []
        stop_reason = None
        finish = "length"
        with torch.inference_mode():
            for _ in range(settings.max_tokens):  # greedy, one token at a time: vLLM's step
                lp = torch.log_softmax(model(input_ids=torch.tensor([ids + gen])).logits[0, -1].float(), dim=-1)
                t = int(lp.argmax())
                gen.append(t)
                positions.append(position(torch, tok, lp, t, settings.top_logprobs))
                if t in eos:
                    finish = "stop"
                    break
                text = tok.decode(gen, skip_special_tokens=True)
                hit = [x for x in settings.stop if x in text]
                if hit:
                    finish, stop_reason = "stop", hit[0]
                    break
        text = tok.decode(gen, skip_special_tokens=True)
        for x in settings.stop:
            if x in text:
                text = text[: text.index(x)]
        completion = {"__type__": "CompletionOutput", "index": 0, "text": text, "token_ids": gen,
                      "cumulative_logprob": sum(p[str(g)]["logprob"] for p, g in zip(positions, gen)),
                      "logprobs": positions, "finish_reason": finish, "stop_reason": stop_reason, "lora_request": None}
        data["generate"].append({"settings": settings.model_dump(mode="json"), "messages": [list(m) for m in req.messages],
                                 "request_output": request_output(f"g{n}", ids, None, [completion]),
                                 "local": {k: getattr(expected, k) for k in ("text", "output_tokens", "finish_reason",
                                                                              "input_tokens", "logprobs")}})

    limit = 2048
    for n, q in enumerate([MC, MC_GREEDY, MC_EMPTY, ROLLING]):
        query = LoglikQuery(kind=q["kind"], context=q.get("context", ""), continuations=tuple(q.get("continuations", ())),
                            text=q.get("text", ""))
        from harness.providers import vllm_mapping as vm

        outs = []
        for s in vm.loglik_inputs(tok, query, limit):
            with torch.inference_mode():
                lp = torch.log_softmax(model(input_ids=torch.tensor([s.ids])).logits[0].float(), dim=-1)
            pl = [None] + [position(torch, tok, lp[i - 1], s.ids[i], 1) for i in range(1, len(s.ids))]
            done = {"__type__": "CompletionOutput", "index": 0, "text": "", "token_ids": [int(lp[-1].argmax())],
                    "cumulative_logprob": None, "logprobs": None, "finish_reason": "length", "stop_reason": None,
                    "lora_request": None}
            outs.append(request_output(f"l{n}-{len(outs)}", s.ids, pl, [done]))
        expected = prov.generate_batch([Request(messages=(("user", "x"),), settings=GenerationSettings(), loglik=query)])[0]
        data["loglik"].append({"query": q, "max_model_len": limit, "request_outputs": outs,
                               "local": {"loglik": expected.loglik, "text": expected.text, "input_tokens": expected.input_tokens}})

    (HERE / "vllm_outputs.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print("wrote", HERE / "vllm_outputs.json")


if __name__ == "__main__":
    main()
