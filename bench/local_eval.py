"""Local evaluation speed side by side: lm-evaluation-harness, ``harness run --model local`` and the
raw model's batched ``generate``, on the same items, prompts, weights and settings. A benchmark that
prints a table, not a test.

    .venv/bin/python bench/local_eval.py [--rounds 1] [--lm-eval-batch 16] [--mc]

Generation: support_intent's test split (120 customer messages), the suite's system prompt and
user message through SmolLM2-135M-Instruct's chat template, greedy, at most 12 new tokens, stop at a
newline. Every tool loads the same float32 weights: the safetensors folder the local provider
converts the GGUF into (checked by sha256, as bench/lm_eval_parity.py does).

* ``lm-eval``: ``lm_eval --model hf --model_args pretrained=FOLDER,dtype=float32 --batch_size 16
  --apply_chat_template --system_instruction SYSTEM`` on a generate_until task over the same JSONL
  (written to a temporary folder), ``--log_samples`` for its outputs.
* ``harness``: ``harness run suites/support_intent.yaml --model local --split test`` with an empty
  response cache (its defaults: batch 32, the shared prefix prefilled once, longest first).
* ``raw generate``: a process that loads the folder with transformers and calls ``model.generate``
  on batches of 16 in dataset order, greedy, the newline stop as a stopping criterion: the bare
  model, no harness.

Each is a whole process, timed from start to exit (wall) with its CPU seconds (user + system of the
child). The table gives wall, CPU, examples/s, the ratio to the raw model and to lm-eval, and how
many of the 120 outputs equal the raw model's. ``--mc``: the same for a multiple-choice
log-likelihood suite (ARC-Easy's demo split, 40 items, 4 choices; lm-eval's own task from
bench/lm_eval_tasks), lm-eval against the harness; agreement is that of the chosen answers.
Rounds alternate the tools, so a noisy neighbour slows all of them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

RAW = r'''
import json, sys
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList
folder, data, system, out = sys.argv[1:5]
tok = AutoTokenizer.from_pretrained(folder); tok.padding_side = "left"
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
rows = [json.loads(l) for l in open(data)]
prompts = [tok.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": r["text"]}],
                                   tokenize=False, add_generation_prompt=True) for r in rows]
class Newline(StoppingCriteria):
    def __init__(self, n): self.n = n
    def __call__(self, ids, scores, **kw):
        return torch.tensor(["\n" in t for t in tok.batch_decode(ids[:, self.n:], skip_special_tokens=True)])
texts = []
with torch.inference_mode():
    for i in range(0, len(prompts), 16):
        enc = tok(prompts[i:i + 16], return_tensors="pt", padding=True, add_special_tokens=False)
        n = enc["input_ids"].shape[1]
        g = model.generate(**enc, max_new_tokens=12, do_sample=False, temperature=1.0, top_p=1.0, num_beams=1,
                           pad_token_id=tok.pad_token_id, eos_token_id=[tok.eos_token_id],
                           stopping_criteria=StoppingCriteriaList([Newline(n)]))
        for row in g[:, n:].tolist():
            t = tok.decode([x for x in row if x != tok.pad_token_id], skip_special_tokens=True)
            texts.append(t.split("\n")[0])
json.dump(texts, open(out, "w"))
'''


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall s, CPU s) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, cwd=ROOT, env=env or dict(os.environ), stdout=f, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc:
        raise SystemExit(f"{cmd[:4]} failed (exit {rc}); see {log}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def lm_eval_task(work: Path, data: Path) -> Path:
    tasks = work / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "bench_support_intent.yaml").write_text(json.dumps({
        "task": "bench_support_intent", "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}}, "test_split": "test",
        "output_type": "generate_until", "doc_to_text": "{{text}}", "doc_to_target": "{{intent}}",
        "generation_kwargs": {"until": ["\n"], "max_gen_toks": 12, "do_sample": False, "temperature": 0.0},
        "metric_list": [{"metric": "exact_match"}],
    }, indent=1), encoding="utf-8")
    return tasks


def lm_eval_texts(out: Path, task: str) -> list[dict]:
    (f,) = sorted(out.rglob(f"samples_{task}_*.jsonl"))
    return [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def harness_results(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--lm-eval-batch", type=int, default=16)
    ap.add_argument("--mc", action="store_true", help="also the multiple-choice log-likelihood suite (ARC-Easy demo)")
    ap.add_argument("--no-lm-eval", action="store_true")
    a = ap.parse_args()

    from lm_eval_parity import weights_folder

    from harness.suite.load import load_suite

    folder, sha = weights_folder()
    loaded = load_suite(ROOT / "suites" / "support_intent.yaml")
    system = loaded.suite.prompt.messages[0].content
    data = ROOT / "datasets" / "support_intent" / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = len(rows)
    have_lm_eval = not a.no_lm_eval and subprocess.run([PY, "-c", "import lm_eval"], capture_output=True).returncode == 0
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONPATH=str(ROOT))
    times: dict[str, list[tuple[float, float]]] = {}
    outputs: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="local-eval-") as tmp:
        work = Path(tmp)
        tasks = lm_eval_task(work, data)
        for r in range(a.rounds):
            # raw model
            out = work / f"raw{r}.json"
            times.setdefault("raw generate (batch 16)", []).append(
                timed([PY, "-c", RAW, str(folder), str(data), system, str(out)], work / f"raw{r}.log", env))
            outputs["raw generate (batch 16)"] = json.loads(out.read_text())
            # harness
            run = work / f"harness{r}"
            times.setdefault("harness run --model local", []).append(timed(
                [PY, "-m", "harness.cli", "run", "suites/support_intent.yaml", "--model", "local", "--split", "test",
                 "--out", str(run), "--cache", str(work / f"cache{r}.sqlite"), "--no-progress", "--no-retention"],
                work / f"harness{r}.log", env))
            by_id = {x["id"]: x for x in harness_results(run)}
            outputs["harness run --model local"] = [by_id[row["id"]]["output"] for row in rows]
            if have_lm_eval:
                lo = work / f"lm{r}"
                times.setdefault(f"lm-eval hf (batch {a.lm_eval_batch})", []).append(timed(
                    [PY, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype=float32",
                     "--include_path", str(tasks), "--tasks", "bench_support_intent", "--device", "cpu",
                     "--batch_size", str(a.lm_eval_batch), "--apply_chat_template", "--system_instruction", system,
                     "--log_samples", "--output_path", str(lo)], work / f"lm{r}.log", env))
                samples = {s["doc"]["id"]: s for s in lm_eval_texts(lo, "bench_support_intent")}
                outputs[f"lm-eval hf (batch {a.lm_eval_batch})"] = [_first(samples[row["id"]]["resps"]) for row in rows]
        mc = _mc(work, folder, env, a.rounds) if a.mc and have_lm_eval else None

    raw_name = "raw generate (batch 16)"
    lm_name = next((k for k in times if k.startswith("lm-eval")), None)
    best = {k: min(v, key=lambda t: t[0]) for k, v in times.items()}
    print(f"support_intent test split: {n} prompts, greedy, max 12 new tokens, stop at newline; weights {folder.name} "
          f"(GGUF sha256 {sha[:12]}); {os.cpu_count()} CPUs; best of {a.rounds} round(s)")
    print(f"{'tool':30} {'wall s':>8} {'CPU s':>8} {'ex/s':>7} {'vs raw':>7} {'vs lm-eval':>10} {'same as raw':>12}")
    for k, (wall, cpu) in best.items():
        same = sum(x.strip() == y.strip() for x, y in zip(outputs[k], outputs[raw_name], strict=True))
        vs_lm = f"{best[lm_name][0] / wall:.2f}x" if lm_name else "-"
        print(f"{k:30} {wall:8.1f} {cpu:8.1f} {n / wall:7.2f} {best[raw_name][0] / wall:6.2f}x {vs_lm:>10} {same:>8}/{n}")
    if mc:
        print()
        print(mc)


def _first(resps) -> str:
    while isinstance(resps, list):
        resps = resps[0]
    return str(resps)


def _mc(work: Path, folder: Path, env: dict[str, str], rounds: int) -> str:
    """ARC-Easy demo split, lm-eval against the harness: wall, CPU and chosen-answer agreement."""
    from lm_eval_parity import _argmax

    t_lm, t_h = [], []
    for r in range(rounds):
        lo = work / f"mc-lm{r}"
        t_lm.append(timed([PY, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={folder},dtype=float32",
                           "--include_path", str(ROOT / "bench" / "lm_eval_tasks"), "--tasks", "retention_arc_easy_demo",
                           "--device", "cpu", "--batch_size", "8", "--log_samples", "--output_path", str(lo)],
                          work / f"mc-lm{r}.log", env))
        run = work / f"mc-h{r}"
        t_h.append(timed([PY, "-m", "harness.cli", "run", "suites/retention/arc_easy.yaml", "--model", "local",
                          "--split", "demo", "--out", str(run), "--cache", str(work / f"mc-cache{r}.sqlite"), "--no-progress"],
                         work / f"mc-h{r}.log", env))
    samples = lm_eval_texts(work / f"mc-lm{rounds - 1}", "retention_arc_easy_demo")
    theirs = {s["doc"]["question"]: _argmax([float(x[0]) for x in s["filtered_resps"]]) for s in samples}
    ours = {str(x["input"]): _argmax([float(e["logprob"]) for e in x["loglik"]]) for x in harness_results(work / f"mc-h{rounds - 1}")}
    agree = sum(1 for q, c in theirs.items() if ours.get(q) == c)
    (wl, cl), (wh, ch) = min(t_lm), min(t_h)
    n = len(samples)
    return (f"ARC-Easy demo split ({n} items x 4 choices, log-likelihood):\n"
            f"{'lm-eval hf (batch 8)':30} {wl:8.1f} s wall {cl:8.1f} s CPU\n"
            f"{'harness run --model local':30} {wh:8.1f} s wall {ch:8.1f} s CPU  ({wl / wh:.2f}x lm-eval); "
            f"chosen answer agrees on {agree}/{n}")


if __name__ == "__main__":
    main()
