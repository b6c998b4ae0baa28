"""The ``local`` provider: an in-process transformers causal LM, fed batches by the engine.

``local`` or ``local:smollm2`` is SmolLM2-135M-Instruct (float32); ``local:PATH`` a Hugging Face
model folder; ``?adapter=FOLDER`` adds a LoRA adapter (a fine-tuned candidate). Loading and model
resolution live in :mod:`harness.local.models`, shared with training and metrics.

Decoding follows the suite's settings: temperature 0 is greedy; otherwise sampling with top_p
(no top-k), seeded with ``settings.seed`` per batch, so a sampled answer depends on the batch it
was generated in. Stop strings cut the text at the first one and end that sequence's generation.
``output_tokens`` counts the generated tokens before end-of-sequence (stop-string tokens included,
EOS and padding not). Log-probabilities are those of the model's own distribution (log-softmax of
the raw logits, before temperature or top_p); asking for them keeps each step's logits, about
batch x steps x 200 KB for SmolLM2. A plain-text prompt (``prompt.text``) is tokenised as is, without
the chat template; log-likelihood requests are scored as lm-eval's HFLM scores them
(:mod:`harness.local.loglik`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from harness.core.errors import HarnessError
from harness.core.hashing import canonical_json, hash_path
from harness.core.types import Request, Response
from harness.local import decode
from harness.local import models as lm
from harness.providers.base import ModelSpec, Provider, ProviderParams, provider


class LocalParams(ProviderParams):
    """The local provider's own keys (``local:NAME?adapter=DIR&device=cpu``)."""

    adapter: str | None = Field(None, description="LoRA adapter folder: a fine-tuned candidate.")
    device: str = Field("auto", description="cpu, cuda, or auto.")


