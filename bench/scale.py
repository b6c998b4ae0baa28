"""How `harness run`, `compare`, `gate` and `report` grow with the suite: 1k, 10k and 100k examples.
A benchmark that prints figures, not a test.

    .venv/bin/python bench/scale.py [--sizes 1000,10000,100000] [--keep DIR] [--no-browser]

For each size it writes a support-intent-style suite (classification over 8 intents + exact_match)
and two scripted models' outputs (about 85% and 88% right), then runs, each as its own process
(`python -m harness.cli ...`): `run` of both models (fresh cache), `run` again (every response and
score cached), `compare`, `gate` and `report`. Each step's wall time and peak RSS come from
os.wait4 on that child (its own rusage, not the sum of all children). Last, the report opens in
headless Chromium (tests/report/cdp.py) and the time until its script has drawn the first screen
is measured. Rows: figures per size; ratios between consecutive sizes (10x more examples should
cost about 10x, not 100x). The load average is printed beside: this machine is shared.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
INTENTS = ["order_status", "cancel_order", "refund_request", "change_address", "payment_issue",
           "product_question", "delivery_delay", "account_help"]
WORDS = ["please", "my", "order", "the", "where", "is", "parcel", "help", "money", "back", "card", "account",
         "address", "late", "item", "box"]

SUITE = """\
name: scale-intent
version: 1
dataset:
  splits: {test: test.jsonl}
  fields: {id: id, input: text, reference: intent, category: intent}
prompt:
  messages:
    - {role: system, content: "Answer with one intent label."}
    - {role: user, content: "Classify: {{ text }}"}
generation: {max_tokens: 8}
metrics:
  - name: classification
    labels: [LABELS]
  - name: exact_match
gates:
  - metric: accuracy
    min: 0.5
  - metric: accuracy
    non_inferiority_margin: 0.02
"""


def make_suite(folder: Path, n: int) -> tuple[Path, Path, Path]:
    rnd = random.Random(n)
    folder.mkdir(parents=True, exist_ok=True)
    rows, outs = [], [[], []]
    for i in range(n):
        intent = rnd.choice(INTENTS)
        rows.append({"id": f"ex{i:06d}", "text": " ".join(rnd.choices(WORDS, k=8)) + f" #{i}", "intent": intent})
        for m, right in enumerate((0.85, 0.88)):
            out = intent if rnd.random() < right else rnd.choice(INTENTS)
            outs[m].append({"id": f"ex{i:06d}", "output": out if rnd.random() > 0.1 else f"{out}."})
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "suite.yaml").write_text(SUITE.replace("LABELS", ", ".join(INTENTS)))
    scripts = []
    for m, o in enumerate(outs):
        p = folder / f"model{m}.jsonl"
        p.write_text("".join(json.dumps(r) + "\n" for r in o))
        scripts.append(p)
    return folder / "suite.yaml", scripts[0], scripts[1]


LIMITS = {"timeout": 900.0}


def step(args: list[str], module: str | None = "harness.cli") -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and exit code of `python -m MODULE ARGS` (or `python ARGS`) as one child,
    from os.wait4 on that child; killed after LIMITS['timeout'] seconds (its figures then read nan)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([PY, *(["-m", module] if module else []), *args], env=env, stdout=subprocess.DEVNULL, stderr=err)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t > LIMITS['timeout']:
                proc.kill()
                os.wait4(proc.pid, 0)
                print(f"  ! {' '.join(args[:2])}: over {LIMITS['timeout']:.0f} s, killed", file=sys.stderr)
                return float("nan"), float("nan"), -9
            time.sleep(0.02)
        wall = time.perf_counter() - t
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):
            err.seek(0)
            print(f"  ! {' '.join(args[:2])} exited {code}: {err.read().decode()[-500:]}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, code


def first_screen(html: Path) -> float | None:
    """Seconds from navigation until the page's script reports the first screen drawn (window.__reportReady)."""
    from tests.report.cdp import Browser, chromium

    binary = chromium()
    if binary is None:
        return None
    b = Browser(binary)
    try:
        for domain in ("Page", "Runtime"):
            b.call(f"{domain}.enable")
        t = time.perf_counter()
        b.call("Page.navigate", url=html.resolve().as_uri())
        while time.perf_counter() - t < 120:
            if b.js("window.__reportReady === true && document.querySelectorAll('#examples tbody tr').length > 0"):
                return time.perf_counter() - t
            time.sleep(0.02)
        return float("nan")
    finally:
        b.close()


