"""Parity of our retention suites with lm-evaluation-harness: the same items and the same weights
through ``lm_eval`` (bench/lm_eval_tasks) and through ``harness run --model local``. A benchmark
that prints a table, not a test.

    .venv/bin/python bench/lm_eval_parity.py [--split demo|test] [--only NAME] [--work DIR]

Weights: the float32 safetensors folder that the ``local`` provider converts SmolLM2-135M-Instruct's
GGUF into (``~/.cache/harness/models/<gguf stem>-<sha16>-float32``); the script checks that its
``harness-converted.json`` names the GGUF the provider loads (same sha256) and that the harness
run's fingerprint carries that sha256. lm-eval gets ``--model hf --model_args
pretrained=FOLDER,dtype=float32 --device cpu --batch_size 8``, offline; ifeval also gets
``--apply_chat_template`` (our suite prompts through the model's chat template) and NLTK_DATA
pointing at llama-index-core's bundled nltk_cache (punkt_tab, for lm-eval's checker).

Per suite: the harness's headline value and lm-eval's; for log-likelihood tasks the per-item
agreement of the chosen answer (argmax of the summed log-likelihood, and of it over len(choice),
lm-eval's acc_norm rule, applied to each tool's numbers) and the largest absolute per-choice
log-likelihood difference; for wikitext the largest per-document log-likelihood difference and
both bits_per_byte; for gsm8k/ifeval both accuracies and the share of identical generations.
Items are matched by the document's content (the question/query/text/prompt field).
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SUITES = ("arc_easy", "hellaswag", "wikitext", "gsm8k", "ifeval")
KEY = {"arc_easy": "question", "hellaswag": "query", "wikitext": "text", "gsm8k": "question", "ifeval": "prompt"}
KIND = {"arc_easy": "mc", "hellaswag": "mc", "wikitext": "rolling", "gsm8k": "gen", "ifeval": "gen"}
# (harness metric, lm-eval metric key in results json)
HEADLINE = {
    "arc_easy": [("acc", "acc,none"), ("acc_norm", "acc_norm,none")],
    "hellaswag": [("acc_norm", "acc_norm,none"), ("acc", "acc,none")],
    "wikitext": [("bits_per_byte", "bits_per_byte,none"), ("word_perplexity", "word_perplexity,none")],
    "gsm8k": [("exact_match_strict", "exact_match,strict-match"), ("exact_match_flexible", "exact_match,flexible-extract")],
    "ifeval": [("prompt_level_strict_acc", "prompt_level_strict_acc,none"), ("inst_level_strict_acc", "inst_level_strict_acc,none"),
               ("prompt_level_loose_acc", "prompt_level_loose_acc,none")],
}


@dataclass
class Row:
    suite: str
    split: str
    n: int
    score: str
    ours: float | None
    theirs: float | None
    extra: list[str] = field(default_factory=list)


def weights_folder() -> tuple[Path, str]:
    """The local provider's float32 conversion folder and the GGUF's sha256 (checked to match)."""
    sys.path.insert(0, str(ROOT))
    from harness.local import models as lm

    folder, gguf = lm.resolve_local_model("smollm2")
    if gguf is None:
        raise SystemExit(f"the local smollm2 model resolved to a folder without a GGUF: {folder}")
    sha = lm.cached_sha256(folder / gguf)
    target = lm.cache_home() / "models" / f"{Path(gguf).stem}-{sha[:16]}-float32"
    meta = target / "harness-converted.json"
    if not meta.is_file():
        raise SystemExit(f"{target} is missing: run any local suite once (harness writes the conversion), then rerun")
    recorded = json.loads(meta.read_text(encoding="utf-8"))
    if recorded.get("sha256") != sha or recorded.get("dtype") != "float32":
        raise SystemExit(f"{meta} records {recorded}, not the GGUF the provider loads ({folder / gguf}, sha256 {sha})")
    return target, sha


def nltk_data() -> str:
    spec = importlib.util.find_spec("llama_index.core")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("ifeval needs llama-index-core (pip install --no-deps llama-index-core==0.14.25) for nltk's punkt_tab")
    return str(Path(list(spec.submodule_search_locations)[0]) / "_static" / "nltk_cache")


def run_lm_eval(name: str, split: str, folder: Path, out: Path) -> float:
    task = f"retention_{name}" + ("_demo" if split == "demo" else "")
    cmd = [PY, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype=float32",
           "--include_path", str(ROOT / "bench" / "lm_eval_tasks"), "--tasks", task, "--log_samples",
           "--output_path", str(out), "--device", "cpu", "--batch_size", "8"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    if name == "ifeval":
        cmd.append("--apply_chat_template")
        env["NLTK_DATA"] = nltk_data()
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as log:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc:
        raise SystemExit(f"lm_eval failed for {task} (exit {rc}); see {out.with_suffix('.log')}")
    return time.perf_counter() - t0


def run_harness(name: str, split: str, out: Path, cache: Path) -> float:
    cmd = [PY, "-m", "harness.cli", "run", str(ROOT / "suites" / "retention" / f"{name}.yaml"), "--model", "local",
           "--split", split, "--out", str(out), "--cache", str(cache), "--no-progress"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    with open(out.with_suffix(".log"), "w") as log:
        rc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    if rc and not (out / "results.jsonl").is_file():
        raise SystemExit(f"harness run failed for {name} (exit {rc}); see {out.with_suffix('.log')}")
    return time.perf_counter() - t0


def lm_eval_outputs(out: Path, name: str, split: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    task = f"retention_{name}" + ("_demo" if split == "demo" else "")
    res = sorted(glob.glob(str(out / "**" / "results_*.json"), recursive=True))
    smp = sorted(glob.glob(str(out / "**" / f"samples_{task}_*.jsonl"), recursive=True))
    if not res or not smp:
        raise SystemExit(f"no lm-eval results/samples for {task} under {out}")
    results = json.loads(Path(res[-1]).read_text(encoding="utf-8"))["results"][task]
    samples = [json.loads(line) for line in Path(smp[-1]).read_text(encoding="utf-8").splitlines() if line.strip()]
    return results, samples


def harness_outputs(out: Path) -> tuple[dict[str, float], list[dict[str, Any]]]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    agg: dict[str, float] = {}
    summary = out / "summary.json"
    if summary.is_file():
        agg = _metric_values(json.loads(summary.read_text(encoding="utf-8")))
    return agg, rows


def _metric_values(summary: dict[str, Any]) -> dict[str, float]:
    """Metric name -> value from a run summary (tolerant of its layout: a 'metrics' map or list)."""
    out: dict[str, float] = {}
    m = summary.get("metrics", {})
    items = m.items() if isinstance(m, dict) else ((x.get("name"), x) for x in m)
    for k, v in items:
        if isinstance(v, dict):
            val = v.get("value", v.get("mean"))
            if isinstance(val, (int, float)):
                out[str(k)] = float(val)
        elif isinstance(v, (int, float)):
            out[str(k)] = float(v)
    return out


def _mean_score(rows: list[dict[str, Any]], metric: str) -> float | None:
    vals = [r["scores"].get(metric) for r in rows]
    vals = [v for v in vals if v is not None]
    return sum(vals) / len(vals) if vals else None


def _argmax(xs: list[float]) -> int:
    return max(range(len(xs)), key=lambda i: xs[i])


def compare(name: str, split: str, lm_res: dict[str, Any], lm_samples: list[dict[str, Any]],
            h_agg: dict[str, float], h_rows: list[dict[str, Any]], sha: str, h_summary: dict[str, Any]) -> list[Row]:
    key = KEY[name]
    theirs_by = {}
    for s in lm_samples:
        theirs_by.setdefault(s["doc"][key], s)  # gsm8k logs one sample per filter: same generation
    ours_by = {}
    for r in h_rows:
        ours_by[_doc_key(name, r)] = r
    common = [k for k in ours_by if k in theirs_by]
    n = len(common)
    rows: list[Row] = []
    for hm, lk in HEADLINE[name]:
        ours = h_agg.get(hm)
        if ours is None:
            ours = _mean_score(h_rows, hm) if KIND[name] != "rolling" else None
        theirs = lm_res.get(lk)
        rows.append(Row(name, split, n, hm, ours, float(theirs) if theirs is not None else None))
    extra: list[str] = [f"matched {n}/{len(h_rows)} ours, {len(theirs_by)} lm-eval"]
    fp = json.dumps(h_summary.get("model", h_summary))
    extra.append("weights sha ok" if sha in fp else "weights sha NOT in harness summary")
    if KIND[name] == "mc":
        agree_acc = agree_norm = 0
        maxdiff = 0.0
        for k in common:
            s, r = theirs_by[k], ours_by[k]
            t_ll = [float(x[0]) for x in s["filtered_resps"]]
            o_ll = [float(e["logprob"]) for e in r["loglik"]]
            lens = [float(len(c)) for c in s["doc"]["choices"]]
            agree_acc += _argmax(t_ll) == _argmax(o_ll)
            agree_norm += _argmax([a / b for a, b in zip(t_ll, lens)]) == _argmax([a / b for a, b in zip(o_ll, lens)])
            maxdiff = max(maxdiff, max(abs(a - b) for a, b in zip(t_ll, o_ll)))
        extra += [f"argmax(acc) agree {agree_acc}/{n}", f"argmax(acc_norm) agree {agree_norm}/{n}",
                  f"max |dLL| per choice {maxdiff:.2e}"]
    elif KIND[name] == "rolling":
        maxdiff = 0.0
        ours_ll = theirs_ll = ours_bytes = 0.0
        for k in common:
            s, r = theirs_by[k], ours_by[k]
            t = s["filtered_resps"]
            t = float(t[0] if isinstance(t, list) else t)
            o = float(r["loglik"][0]["logprob"])
            maxdiff = max(maxdiff, abs(t - o))
            ours_ll += o
            theirs_ll += t
            ours_bytes += len(k.encode("utf-8"))
        if rows[0].ours is None and ours_bytes:
            rows[0].ours = -ours_ll / ours_bytes / math.log(2)
        extra += [f"max |dLL| per doc {maxdiff:.2e}", f"sum LL ours {ours_ll:.3f} lm-eval {theirs_ll:.3f}"]
    else:
        same = 0
        for k in common:
            t_text = _first_text(theirs_by[k]["resps"])
            same += t_text == (ours_by[k]["output"] or "")
        extra.append(f"identical generations {same}/{n}")
    rows[-1].extra = extra
    return rows


def _first_text(resps: Any) -> str:
    while isinstance(resps, list):
        resps = resps[0]
    return str(resps)


def _doc_key(name: str, row: dict[str, Any]) -> str:
    """The document field that both sides carry: our rows keep the input (the `fields.input`
    column); wikitext's input is the title, so its text comes from the prompt."""
    if name == "wikitext":
        return _wikitext_text(row)
    return str(row["input"])


