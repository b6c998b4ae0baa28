"""Draws the retention subsets under datasets/retention/<name>/ from public benchmark files.

The sources are git snapshots of public GitHub repositories (one folder per repository, as the
workplace's `fetch` lays them out: <mirror>/<owner>+<name>/repo). Each source file is read at a
pinned commit with `git show` and checked against a pinned sha256, so the subsets cannot drift
from what SOURCE.md names. Nothing is downloaded.

    python datasets/retention/build.py --mirror /work/.mirror
    python datasets/retention/build.py --mirror /work/.mirror --only gsm8k --size gsm8k.test=120

Writes, per set: test.jsonl, demo.jsonl (a stratified subset of test.jsonl), fewshot.jsonl where
the benchmark's standard setting is few-shot, LICENSE (the upstream licence text, verbatim from
the snapshot) and SOURCE.md (repository, path, commit, licence, seed, sizes, strata, command and
the sha256 of every file written). Subsets are drawn with proportional stratified sampling
(largest remainder) from random.Random(f"{seed}:{name}:{split}") and kept in source order.
"""
from __future__ import annotations

import argparse
import bz2
import hashlib
import json
import math
import random
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 22

# lm-evaluation-harness, the reference for the prompt formats and preprocessing used below.
LM_EVAL = "EleutherAI/lm-evaluation-harness"
LM_EVAL_COMMIT = "4e7e0d47f33bc71070c1d38394bafbb52b117163"


@dataclass(frozen=True)
class Blob:
    """One file of one repository at one commit, with the sha256 of its bytes."""

    repo: str
    commit: str
    path: str
    sha256: str

    def url(self) -> str:
        return f"https://github.com/{self.repo}/blob/{self.commit}/{self.path}"


@dataclass(frozen=True)
class SetSpec:
    name: str
    title: str
    licence: str
    data: tuple[Blob, ...]
    licence_files: tuple[Blob, ...]
    upstream: str  # where the data comes from, when the file we read is a copy or a conversion
    strata: str
    sizes: dict[str, int]
    draw: Callable[[SetSpec, list[bytes], dict[str, int], int], dict[str, list[dict[str, Any]]]]
    notes: tuple[str, ...] = field(default=())


# ---------------------------------------------------------------------------------------------
# sampling


def stratified(items: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], str], n: int,
               rng: random.Random) -> list[dict[str, Any]]:
    """n items, each stratum getting its proportional share (largest remainder, ties by stratum
    name), drawn at random within the stratum; returned in the order of `items`."""
    if n > len(items):
        raise SystemExit(f"asked for {n} items but the source has only {len(items)}")
    groups: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        groups.setdefault(key(item), []).append(i)
    names = sorted(groups)
    exact = {g: n * len(groups[g]) / len(items) for g in names}
    quota = {g: math.floor(exact[g]) for g in names}
    rest = n - sum(quota.values())
    for g in sorted(names, key=lambda g: (-(exact[g] - quota[g]), g))[:rest]:
        quota[g] += 1
    chosen: list[int] = []
    for g in names:
        chosen.extend(rng.sample(groups[g], quota[g]))
    return [items[i] for i in sorted(chosen)]


def rng_for(seed: int, name: str, split: str) -> random.Random:
    return random.Random(f"{seed}:{name}:{split}")


def test_and_demo(spec: SetSpec, items: list[dict[str, Any]], key: Callable[[dict[str, Any]], str],
                  sizes: dict[str, int], seed: int) -> dict[str, list[dict[str, Any]]]:
    test = stratified(items, key, sizes["test"], rng_for(seed, spec.name, "test"))
    demo = stratified(test, key, sizes["demo"], rng_for(seed, spec.name, "demo"))
    return {"test": test, "demo": demo}


def lines(raw: bytes) -> list[str]:
    return [ln for ln in raw.decode("utf-8").splitlines() if ln.strip()]


# ---------------------------------------------------------------------------------------------
# the sets