def page_child(folder: Path, phases: Path) -> None:
    """In this process: run both models with 10 bootstrap resamples, read and align the two runs,
    compare with 10 paired resamples and render the HTML page; each phase's wall time to ``phases``.
    This isolates the harness's own reading, aligning and rendering from the bootstrap's cost."""
    from harness.compare.align import align, load_runs
    from harness.compare.comparison import compare_aligned
    from harness.providers.base import ModelSpec
    from harness.report.html import render_report
    from harness.evaluate.run import RunConfig, run_suite

    t, out = time.perf_counter(), {}
    for m in (0, 1):
        run_suite(RunConfig(suite=folder / "suite.yaml", model=ModelSpec.parse(f"scripted:{folder / f'model{m}.jsonl'}"),
                            reports_dir=folder / "preports", out=folder / f"prun{m}", progress=False, bootstrap_resamples=10))
    out["run x2, 10 resamples"], t = time.perf_counter() - t, time.perf_counter()
    aligned = align(load_runs([folder / "prun0", folder / "prun1"]))
    out["read + align"], t = time.perf_counter() - t, time.perf_counter()
    comp = compare_aligned(aligned, resamples=10)
    out["compare, 10 resamples"], t = time.perf_counter() - t, time.perf_counter()
    (folder / "page.html").write_text(render_report(comp, title="scale"), encoding="utf-8")
    out["render page"] = time.perf_counter() - t
    phases.write_text(json.dumps(out))


def bench(size: int, work: Path, browser: bool, a_cli_max: int) -> dict[str, tuple[float, float]]:
    folder = work / f"n{size}"
    suite, s0, s1 = make_suite(folder, size)
    reports, cache = folder / "reports", folder / "cache.sqlite"
    common = ["--reports", str(reports), "--cache", str(cache), "--no-progress"]
    fig: dict[str, tuple[float, float]] = {}
    phases = folder / "phases.json"
    w, r, _ = step([__file__, "--page-child", str(folder), str(phases)], module=None)
    fig["in-process (10 res.)"] = (w, r)
    for name, sec in (json.loads(phases.read_text()) if phases.exists() else {}).items():
        fig[f"  {name}"] = (sec, 0.0)
    page = folder / "page.html"
    fig["page file (MB)"] = (page.stat().st_size / 1e6 if page.exists() else float("nan"), 0.0)
    if browser and page.exists():
        fs = first_screen(page)
        fig["page first screen"] = (fs if fs is not None else float("nan"), 0.0)
    if size > a_cli_max:
        return fig
    w0, r0, _ = step(["run", str(suite), "--model", f"scripted:{s0}", "--out", str(folder / "run0"), *common])
    w1, r1, _ = step(["run", str(suite), "--model", f"scripted:{s1}", "--out", str(folder / "run1"), *common])
    fig["run (per model)"] = ((w0 + w1) / 2, max(r0, r1))
    w, r, _ = step(["run", str(suite), "--model", f"scripted:{s1}", "--out", str(folder / "run1b"), *common])
    fig["run, cached"] = (w, r)
    runs = [str(folder / "run0"), str(folder / "run1")]
    w, r, _ = step(["compare", *runs, "--out", str(folder / "cmp"), "--format", "json"])
    fig["compare"] = (w, r)
    w, r, _ = step(["gate", str(suite), "--baseline", runs[0], "--candidate", runs[1], "--out", str(folder / "gate"),
                    "--format", "json", *common])
    fig["gate"] = (w, r)
    html = folder / "report.html"
    w, r, _ = step(["report", *runs, "--suite", str(suite), "--out", str(html)])
    fig["report"] = (w, r)
    fig["report file (MB)"] = (html.stat().st_size / 1e6 if html.exists() else float("nan"), 0.0)
    if browser and html.exists():
        fs = first_screen(html)
        fig["first screen (s)"] = (fs if fs is not None else float("nan"), 0.0)
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--cli-max", type=int, default=100000,
                    help="run the CLI steps (full bootstrap) only up to this size; larger sizes get the in-process rows")
    ap.add_argument("--timeout", type=float, default=LIMITS["timeout"], help="seconds before a step is killed (shown as nan)")
    ap.add_argument("--page-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.page_child:
        page_child(*a.page_child)
        return
    LIMITS["timeout"] = a.timeout
    sizes = [int(s) for s in a.sizes.split(",")]
    tmp = None if a.keep else tempfile.TemporaryDirectory(prefix="harness-scale-")
    work = a.keep or Path(tmp.name)  # type: ignore[union-attr]
    results = {}
    for n in sizes:
        load = os.getloadavg()[0]
        results[n] = bench(n, work, not a.no_browser, a.cli_max)
        print(f"n={n}: done (load average {load:.1f} -> {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    steps = list(dict.fromkeys(k for r in results.values() for k in r))
    head = f"{'step':<26}" + "".join(f"{f'{n:,}: s':>12}{'MB':>7}" for n in sizes)
    head += "".join(f"{f'x {b // a}':>9}" for a, b in itertools.pairwise(sizes))
    print(f"{os.cpu_count()} CPUs, load average now {os.getloadavg()[0]:.1f}; s: wall seconds (or the row's unit), "
          "MB: the step's peak RSS; at the right, ratios between sizes")
    print(head)
    for s in steps:
        line = f"{s:<26}"
        for n in sizes:
            wall, mb = results[n].get(s, (float("nan"), 0.0))
            line += f"{wall:>12.2f}{(f'{mb:.0f}' if mb and not math.isnan(mb) else ''):>7}"
        for a_, b_ in itertools.pairwise(sizes):
            x, y = results[a_].get(s, (float("nan"),))[0], results[b_].get(s, (float("nan"),))[0]
            line += f"{(y / x if x else float('nan')):>9.1f}"
        print(line)
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