_WIKI: dict[str, str] = {}


def _wikitext_text(row: dict[str, Any]) -> str:
    if not _WIKI:
        for split in ("demo", "test"):
            p = ROOT / "datasets" / "retention" / "wikitext" / f"{split}.jsonl"
            if p.is_file():
                for line in p.read_text(encoding="utf-8").splitlines():
                    if line.strip():
                        d = json.loads(line)
                        _WIKI[str(d["id"])] = d["text"]
    return _WIKI[str(row["id"])]


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("demo", "test"), default="demo")
    ap.add_argument("--only", choices=SUITES, action="append", help="one suite (repeatable); default: all five")
    ap.add_argument("--work", type=Path, help="keep both tools' outputs here (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="with --work: read outputs already there instead of rerunning "
                    "(a wall time of 0s marks a reused output)")
    args = ap.parse_args()
    folder, sha = weights_folder()
    print(f"weights: {folder} (GGUF sha256 {sha[:16]}…)", flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="lm_eval_parity-"))
    work.mkdir(parents=True, exist_ok=True)
    table: list[Row] = []
    for name in args.only or SUITES:
        lm_out, h_out = work / f"lm_{name}", work / f"h_{name}"
        done_lm = args.reuse and any(lm_out.glob("**/results_*.json"))
        done_h = args.reuse and (h_out / "results.jsonl").is_file()
        t_lm = 0.0 if done_lm else run_lm_eval(name, args.split, folder, lm_out)
        t_h = 0.0 if done_h else run_harness(name, args.split, h_out, work / "cache.sqlite")
        print(f"{name}: lm-eval {t_lm:.0f}s, harness {t_h:.0f}s", flush=True)
        lm_res, lm_samples = lm_eval_outputs(lm_out, name, args.split)
        h_agg, h_rows = harness_outputs(h_out)
        summary = json.loads((h_out / "summary.json").read_text(encoding="utf-8")) if (h_out / "summary.json").is_file() else {}
        rows = compare(name, args.split, lm_res, lm_samples, h_agg, h_rows, sha, summary)
        rows[-1].extra.append(f"wall lm-eval {t_lm:.0f}s harness {t_h:.0f}s")
        table += rows
    print()
    print(f"{'suite':<10} {'split':<5} {'n':>3}  {'score':<22} {'harness':>8} {'lm-eval':>8}  notes")
    for r in table:
        print(f"{r.suite:<10} {r.split:<5} {r.n:>3}  {r.score:<22} {fmt(r.ours):>8} {fmt(r.theirs):>8}  {'; '.join(r.extra)}")


if __name__ == "__main__":
    main()
