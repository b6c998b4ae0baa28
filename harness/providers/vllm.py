"""The ``vllm`` provider: a model in-process through vLLM (``vllm.LLM``) on a GPU, LoRA adapters included.

``vllm:NAME`` names the base as the local provider does (``smollm2`` or empty: SmolLM2-135M-Instruct,
its float32 conversion of the GGUF; a Hugging Face model folder; a hub id in the Hugging Face
cache); ``?adapter=DIR`` a PEFT LoRA adapter, served by ``vllm.lora.request.LoRARequest``. Every
provider on one base in a process shares one ``vllm.LLM`` (a candidate, its baseline adapter and a
judge on the same base load the weights once): LoRA is on when any of them names an adapter
(``max_loras`` in one batch, ``max_lora_rank`` from the adapters' own ranks), and each adapter has
its own ``lora_int_id``, stable per path (:func:`~harness.providers.vllm_mapping.adapter_id`).

Requests are the local provider's: chat messages through the model's chat template with the
transformers tokenizer the local provider uses, tokenised without special tokens and sent as token
ids, so both providers see the same prompt tokens; greedy and sampled settings, stop strings,
log-probabilities and log-likelihood scoring are mapped in :mod:`harness.providers.vllm_mapping`.
vllm is imported only when the first batch is generated; without it (or without a GPU) the run
stops with one line (``pip install vllm``). vLLM cannot run on this repository's CPU-only machines:
the mapping is tested offline against recorded vLLM output objects, and ``bench/vllm_eval.py`` runs
it against the local provider on a GPU machine. Set ``batch_size`` high (``?batch_size=256``): vLLM
schedules the batch itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from harness.core.errors import HarnessError
from harness.core.hashing import hash_path
from harness.core.types import Request, Response
from harness.local import loglik as ll
from harness.local import models as lm
from harness.providers import vllm_mapping as vm
from harness.providers.base import ModelSpec, Provider, ProviderParams, provider

INSTALL = ("pip install vllm (or pip install 'finetune-harness[vllm]'); vLLM needs an NVIDIA GPU with CUDA: "
           "on a machine without one use local:NAME instead")


class VllmParams(ProviderParams):
    """The vllm provider's own keys (``vllm:NAME?adapter=DIR&dtype=float32&max_model_len=4096``)."""

    adapter: str | None = Field(None, description="LoRA adapter folder: a fine-tuned candidate.")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        "auto", description="Weights' dtype in vLLM; float32 gives the local provider's numbers.")
    max_model_len: int | None = Field(None, ge=16, description="Context length; default: the model's.")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of the GPU's memory vLLM takes.")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="GPUs one model is split over.")
    max_loras: int = Field(4, ge=1, le=256, description="Adapters in one batch (vLLM's max_loras).")
    max_lora_rank: int | None = Field(None, ge=1, le=512, description="Default: the named adapters' largest rank, rounded up.")
    enable_lora: bool | None = Field(None, description="LoRA support in the engine; default: when an adapter on this base is named.")
    engine_seed: int = Field(0, description="vLLM's engine seed (each sampled request also has the suite's seed).")
    enable_prefix_caching: bool = Field(True, description="Reuse the KV cache of shared prompt prefixes.")
    enforce_eager: bool = Field(False, description="No CUDA graphs (slower; less memory and start-up time).")


def require_vllm(what: str) -> None:
    """One line when vllm is not installed: what needs it, the pip command, and that it needs a GPU."""
    from harness.core.extras import missing

    if missing("vllm"):
        raise HarnessError(f"{what} needs vllm, which is not installed: {INSTALL}")


# ---------------------------------------------------------------- one engine per base, per process


class _Engine:
    """A ``vllm.LLM`` for one base model, shared by every provider on it; one call at a time."""

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.llm: Any = None
        self.tokenizer: Any = None
        self.eos: list[int] = []
        self.max_model_len = 0
        self.lora = False
        self.ranks: dict[str, int] = {}  # adapter path -> rank, registered by providers before the load
        self.lock = threading.RLock()


_ENGINES: dict[tuple, _Engine] = {}
_ENGINES_LOCK = threading.Lock()
ADAPTER_IDS = vm.AdapterIds()


def _engine(key: tuple) -> _Engine:
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = _Engine(key)
        return _ENGINES[key]