def draw_arc_easy(spec: SetSpec, raw: list[bytes], sizes: dict[str, int], seed: int):
    items = []
    for i, ln in enumerate(lines(raw[0])):
        d = json.loads(ln)
        q = d["query"]
        if not q.startswith("Question: "):
            raise SystemExit(f"{spec.data[0].path}:{i + 1}: query does not start with 'Question: '")
        items.append({"id": f"arc-easy-test-{i:04d}", "question": q[len("Question: "):],
                      "choices": list(d["choices"]), "label": int(d["gold"]), "category": None})
    return test_and_demo(spec, items, lambda d: str(d["label"]), sizes, seed)


def hellaswag_preprocess(text: str) -> str:
    """lm_eval/tasks/hellaswag/utils.py preprocess() at LM_EVAL_COMMIT, applied as written there."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def draw_hellaswag(spec: SetSpec, raw: list[bytes], sizes: dict[str, int], seed: int):
    rows = bz2.decompress(raw[0]).decode("utf-8").split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    if len(rows) % 6:
        raise SystemExit(f"{spec.data[0].path}: {len(rows)} lines, not 6 per item")
    items = []
    for i in range(len(rows) // 6):
        ctx, gold, *endings = rows[6 * i: 6 * i + 6]
        label, sep, _ = ctx.partition(": ")
        if not sep:
            raise SystemExit(f"{spec.data[0].path}: item {i} has no 'activity_label: ' prefix")
        items.append({"id": f"hellaswag-val-{i:05d}", "query": hellaswag_preprocess(ctx),
                      "choices": [hellaswag_preprocess(e) for e in endings], "label": int(gold),
                      "category": label})
    return test_and_demo(spec, items, lambda d: d["category"], sizes, seed)


def gsm8k_item(split: str, i: int, d: dict[str, Any]) -> dict[str, Any]:
    answer = d["answer"]
    final = answer.rsplit("#### ", 1)
    if len(final) != 2:
        raise SystemExit(f"gsm8k {split} line {i + 1}: answer has no '#### N' line")
    return {"id": f"gsm8k-{split}-{i:04d}", "question": d["question"], "answer": answer,
            "target": final[1].strip().replace(",", "")}


def gsm8k_steps(d: dict[str, Any]) -> str:
    steps = d["answer"].count("\n")  # solution lines before the '#### N' line
    return str(min(max(steps, 2), 6))  # 2 (<=2), 3, 4, 5, 6 (>=6)


def draw_gsm8k(spec: SetSpec, raw: list[bytes], sizes: dict[str, int], seed: int):
    test = [gsm8k_item("test", i, json.loads(ln)) for i, ln in enumerate(lines(raw[0]))]
    train = [gsm8k_item("train", i, json.loads(ln)) for i, ln in enumerate(lines(raw[1]))]
    out = test_and_demo(spec, test, gsm8k_steps, sizes, seed)
    out["fewshot"] = train[: sizes["fewshot"]]  # lm-eval's gsm8k: fewshot_split train, sampler first_n
    return out


def draw_ifeval(spec: SetSpec, raw: list[bytes], sizes: dict[str, int], seed: int):
    items = []
    for ln in lines(raw[0]):
        d = json.loads(ln)
        items.append({"id": f"ifeval-{d['key']}", "key": d["key"], "prompt": d["prompt"],
                      "instruction_id_list": d["instruction_id_list"], "kwargs": d["kwargs"]})
    return test_and_demo(spec, items, lambda d: d["instruction_id_list"][0].split(":")[0], sizes, seed)


HEADING = re.compile(r"^ = [^=].* = $")


def wikitext_chunks(text: str, min_words: int, max_words: int) -> list[dict[str, Any]]:
    """Articles start at a top-level heading line (' = Title = '); each article's non-empty lines
    are grouped, at line boundaries, into chunks of at least min_words words; chunks over
    max_words are dropped."""
    articles: list[tuple[str, list[str]]] = []
    for ln in text.replace("\r\n", "\n").split("\n"):
        if HEADING.match(ln):
            articles.append((ln.strip(" =").strip(), []))
        if ln.strip() and articles:
            articles[-1][1].append(ln.strip())
    chunks = []
    for a, (title, paras) in enumerate(articles):
        cur: list[str] = []
        c = 0
        for p in paras:
            cur.append(p)
            n = sum(len(x.split()) for x in cur)
            if n >= min_words:
                if n <= max_words:
                    chunks.append({"id": f"wikitext-test-{a:02d}-{c:02d}", "title": title,
                                   "text": "\n".join(cur)})
                c += 1
                cur = []
    return chunks


def draw_wikitext(spec: SetSpec, raw: list[bytes], sizes: dict[str, int], seed: int):
    chunks = wikitext_chunks(raw[0].decode("utf-8"), sizes["min_words"], sizes["max_words"])
    by_article: dict[str, list[dict[str, Any]]] = {}
    for ch in chunks:
        by_article.setdefault(ch["id"].rsplit("-", 1)[0], []).append(ch)
    rng = rng_for(seed, spec.name, "test")
    arts = sorted(rng.sample(sorted(by_article), sizes["test"]))
    test = [rng.choice(by_article[a]) for a in arts]  # one chunk per article
    demo = stratified(test, lambda d: "all", sizes["demo"], rng_for(seed, spec.name, "demo"))
    return {"test": test, "demo": demo}


MIT_HELLASWAG = Blob("rowanz/hellaswag", "a29ff8e9a04bba4bd6588223785ce105328adc57", "LICENSE",
                     "7fa4c79209aed73ac82176cae51eb565ae0f33cf4108b380121c7731953f415f")
SETS: dict[str, SetSpec] = {s.name: s for s in [
    SetSpec(
        name="arc_easy", title="ARC-Easy (test), knowledge multiple choice",
        licence="CC BY-SA 4.0 (the ARC data, Allen Institute for AI); the file was read from "
                "mosaicml/llm-foundry (Apache-2.0)",
        data=(Blob("mosaicml/llm-foundry", "8c8dd48f72168c5d51e2f7b151595892a8fba43d",
                   "scripts/eval/local_data/world_knowledge/arc_easy.jsonl",
                   "d2d12e59543acf9a5ef6079634a72b30215e36c2fd4236fff3bc855d287b87f5"),),
        licence_files=(Blob("mosaicml/llm-foundry", "8c8dd48f72168c5d51e2f7b151595892a8fba43d",
                            "LICENSE",
                            "6000cff1fc348ff57108619330c26d67d596bf44c68661c749a6c561cdc3fb4f"),),
        upstream="AI2 Reasoning Challenge, ARC-V1-Feb2018, ARC-Easy-Test.jsonl (2376 questions), "
                 "https://allenai.org/data/arc, licensed CC BY-SA 4.0 "
                 "(https://creativecommons.org/licenses/by-sa/4.0/legalcode). llm-foundry's copy "
                 "holds the test questions in ARC's order as {query: 'Question: ...', choices, "
                 "gold}, without ARC's question ids or grade.",
        strata="gold label index (0-3), proportional", sizes={"test": 300, "demo": 40},
        draw=draw_arc_easy,
        notes=("id arc-easy-test-NNNN is the 0-based line of the question in the source file.",
               "question = the source's query without its 'Question: ' prefix; category is null "
               "(the copy carries no grade).",
               "Every question in the copy has 4 choices.")),
    SetSpec(
        name="hellaswag", title="HellaSwag (validation), commonsense completion",
        licence="MIT (rowanz/hellaswag). The conversion's repository, klosax/hellaswag_text_data, "
                "was MIT from its first commit (b0e61d99) until its last commit (1105d370) deleted "
                "the LICENSE file; both MIT texts are below",
        data=(Blob("klosax/hellaswag_text_data", "1105d370f8340eac3c63a91fd1fa58e8999f9505",
                   "hellaswag_val_full.txt.bz2",
                   "50b637899e4263c2bc456c2dc726c95d2c8cd8e2a552ea5bd7719ce3cb03fe5b"),),
        licence_files=(MIT_HELLASWAG,
                       Blob("klosax/hellaswag_text_data", "b0e61d999e8d156d811c71391134c44877518ab9",
                            "LICENSE",
                            "117b84cbb25552478c1d02978443e68e12e7d61a9f7533f25abce5a3d8212740")),
        upstream="rowanz/hellaswag data/hellaswag_val.jsonl (10042 items) at "
                 "a29ff8e9a04bba4bd6588223785ce105328adc57. That file is over the snapshot size "
                 "limit, so it was read through klosax/hellaswag_text_data's conversion of it "
                 "(6 lines per item: activity_label + ': ' + ctx, label, 4 endings, each with "
                 "[header]/[step]/[substeps]/[title] markers removed; see its "
                 "extract_hellaswag.cpp).",
        strata="activity_label, proportional (largest remainder)", sizes={"test": 300, "demo": 30},
        draw=draw_hellaswag,
        notes=("query = lm-eval's preprocess() (lm_eval/tasks/hellaswag/utils.py) applied to the "
               "converted context line; choices = preprocess() of each ending; label = int(label).",
               "Known difference from lm-eval's own hellaswag: lm-eval builds the context as "
               "ctx_a + ' ' + ctx_b.capitalize(); the conversion kept the joined raw ctx, so the "
               "first word of ctx_b keeps its lower case ('... on a roof. he' where lm-eval has "
               "'... on a roof. He'). Endings and labels are unaffected. A parity bench that feeds "
               "these files to both sides is unaffected; published HellaSwag figures are not "
               "exactly comparable.",
               "id hellaswag-val-NNNNN is the 0-based index of the item in hellaswag_val.jsonl; "
               "category is its activity_label.")),
    SetSpec(
        name="gsm8k", title="GSM8K (test), grade-school math by generation",
        licence="MIT (openai/grade-school-math)",
        data=(Blob("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c",
                   "grade_school_math/data/test.jsonl",
                   "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"),
              Blob("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c",
                   "grade_school_math/data/train.jsonl",
                   "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465")),
        licence_files=(Blob("openai/grade-school-math", "3101c7d5072418e28b9008a6636bde82a006892c",
                            "LICENSE",
                            "86bbb73e855821d7c401912fd4bf82e34313e6e3b6fd6f909f2b6cc9e209a53b"),),
        upstream="the repository itself is the upstream.",
        strata="solution length (lines before '#### N': <=2, 3, 4, 5, >=6), proportional",
        sizes={"test": 150, "demo": 5, "fewshot": 5},
        draw=draw_gsm8k,
        notes=("answer = the full solution text ending '#### N'; target = N with thousands "
               "commas removed (lm-eval's gsm8k ignores ',' and '$' when matching).",
               "fewshot.jsonl = the first 5 train items (lm-eval's gsm8k: fewshot_split train, "
               "num_fewshot 5, sampler first_n), ids gsm8k-train-NNNN.")),
    SetSpec(
        name="ifeval", title="IFEval, instruction following with verifiable instructions",
        licence="Apache-2.0 (google-research/google-research)",
        data=(Blob("Podtech-AI/IFEval", "5bdf377eb9cc20f16d377dc5c38413cee22550a6",
                   "data/input_data.jsonl",
                   "67ffeee0fcb87c317c5b08a2de85557b4a7e96ada6178aa645b4954fe4b53d49"),),
        licence_files=(Blob("shisa-ai/M-IFEval", "06f08ff3b2681a7e875124aa6946bcc93739aced",
                            "LICENSE.txt",
                            "58d1e17ffe5109a7ae296caafcadfdbe6a7d176f0bc4ab01e12a689b0499d8bd"),),
        upstream="google-research/google-research instruction_following_eval/data/input_data.jsonl "
                 "(541 prompts; the index's stored version is at commit "
                 "19638399cc9e03623c5b9087a1d6fa8813974ce9, 207111 characters). That repository "
                 "is over the snapshot size limit; the bytes were read from Podtech-AI/IFEval's "
                 "initial commit, a clone of the folder (same length, 207111 bytes, 541 lines, "
                 "same first and last records as the upstream file).",
        strata="instruction group of the first instruction (detectable_format, keywords, ...), "
               "proportional", sizes={"test": 150, "demo": 5},
        draw=draw_ifeval,
        notes=("id ifeval-KEY; key, prompt, instruction_id_list and kwargs are the upstream "
               "record's fields unchanged (lm-eval's ifeval reads key, prompt, "
               "instruction_id_list, kwargs).",
               "LICENSE is the Apache License 2.0 text as shipped by shisa-ai/M-IFEval (a fork of "
               "the same google-research folder); google-research's own LICENSE file is not in "
               "any snapshot reachable here.",
               "Checker, offline: lm-eval 0.4.13's lm_eval.tasks.ifeval (pip install "
               "lm-eval==0.4.13 langdetect immutabledict; nltk>=3.9.1) plus nltk's punkt_tab "
               "data, which nltk.download cannot fetch offline: pip install --no-deps "
               "llama-index-core==0.14.25 ships it (MIT; byte-identical to nltk_data's punkt_tab: "
               "english/ortho_context.tab sha256 4bbcca25ed3d3f06..., README d3251cae66a9359b...) "
               "under llama_index/core/_static/nltk_cache; point NLTK_DATA there before importing "
               "the checker. Checked here: all 150 test items score without error, no download "
               "attempted.")),
    SetSpec(
        name="wikitext", title="WikiText-2 (raw, test), reference-text perplexity",
        licence="CC BY-SA 3.0 (and GFDL), WikiText by Merity et al. from Wikipedia; the file was "
                "read from Tylogi/TyloQuant (Apache-2.0 code; its README says the data keeps its "
                "upstream licences)",
        data=(Blob("Tylogi/TyloQuant", "7989d038b13ca737da11a95fb90e77ae059f33c0",
                   "data/wikitext-2-raw/wiki.test.raw",
                   "4f3e427e4aff23acff917a8a51aeae21bf12832256e26914c8fc250dcef4103c"),),
        licence_files=(Blob("Tylogi/TyloQuant", "7989d038b13ca737da11a95fb90e77ae059f33c0",
                            "data/wikitext-2-raw/README.md",
                            "06a081285d93d7f5147510855ab45fd795879d9d5803412c14212d9f3521ae0c"),),
        upstream="wikitext-2-raw-v1, test split (Salesforce/wikitext; Merity, Xiong, Bradbury, "
                 "Socher, Pointer Sentinel Mixture Models, 2016), licensed CC BY-SA 3.0 "
                 "(https://creativecommons.org/licenses/by-sa/3.0/legalcode) and GFDL.",
        strata="article: one chunk each from distinct articles",
        sizes={"test": 40, "demo": 5, "min_words": 250, "max_words": 600},
        draw=draw_wikitext,
        notes=("Articles start at top-level headings (' = Title = '); each article's non-empty "
               "lines are stripped and grouped, at line boundaries, into chunks of at least "
               "min_words words (chunks over max_words dropped); one chunk per sampled article.",
               "text is the raw WikiText tokenisation (' @-@ ', ' , '), lines joined by '\\n'; "
               "lm-eval's wikitext detokenizer is not applied, so both sides of a comparison "
               "score the same string.",
               "id wikitext-test-AA-CC: article AA (0-based) of the file, chunk CC of the article.")),
]}

# ---------------------------------------------------------------------------------------------
# reading the snapshots


def git_dir(mirror: Path, repo: str) -> Path:
    base = mirror / repo.replace("/", "+")
    for cand in (base / "repo" / ".git", base / "repo", base):
        if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
            return cand
    raise SystemExit(f"no git snapshot of {repo} under {base}: fetch github:{repo} first")


def read_blob(mirror: Path, blob: Blob) -> bytes:
    gd = git_dir(mirror, blob.repo)
    res = subprocess.run(["git", "--git-dir", str(gd), "show", f"{blob.commit}:{blob.path}"],
                         capture_output=True)
    if res.returncode:
        raise SystemExit(f"{blob.repo}@{blob.commit[:12]}:{blob.path}: "
                         f"{res.stderr.decode(errors='replace').strip()}")
    return res.stdout


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checked(mirror: Path, blob: Blob) -> bytes:
    data = read_blob(mirror, blob)
    if sha256(data) != blob.sha256:
        raise SystemExit(f"{blob.repo}@{blob.commit[:12]}:{blob.path}: sha256 {sha256(data)}, "
                         f"expected {blob.sha256} (a different file than SOURCE.md names)")
    return data


# ---------------------------------------------------------------------------------------------
# writing


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def licence_text(spec: SetSpec, blobs: list[bytes]) -> bytes:
    head = (f"The files in this folder are a subset of: {spec.title}.\n"
            f"Licence: {spec.licence}.\n"
            f"Upstream: {spec.upstream}\n\n")
    parts = [head.encode()]
    for b, text in zip(spec.licence_files, blobs):
        parts.append(f"---- {b.path} of {b.repo} at {b.commit}, verbatim ----\n\n".encode())
        parts.append(text if text.endswith(b"\n") else text + b"\n")
        parts.append(b"\n")
    return b"".join(parts)


def source_md(spec: SetSpec, sizes: dict[str, int], seed: int,
              files: dict[str, bytes], counts: dict[str, int], command: str) -> str:
    out = [f"# {spec.title}", "", "## Source", "",
           "| repository | path | commit | sha256 of the file |", "|---|---|---|---|"]
    out += [f"| {b.repo} | {b.path} | {b.commit} | {b.sha256} |" for b in spec.data]
    out += ["", f"- Licence: {spec.licence}.", f"- Upstream: {spec.upstream}",
            f"- Prompt formats and preprocessing follow {LM_EVAL} at {LM_EVAL_COMMIT} "
            "(lm_eval/tasks/).", ""]
    out += ["## How the subset was drawn", "",
            f"- Seed {seed}: random.Random(\"{seed}:{spec.name}:<split>\"); proportional "
            "stratified sampling (largest remainder), items kept in source order; demo.jsonl is "
            "drawn the same way from test.jsonl, so every demo item is a test item.",
            f"- Strata: {spec.strata}.",
            "- Sizes: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + ".",
            f"- Command: `{command}`"]
    out += [f"- {n}" for n in spec.notes]
    out += ["", "## Files", "", "| file | items | sha256 |", "|---|---|---|"]
    out += [f"| {name} | {counts.get(name, '-')} | {sha256(data)} |" for name, data in files.items()]
    return "\n".join(out) + "\n"


def build(spec: SetSpec, mirror: Path, out_dir: Path, sizes: dict[str, int], seed: int,
          command: str) -> dict[str, bytes]:
    raw = [checked(mirror, b) for b in spec.data]
    splits = spec.draw(spec, raw, sizes, seed)
    files = {f"{s}.jsonl": jsonl(rows) for s, rows in splits.items()}
    counts = {f"{s}.jsonl": len(rows) for s, rows in splits.items()}
    files["LICENSE"] = licence_text(spec, [checked(mirror, b) for b in spec.licence_files])
    files["SOURCE.md"] = source_md(spec, sizes, seed, dict(files), counts,
                                   command).encode()
    target = out_dir / spec.name
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (target / name).write_bytes(data)
    return files


def parse_sizes(pairs: list[str]) -> dict[str, dict[str, int]]:
    sizes = {n: dict(s.sizes) for n, s in SETS.items()}
    for p in pairs:
        m = re.fullmatch(r"(\w+)\.(\w+)=(\d+)", p)
        if not m or m[1] not in sizes or m[2] not in sizes[m[1]]:
            known = ", ".join(f"{n}.{k}" for n, d in sizes.items() for k in d)
            raise SystemExit(f"--size {p!r}: expected NAME.KEY=INT, one of: {known}")
        sizes[m[1]][m[2]] = int(m[3])
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mirror", type=Path, required=True,
                    help="folder of git snapshots, <owner>+<name>/repo each")
    ap.add_argument("--out", type=Path, default=HERE, help="default: datasets/retention")
    ap.add_argument("--only", action="append", choices=sorted(SETS), help="repeatable")
    ap.add_argument("--size", action="append", default=[], metavar="NAME.KEY=N")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    sizes = parse_sizes(args.size)
    for name in args.only or sorted(SETS):
        # the command that rebuilds this set as it is (--only and --out change nothing in it)
        command = " ".join(["python datasets/retention/build.py --mirror", str(args.mirror)]
                           + ([f"--seed {args.seed}"] if args.seed != SEED else [])
                           + [f"--size {name}.{k}={v}" for k, v in sizes[name].items()
                              if v != SETS[name].sizes[k]])
        files = build(SETS[name], args.mirror, args.out, sizes[name], args.seed, command)
        print(f"{name}: " + ", ".join(f"{k} {v.count(10) if k.endswith('.jsonl') else len(v)}"
                                      for k, v in files.items() if k.endswith(".jsonl")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