@provider("local")
class LocalProvider(Provider):
    Params = LocalParams
    params: LocalParams
    kinds = frozenset({"generate", "text", "multiple_choice", "rolling"})
    # Generation batches of 32 unless the spec says otherwise: with the shared prefix prefilled once a
    # batch costs mostly decode steps, cheaper per row in larger batches (64 of support_intent's test
    # prompts, 12 tokens, 2-core VM, 2026-12-03: 23.3 / 15.9 / 12.8 / 13.1 s at batch 8 / 16 / 32 / 64).
    default_batch_size = 32

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        # Cheap checks now (no torch import) so a wrong path fails before any work is done.
        self.folder, self.gguf = lm.resolve_local_model(spec.name)
        self.adapter = lm.check_adapter(self.params.adapter) if self.params.adapter else None
        lm.check_device(self.params.device)
        self._fingerprint: dict[str, Any] | None = None
        self._prefix_hint: dict[str, int] = {}  # per decoding setting: the prefix every prompt of the run shares

    # ------------------------------------------------------------ model and identity

    def load(self):
        """``(model, tokenizer)``, shared through the per-process cache."""
        return lm.load_model_and_tokenizer(self.spec.name, self.params.adapter, self.params.device)

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = {
                "provider": "local",
                "name": lm.display_name(self.spec.name),
                "weights_sha256": lm.cached_sha256(lm.weights_path(self.spec.name)),
                "adapter_sha256": hash_path(self.adapter) if self.adapter else None,
                "dtype": "float32",
            }
        return self._fingerprint

    # ------------------------------------------------------------ generation

    def batch_order(self, requests: Sequence[Request]) -> list[int]:
        """Requests of one decoding setting together, longest prompt first (less padding, and a
        batch's first forward pass is its largest), as lm-eval orders them; remembers, per setting,
        the token prefix all of them share, so every batch reuses one prefilled prefix."""
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(_setting_key(r), []).append(i)
        order: list[int] = []
        for key, idxs in groups.items():
            if requests[idxs[0]].loglik is not None:  # scored in harness.local.loglik's own order
                order += idxs
                continue
            _, tok = self.load()
            prompts = [r.prompt if r.prompt is not None else lm.chat_prompt(tok, r.messages)
                       for r in (requests[i] for i in idxs)]
            ids = tok(prompts, add_special_tokens=False)["input_ids"]
            self._prefix_hint[key] = decode.common_prefix(ids)
            order += [idxs[j] for j in sorted(range(len(idxs)), key=lambda j: -len(ids[j]))]
        return order

    def generate_batch(self, requests: Sequence[Request]) -> list[Response]:
        out: list[Response | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):  # one decoding call per distinct decoding setting (or scoring kind)
            groups.setdefault(_setting_key(r), []).append(i)
        for idxs in groups.values():
            try:
                batch = [requests[i] for i in idxs]
                results = self._loglik(batch) if batch[0].loglik is not None else self._generate(batch)
            except HarnessError:
                raise
            except Exception as e:  # e.g. out of memory: fail these requests, not the whole run
                msg = f"local {'scoring' if batch[0].loglik is not None else 'generation'} failed: {type(e).__name__}: {e}"
                results = [Response(text=None, error=msg) for _ in idxs]
            for i, res in zip(idxs, results):
                out[i] = res
        return out  # type: ignore[return-value]

    def _generate(self, requests: list[Request]) -> list[Response]:
        lm.setup_torch()
        model, tok = self.load()
        s = requests[0].settings
        prompts = [r.prompt if r.prompt is not None else lm.chat_prompt(tok, r.messages) for r in requests]
        ids = tok(prompts, add_special_tokens=False)["input_ids"]
        eos = _eos_ids(model, tok)
        if s.temperature == 0 and decode.supported(model):  # greedy: the shared prefix once, finished rows dropped
            rows = decode.greedy(model, tok, ids, s.max_tokens, eos, s.stop,
                                 top_logprobs=(s.top_logprobs or 0) if s.logprobs else None,
                                 prefix_hint=self._prefix_hint.get(_setting_key(requests[0])))
        else:
            rows = self._sample(model, tok, prompts, s, eos)
        names: dict[int, str] = {}

        def name(i: int) -> str:
            if i not in names:
                names[i] = tok.decode([i])
            return names[i]

        responses = []
        for r, row in enumerate(rows):
            text = tok.decode(row.ids, skip_special_tokens=True)
            cut = min((i for i in (text.find(x) for x in s.stop) if i >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
            logprobs = None
            if row.logprobs is not None:
                logprobs = [{"token": name(t), "logprob": float(lp),
                             "top": [{"token": name(int(i)), "logprob": float(v)} for i, v in top]}
                            for t, (lp, top) in zip(row.ids, row.logprobs)]
            responses.append(Response(
                text=text,
                input_tokens=len(ids[r]),
                output_tokens=len(row.ids),
                finish_reason="stop" if (row.stopped or cut >= 0) else "length",
                logprobs=logprobs,
            ))
        return responses

    def _sample(self, model, tok, prompts: list[str], s, eos: list[int]) -> list[decode.Decoded]:
        """Sampled decoding through ``model.generate`` (seeded per batch)."""
        torch = lm.setup_torch()
        device = next(model.parameters()).device
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        prompt_len = enc["input_ids"].shape[1]
        pad = tok.pad_token_id
        kwargs: dict[str, Any] = dict(
            max_new_tokens=s.max_tokens, num_beams=1, repetition_penalty=1.0, pad_token_id=pad, eos_token_id=eos,
            return_dict_in_generate=True, output_logits=bool(s.logprobs),
            do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=0,
        )
        if s.stop:
            kwargs["stopping_criteria"] = _stop_criteria(tok, s.stop, prompt_len)
        with lm.inference_lock, torch.inference_mode():
            if s.seed is not None:
                torch.manual_seed(s.seed)
            out = model.generate(**enc, **kwargs)
        gen = out.sequences[:, prompt_len:].cpu()
        ends = set(eos) | ({pad} if pad is not None else set())
        rows = []
        for r, row in enumerate(gen.tolist()):
            n = next((j for j, t in enumerate(row) if t in ends), len(row))
            lps = None
            if s.logprobs:
                lps = []
                for t in range(min(n, len(out.logits))):
                    lp = torch.log_softmax(out.logits[t][r].float(), dim=-1)
                    v, i = lp.topk(s.top_logprobs, dim=-1) if s.top_logprobs else (lp[:0], lp[:0].long())
                    lps.append((float(lp[row[t]]), list(zip(i.tolist(), v.tolist()))))
            rows.append(decode.Decoded(row[:n], n < len(row), lps))
        return rows

    # ------------------------------------------------------------ scoring

    def _loglik(self, requests: list[Request]) -> list[Response]:
        """Log-likelihood requests (harness.local.loglik: lm-eval's numbers); ``text`` is the most
        likely choice (multiple choice) or empty (rolling)."""
        from harness.local import loglik

        model, tok = self.load()
        if requests[0].kind == "rolling":  # one kind per call (generate_batch groups them)
            out = []
            for r in requests:
                entry = loglik.score_rolling(model, tok, r.loglik.text)  # type: ignore[union-attr]
                out.append(Response(text="", input_tokens=entry["tokens"], output_tokens=0, finish_reason="loglik",
                                    loglik=[entry]))
            return out
        contexts = [lm.chat_prompt(tok, [("user", r.loglik.context)]) if r.loglik.chat_template else r.loglik.context  # type: ignore[union-attr]
                    for r in requests]
        scored = loglik.score_many(model, tok, [(c, r.loglik.continuations) for c, r in zip(contexts, requests)],  # type: ignore[union-attr]
                                   rows=4 * self.spec.batch_size)
        out = []
        for r, context, entries in zip(requests, contexts, scored, strict=True):
            conts = r.loglik.continuations  # type: ignore[union-attr]
            best = max(range(len(entries)), key=lambda i: entries[i]["logprob"])
            n_in = len(loglik.encode(tok, context)) + sum(e["tokens"] for e in entries)
            out.append(Response(text=conts[best], input_tokens=n_in, output_tokens=0, finish_reason="loglik", loglik=entries))
        return out

    def score_continuations(self, prompts_messages: Sequence, continuations: Sequence[str]) -> list[list[float]]:
        """Per-token log-probs of each continuation after its chat prompt (see harness.local.models)."""
        model, tok = self.load()
        return lm.score_continuations(model, tok, prompts_messages, continuations, batch_size=self.spec.batch_size)


def _setting_key(r: Request) -> str:
    return r.kind if r.loglik is not None else canonical_json(r.settings.model_dump(mode="json"))


def _eos_ids(model, tok) -> list[int]:
    ids: list[int] = []
    cfg = getattr(model, "generation_config", None)
    for v in (getattr(cfg, "eos_token_id", None), tok.eos_token_id):
        for i in v if isinstance(v, (list, tuple)) else [v]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    return ids


def _stop_criteria(tok, stops: list[str], prompt_len: int):
    """Ends a sequence once its generated text contains a stop string (EOS is handled by
    transformers); generation ends when every sequence has ended."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    # A stop string of L characters spans at most 4L byte-level tokens; decode only that tail.
    window = 4 * max(len(x) for x in stops) + 4

    class StopStrings(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            tails = input_ids[:, max(prompt_len, input_ids.shape[1] - window):].tolist()
            texts = tok.batch_decode(tails, skip_special_tokens=True)
            return torch.tensor([any(x in t for x in stops) for t in texts], dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopStrings()])
