"""The vllm provider on a Ray cluster: Ray Data LLM (``ray.data.llm.build_processor`` with a
``vLLMEngineProcessorConfig``), its rows built from and read back into the harness's requests and
responses by plain functions (no ray import: tested offline).

* :func:`processor_config`: the ``vLLMEngineProcessorConfig`` keyword arguments for a base model and
  the provider's params: the same engine arguments as the in-process engine
  (:func:`~harness.providers.vllm_mapping.engine_kwargs`), replicas (``concurrency``) and rows per
  batch; the chat template, tokenisation and detokenisation stages off (the rows carry the
  harness's own prompt text, so both paths see the same prompt), LoRA on when adapters are named.
* :func:`request_rows`: one row per generation request, one per scored prompt of a log-likelihood
  request. A row holds ``prompt`` (and ``tokenized_prompt``, which Ray versions that take token ids
  read), ``sampling_params`` (every row the same keys: Ray Data unifies the columns of a block, and a
  missing key would arrive as None), ``model`` (the adapter path: Ray Data LLM's dynamic LoRA
  loading gives each adapter its own LoRARequest; the base's ``model_source`` for base rows), and
  ``harness_*`` columns that Ray carries to the postprocess stage (the engine stage consumes
  ``prompt``, ``tokenized_prompt`` and ``sampling_params``).
* :func:`postprocess_row` (the processor's ``postprocess``): one output row (``generated_text``,
  ``generated_tokens``, ``num_input_tokens``, ``prompt_token_ids``, ``logprobs``,
  ``prompt_logprobs``: Ray's ``vLLMOutputData``) -> ``harness_index``, ``harness_part`` and a JSON
  ``harness_result``. Ray's rows have no finish reason: a row that generated fewer than
  ``max_tokens`` tokens, or ended on an end-of-sequence id, stopped; else it hit the length.
* :func:`collect`: the postprocessed rows (any order) -> one Response per request, as the in-process
  provider answers (:mod:`harness.providers.vllm_mapping`).

The engine tokenises the prompt text itself (with its tokenizer's default special tokens); a scored
prompt whose engine tokens are not the harness's (or the harness's after one BOS token) is
answered with an error rather than a wrong number. Not runnable on this repository's CPU-only
machines; ``bench/vllm_eval.py --ray`` runs it on a GPU machine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from harness.core.errors import HarnessError
from harness.core.types import Request, Response
from harness.local import loglik as ll
from harness.providers import vllm_mapping as vm
from harness.providers.openai_completions import split_context

RAY_LLM_INSTALL = "pip install 'ray[llm]' (it pulls vLLM, a CUDA build: it needs NVIDIA GPUs)"
SAMPLING_KEYS = {  # every row's sampling_params has all of these (see the module docstring)
    "n": 1, "max_tokens": 16, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0, "seed": None,
    "stop": [], "stop_token_ids": [], "logprobs": None, "prompt_logprobs": None, "detokenize": True,
    "skip_special_tokens": True,
}


def uniform_sampling(kw: dict[str, Any]) -> dict[str, Any]:
    """``kw`` with every key of :data:`SAMPLING_KEYS` (their neutral values where ``kw`` has none)."""
    extra = set(kw) - set(SAMPLING_KEYS)
    if extra:
        raise ValueError(f"sampling keys without a neutral value: {sorted(extra)}")
    return {k: kw[k] if kw.get(k) is not None else v for k, v in SAMPLING_KEYS.items()}


# ---------------------------------------------------------------- the processor


def processor_config(model_source: str, params: Any, adapter_ranks: Sequence[int] = (), *, concurrency: int | tuple[int, int] = 1,
                     batch_size: int = 64, accelerator_type: str | None = None,
                     max_pending_requests: int | None = None) -> dict[str, Any]:
    """``vLLMEngineProcessorConfig(**processor_config(...))``: ``concurrency`` replicas (or an
    autoscaling (min, max)), each a vLLM engine with ``tensor_parallel_size`` GPUs."""
    engine = vm.engine_kwargs(model_source, params, adapter_ranks, params.enable_lora)
    engine.pop("model")
    engine.pop("tokenizer")
    cfg: dict[str, Any] = {
        "model_source": model_source, "engine_kwargs": engine, "batch_size": int(batch_size),
        "concurrency": tuple(concurrency) if isinstance(concurrency, (tuple, list)) else int(concurrency),
        "apply_chat_template": False, "tokenize": False, "detokenize": False,
    }
    if accelerator_type:
        cfg["accelerator_type"] = accelerator_type
    if max_pending_requests:
        cfg["max_pending_requests"] = int(max_pending_requests)
    return cfg


def build_processor(config: dict[str, Any]) -> Any:
    """``ray.data.llm.build_processor`` over :func:`processor_config`'s dict, with this module's
    postprocess; one line when ray's LLM extra is missing."""
    try:
        from ray.data.llm import build_processor as build, vLLMEngineProcessorConfig
    except ImportError as e:
        raise HarnessError(f"the vllm provider on Ray needs ray[llm] ({type(e).__name__}: {e}): {RAY_LLM_INSTALL}") from None
    return build(vLLMEngineProcessorConfig(**config), preprocess=preprocess_row, postprocess=postprocess_row)