def clear_engines() -> None:
    """Forget the loaded engines (tests; a process that is done with its GPU)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()


@provider("vllm")
class VllmProvider(Provider):
    """vLLM in-process on a GPU (vllm.LLM; LoRA adapters by LoRARequest); needs `pip install vllm`."""

    Params = VllmParams
    params: VllmParams
    kinds = frozenset({"generate", "text", "multiple_choice", "rolling"})

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        # Cheap checks now (no vllm or torch import) so a wrong path fails before any work is done.
        self.folder, self.gguf = lm.resolve_local_model(spec.name)
        self.adapter = lm.check_adapter(self.params.adapter) if self.params.adapter else None
        p = self.params
        self.engine = _engine((str(self.folder), self.gguf, p.dtype, p.max_model_len, p.gpu_memory_utilization,
                               p.tensor_parallel_size, p.max_loras, p.max_lora_rank, p.enable_lora, p.engine_seed,
                               p.enable_prefix_caching, p.enforce_eager))
        if self.adapter is not None:
            with self.engine.lock:
                self.engine.ranks.setdefault(str(self.adapter), vm.adapter_rank(self.adapter))
        self._fingerprint: dict[str, Any] | None = None

    # ------------------------------------------------------------ model and identity

    def fingerprint(self) -> dict[str, Any]:
        if self._fingerprint is None:
            self._fingerprint = {
                "provider": "vllm",
                "name": lm.display_name(self.spec.name),
                "weights_sha256": lm.cached_sha256(lm.weights_path(self.spec.name)),
                "adapter_sha256": hash_path(self.adapter) if self.adapter else None,
                "dtype": self.params.dtype,
                "max_model_len": self.params.max_model_len,
            }
        return self._fingerprint

    def model_folder(self) -> Path:
        """The Hugging Face folder vLLM loads: the float32 conversion for a GGUF (written once)."""
        return lm._converted_gguf(self.folder, self.gguf) if self.gguf else self.folder

    def load(self) -> _Engine:
        e = self.engine
        with e.lock:
            if e.llm is not None:
                if self.adapter is not None and not e.lora:
                    raise HarnessError(
                        f"model {self.spec.display()}: the vLLM engine for {self.spec.name or 'smollm2'} was started "
                        "without LoRA (no adapter on it was named yet); add enable_lora=true to every vllm model on this base")
                return e
            require_vllm(f"model {self.spec.display()} (provider vllm)")
            try:
                from vllm import LLM
            except Exception as ex:  # noqa: BLE001 - a CPU-only build, a CUDA mismatch: one line, not a traceback
                raise HarnessError(f"model {self.spec.display()}: vllm failed to import "
                                   f"({type(ex).__name__}: {str(ex)[:200]}); {INSTALL}") from None
            from transformers import AutoTokenizer, GenerationConfig

            folder = self.model_folder()
            kw = vm.engine_kwargs(str(folder), self.params, list(e.ranks.values()), self.params.enable_lora)
            e.lora = bool(kw.get("enable_lora"))
            e.tokenizer = AutoTokenizer.from_pretrained(folder)
            try:
                gen_cfg = GenerationConfig.from_pretrained(folder)
            except OSError:
                gen_cfg = None
            e.eos = vm.eos_ids(gen_cfg, e.tokenizer)
            try:
                e.llm = LLM(**kw)
            except Exception as ex:  # noqa: BLE001 - no GPU, out of memory: one line naming what failed
                raise HarnessError(f"model {self.spec.display()}: vLLM could not start "
                                   f"({type(ex).__name__}: {' '.join(str(ex).split())[:300]})") from None
            e.max_model_len = int(e.llm.llm_engine.model_config.max_model_len)
            return e

    def lora_request(self) -> Any:
        if self.adapter is None:
            return None
        from vllm.lora.request import LoRARequest

        i = ADAPTER_IDS(self.adapter)
        return LoRARequest(f"{self.adapter.name}-{i}", i, str(self.adapter))

    # ------------------------------------------------------------ generation

    def generate_batch(self, requests: Sequence[Request]) -> list[Response]:
        out: list[Response | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):  # one generate() call for every scored prompt, one for every generation
            groups.setdefault("loglik" if r.loglik is not None else "generate", []).append(i)
        e = self.load()
        for idxs in groups.values():
            batch = [requests[i] for i in idxs]
            try:
                with e.lock:
                    results = self._loglik(e, batch) if batch[0].loglik is not None else self._generate(e, batch)
            except HarnessError:
                raise
            except Exception as ex:  # noqa: BLE001 - fail these requests, not the run
                msg = f"vllm {'scoring' if batch[0].loglik is not None else 'generation'} failed: {type(ex).__name__}: {ex}"
                results = [Response(text=None, error=msg[:500]) for _ in idxs]
            for i, res in zip(idxs, results, strict=True):
                out[i] = res
        return out  # type: ignore[return-value]

    def _prompt_ids(self, e: _Engine, r: Request) -> list[int]:
        text = r.prompt if r.prompt is not None else lm.chat_prompt(e.tokenizer, r.messages)
        return list(e.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _generate(self, e: _Engine, requests: list[Request]) -> list[Response]:
        from vllm import SamplingParams

        prompts = [{"prompt_token_ids": self._prompt_ids(e, r)} for r in requests]
        params = [SamplingParams(**vm.sampling_kwargs(r.settings, e.eos)) for r in requests]  # one per row: settings may differ
        outs = e.llm.generate(prompts, params, use_tqdm=False, lora_request=self.lora_request())
        names: dict[int, str] = {}

        def decode(i: int) -> str:
            if i not in names:
                names[i] = e.tokenizer.decode([i])
            return names[i]

        return [vm.to_response(o, r.settings.top_logprobs if r.settings.logprobs else 0, decode)
                for o, r in zip(outs, requests, strict=True)]

    # ------------------------------------------------------------ scoring

    def _loglik(self, e: _Engine, requests: list[Request]) -> list[Response]:
        from vllm import SamplingParams

        contexts = [lm.chat_prompt(e.tokenizer, [("user", r.loglik.context)]) if r.loglik.chat_template  # type: ignore[union-attr]
                    else r.loglik.context for r in requests]  # type: ignore[union-attr]
        per = [vm.loglik_inputs(e.tokenizer, r.loglik, e.max_model_len, c) for r, c in zip(requests, contexts, strict=True)]  # type: ignore[arg-type]
        flat = [s for ss in per for s in ss]
        outs = e.llm.generate([{"prompt_token_ids": s.ids} for s in flat], SamplingParams(**vm.loglik_kwargs()),
                              use_tqdm=False, lora_request=self.lora_request()) if flat else []
        results = iter([vm.score_prompt(o.prompt_logprobs, s.ids, s.ctxlen) for o, s in zip(outs, flat, strict=True)])
        responses = []
        for r, c, ss in zip(requests, contexts, per, strict=True):
            q = r.loglik
            entries = vm.loglik_entries(q, ss, [next(results) for _ in ss])  # type: ignore[arg-type]
            n_ctx = len(ll.encode(e.tokenizer, c)) if q.kind != "rolling" else 0  # type: ignore[union-attr]
            responses.append(vm.loglik_response(q, entries, n_ctx))  # type: ignore[arg-type]
        return responses

    def ray_data_generate(self, requests: Sequence[Request], replicas: int, batch_size: int) -> list[Response]:
        """``requests`` through Ray Data LLM (``replicas`` vLLM engines on the cluster's GPUs, LoRA
        loaded dynamically): the Ray executor's path for this provider (harness.distributed.pool)."""
        from harness.providers import vllm_ray

        return vllm_ray.generate(self, requests, concurrency=replicas, batch_size=batch_size)

    def score_continuations(self, prompts_messages: Sequence, continuations: Sequence[str]) -> list[list[float]]:
        """Per-token log-probs of each continuation after its chat prompt, the continuation tokenised
        on its own (:func:`harness.local.models.score_continuations`'s contract; the perplexity metric)."""
        from vllm import SamplingParams

        if len(prompts_messages) != len(continuations):
            raise ValueError(f"{len(prompts_messages)} prompts but {len(continuations)} continuations")
        e = self.load()
        tok = e.tokenizer
        seqs = [(ll.encode(tok, lm.chat_prompt(tok, m)), ll.encode(tok, c)) for m, c in zip(prompts_messages, continuations, strict=True)]
        todo = [i for i, (_, c) in enumerate(seqs) if c]
        with e.lock:
            outs = e.llm.generate([{"prompt_token_ids": seqs[i][0] + seqs[i][1]} for i in todo],
                                  SamplingParams(**vm.loglik_kwargs()), use_tqdm=False,
                                  lora_request=self.lora_request()) if todo else []
        results: list[list[float]] = [[] for _ in seqs]
        for i, o in zip(todo, outs, strict=True):
            p, c = seqs[i]
            results[i] = vm.prompt_token_logprobs(o.prompt_logprobs, p + c, len(p))
        return results