# ---------------------------------------------------------------- rows out


def preprocess_row(row: dict[str, Any]) -> dict[str, Any]:
    """Rows are built ready (:func:`request_rows`); the stage needs them as they are."""
    return dict(row)


def _row(index: int, part: int, kind: str, prompt: str, ids: list[int], sampling: dict[str, Any], model: str,
         **extra: Any) -> dict[str, Any]:
    return {"prompt": prompt, "tokenized_prompt": list(ids), "sampling_params": uniform_sampling(sampling), "model": model,
            "harness_index": index, "harness_part": part, "harness_kind": kind, "harness_ids": list(ids),
            "harness_ctxlen": int(extra.get("ctxlen", 0)), "harness_top": int(extra.get("top", 0)),
            "harness_eos": [int(i) for i in extra.get("eos", ())], "harness_max_tokens": int(sampling["max_tokens"])}


def request_rows(requests: Sequence[Request], tokenizer: Any, chat_prompt: Callable[[Any, Any], str], model_source: str,
                 max_model_len: int, adapter: str | None = None, eos: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The rows for ``requests`` (one model: the base, or ``adapter`` on it). ``chat_prompt`` is
    :func:`harness.local.models.chat_prompt` (passed in: a test gives its own)."""
    model = adapter or model_source
    rows = []
    for i, r in enumerate(requests):
        if r.loglik is None:
            text = r.prompt if r.prompt is not None else chat_prompt(tokenizer, r.messages)
            ids = ll.encode(tokenizer, text)
            top = r.settings.top_logprobs if r.settings.logprobs else 0
            rows.append(_row(i, 0, "generate", text, ids, vm.sampling_kwargs(r.settings, eos), model, top=top, eos=eos))
            continue
        q = r.loglik
        context = chat_prompt(tokenizer, [("user", q.context)]) if q.chat_template else q.context
        for part, s in enumerate(vm.loglik_inputs(tokenizer, q, max_model_len, context)):
            rows.append(_row(i, part, q.kind, _text(tokenizer, q, context, s), s.ids, vm.loglik_kwargs(), model,
                             ctxlen=s.ctxlen))
    return rows


def _text(tokenizer: Any, q: Any, context: str, s: vm.Scored) -> str:
    """A scored prompt as text: context + continuation as written (an empty context: the prefix
    token's text first) when its tokens are the scored ones (lm-eval's whole encoding), else the
    tokens decoded (truncated prompts, rolling windows); the engine's ids are checked after."""
    if q.kind == "multiple_choice":
        cont = q.continuations[s.entry]
        text = "".join(split_context(context, cont)) if context else tokenizer.decode([s.ids[0]]) + cont
        if ll.encode(tokenizer, text) == s.ids:
            return text
    return tokenizer.decode(s.ids)


# ---------------------------------------------------------------- rows back


def _ints(v: Any) -> list[int]:
    return [int(x) for x in (v.tolist() if hasattr(v, "tolist") else (v if v is not None else []))]


class _Choice:
    """A CompletionOutput's fields, rebuilt from a Ray row (which has no finish reason)."""

    def __init__(self, row: dict[str, Any], max_tokens: int) -> None:
        self.token_ids = _ints(row.get("generated_tokens"))
        self.text = row.get("generated_text") or ""
        eos = set(_ints(row.get("harness_eos")))
        ended_on_token = bool(self.token_ids) and self.token_ids[-1] in eos
        self.finish_reason = "stop" if ended_on_token or len(self.token_ids) < max_tokens else "length"
        # a stop string (a str stop_reason) keeps its tokens counted; an end-of-sequence id does not
        self.stop_reason = None if ended_on_token else ("" if self.finish_reason == "stop" else None)
        lps = row.get("logprobs")
        self.logprobs = list(lps) if lps is not None else None


class _Output:
    """A RequestOutput's fields, rebuilt from a Ray row (the stage pops ``sampling_params``: the
    row's own ``harness_max_tokens`` says where the length cut is)."""

    def __init__(self, row: dict[str, Any]) -> None:
        self.prompt_token_ids = _ints(row.get("prompt_token_ids"))
        self.num_cached_tokens = None
        self.outputs = [_Choice(row, int(row["harness_max_tokens"]))]


def postprocess_row(row: dict[str, Any]) -> dict[str, Any]:
    """One output row -> ``harness_index``, ``harness_part`` and ``harness_result`` (JSON: a
    Response's fields for a generation, ``[logprob, is_greedy]`` or an error for a scored prompt)."""
    out = {"harness_index": int(row["harness_index"]), "harness_part": int(row["harness_part"])}
    try:
        if row["harness_kind"] == "generate":
            result: Any = vm.to_response(_Output(row), int(row.get("harness_top") or 0)).to_json()
        else:
            ours, theirs = _ints(row["harness_ids"]), _ints(row.get("prompt_token_ids"))
            shift = 0 if theirs == ours else (1 if theirs[1:] == ours else None)
            if shift is None:
                result = {"error": f"the engine tokenised a scored prompt into {len(theirs)} tokens, not the harness's {len(ours)}"}
            else:
                lp, greedy = vm.score_prompt(list(row["prompt_logprobs"]), theirs, int(row["harness_ctxlen"]) + shift)
                result = [lp, greedy]
    except (KeyError, TypeError, ValueError) as e:
        result = {"error": f"unreadable vLLM output row: {type(e).__name__}: {e}"}
    out["harness_result"] = json.dumps(result)
    return out


def collect(requests: Sequence[Request], rows: Iterable[dict[str, Any]], tokenizer: Any,
            chat_prompt: Callable[[Any, Any], str], max_model_len: int) -> list[Response]:
    """One Response per request from the postprocessed rows (in any order); a request with a row
    missing or failed is answered with an error (never cached)."""
    parts: dict[int, dict[int, Any]] = {}
    for row in rows:
        parts.setdefault(int(row["harness_index"]), {})[int(row["harness_part"])] = json.loads(row["harness_result"])
    out = []
    for i, r in enumerate(requests):
        got = parts.get(i, {})
        if r.loglik is None:
            res = got.get(0)
            out.append(Response.from_json(res) if isinstance(res, dict) and "text" in res else
                       Response(text=None, error=(res or {}).get("error") or "no row came back for the request"))
            continue
        q = r.loglik
        context = chat_prompt(tokenizer, [("user", q.context)]) if q.chat_template else q.context
        scored = vm.loglik_inputs(tokenizer, q, max_model_len, context)
        results = [got.get(p) for p in range(len(scored))]
        bad = next((x for x in results if not isinstance(x, list)), False)
        if bad is not False:
            out.append(Response(text=None, error=(bad or {}).get("error") or "a scored prompt's row did not come back"))
            continue
        entries = vm.loglik_entries(q, scored, [(float(a), bool(b)) for a, b in results])
        n_ctx = len(ll.encode(tokenizer, context)) if q.kind != "rolling" else 0
        out.append(vm.loglik_response(q, entries, n_ctx))
    return out


# ---------------------------------------------------------------- the whole round trip (a GPU cluster)


def generate(provider: Any, requests: Sequence[Request], *, concurrency: int | tuple[int, int] = 1,
             batch_size: int = 64) -> list[Response]:
    """``requests`` for a :class:`~harness.providers.vllm.VllmProvider` through Ray Data LLM: rows
    out, ``concurrency`` vLLM replicas, responses back in request order. Needs ray[llm] and GPUs
    (the Ray executor of harness/distributed/ or ``bench/vllm_eval.py --ray`` calls it)."""
    try:
        import ray
    except ImportError:
        raise HarnessError(f"the vllm provider on Ray needs ray[llm], which is not installed: {RAY_LLM_INSTALL}") from None
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    from harness.local import models as lm

    folder = str(provider.model_folder())
    tok = AutoTokenizer.from_pretrained(folder)
    try:
        gen_cfg = GenerationConfig.from_pretrained(folder)
    except OSError:
        gen_cfg = None
    eos = vm.eos_ids(gen_cfg, tok)
    # vLLM's default context is the config's; lm-eval's rule for it (harness.local.loglik.max_length)
    max_len = provider.params.max_model_len or ll.max_length(type("M", (), {"config": AutoConfig.from_pretrained(folder)})(), tok)
    adapter = str(provider.adapter) if provider.adapter is not None else None
    ranks = [vm.adapter_rank(adapter)] if adapter else []
    processor = build_processor(processor_config(folder, provider.params, ranks, concurrency=concurrency, batch_size=batch_size))
    rows = request_rows(requests, tok, lm.chat_prompt, folder, max_len, adapter, eos)
    out = processor(ray.data.from_items(rows)).take_all()
    return collect(requests, out, tok, lm.chat_prompt, max_len)
