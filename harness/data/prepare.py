"""`harness data prepare`: raw examples -> clean chat train/validation files and a report.

    read (chat or preference JSONL, or input/output JSONL or CSV) -> to chat -> normalise -> drop empty and
    overlong -> drop exact and near duplicates -> contamination check -> split -> write

Every step counts what it changed; ``prepare_report.json`` records the counts, examples of what
was dropped, and the hashes of the input and both outputs, so a trained model can be traced back
to exactly the data it saw.

Preference (DPO) files go through the same steps: a pair is held as its chat conversation ending
on the preferred answer plus the non-preferred one (``Record.rejected``), and written back in
OpenAI's preference format.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from harness.core.errors import HarnessError, InputProblems, Problem
from harness.core.hashing import sha256_file
from harness.core.trust import TrustPolicy
from harness.data.contamination import (
    DEFAULT_NGRAM,
    DEFAULT_THRESHOLD,
    Overlap,
    find_overlaps,
    suite_test_texts,
)
from harness.data.dedup import near_duplicates
from harness.data.validate import DEFAULT_MAX_TOKENS, example_problems, token_counter
from harness.suite.schema import PromptSpec

REPORT_EXAMPLES = 20  # dropped examples listed in the report per reason


class PrepareConfig(BaseModel):
    """Everything `harness data prepare` does, recorded in prepare_report.json."""

    model_config = ConfigDict(extra="forbid")

    input: Path = Field(..., description="Raw data: chat JSONL, or JSONL/CSV with input and output columns.")
    out_dir: Path = Field(..., description="Folder for train.jsonl, validation.jsonl and prepare_report.json.")
    format: Literal["auto", "chat", "preference", "jsonl", "csv"] = Field(
        "auto", description="auto: by extension; chat when lines hold `messages`, preference when they hold "
                            "`input`, `preferred_output` and `non_preferred_output`.")
    input_field: str = Field("input", description="Column with the user's text (jsonl/csv).")
    output_field: str = Field("output", description="Column with the answer the model should learn (jsonl/csv).")
    id_field: str | None = Field(None, description="Column with a stable id; default FILE:LINE.")
    category_field: str | None = Field(None, description="Column (or chat top-level key) to stratify the split by.")
    system_prompt: str | None = Field(None, description="System message for converted examples; replaces a chat file's own.")
    prompt: PromptSpec | None = Field(None, description="A suite's prompt: render each record as the suite would at evaluation.")
    validation_fraction: float = Field(0.1, ge=0.0, lt=1.0, description="Share of examples held out for validation loss.")
    seed: int = Field(0, description="Seed of the split.")
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=1, description="Examples with more tokens are dropped.")
    tokenizer: Literal["auto", "smollm2", "estimate"] = Field("auto", description="Token counter (see harness data validate).")
    near_duplicate_threshold: float | None = Field(0.8, gt=0, le=1, description="Word-shingle Jaccard at or above which a later example is dropped; null: off.")
    shingle_size: int = Field(1, ge=1, description="Words per shingle for near duplicates. 1 (word sets): training "
                              "examples are short, and with 3-word shingles one changed word in a 14-word sentence "
                              "already falls to Jaccard 0.6; with words, one change in 9 or more words stays >= 0.8.")
    suites: list[Path] = Field(default_factory=list, description="Suites whose test splits training data must not overlap.")
    contamination_ngram: int = Field(DEFAULT_NGRAM, ge=1, description="Word n-gram size of the overlap check.")
    contamination_threshold: float = Field(DEFAULT_THRESHOLD, gt=0, le=1, description="Share of a test input's n-grams found in a training text that counts as contamination.")
    allow_contamination: bool = Field(False, description="Drop contaminated examples instead of refusing.")
    # The caller's data root the ``suites``' datasets must stay inside (harness.core.trust); not recorded.
    trust: InstanceOf[TrustPolicy] = Field(default_factory=TrustPolicy.from_env, exclude=True, repr=False)


class ContaminationFound(InputProblems):
    """Training examples overlap a suite's test split; nothing was written."""


@dataclass
class Record:
    line: int
    id: str
    messages: list[dict[str, Any]]
    user_text: str  # what the contamination check compares (the raw input, not the template)
    category: str | None = None
    rejected: dict[str, Any] | None = None  # preference pairs: the non-preferred answer (messages end on the preferred)
    input_extra: dict[str, Any] = field(default_factory=dict)  # preference pairs: input.tools, parallel_tool_calls

    def all_messages(self) -> list[dict[str, Any]]:
        return self.messages + ([self.rejected] if self.rejected else [])

    def text(self) -> str:
        """The non-system text (both answers of a pair), for duplicate detection."""
        return "\n".join(m.get("content") or "" for m in self.all_messages() if m["role"] != "system")

    def longest(self) -> list[dict[str, Any]]:
        """The longest sequence the model reads at once (a pair: the prompt and its longer answer)."""
        if self.rejected is None:
            return self.messages
        longer = max(self.messages[-1], self.rejected, key=lambda m: len(m.get("content") or ""))
        return self.messages[:-1] + [longer]

    def out(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id}
        if self.category is not None:
            d["category"] = self.category
        if self.rejected is not None:
            return d | {"input": {"messages": self.messages[:-1]} | self.input_extra,
                        "preferred_output": [self.messages[-1]], "non_preferred_output": [self.rejected]}
        return d | {"messages": self.messages}


@dataclass
class PrepareResult:
    train_path: Path
    validation_path: Path | None
    report_path: Path
    report: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------ read and convert

def _detect_format(cfg: PrepareConfig) -> str:
    if cfg.format != "auto":
        return cfg.format
    if cfg.input.suffix.lower() == ".csv":
        return "csv"
    from harness.data.preference import is_preference
    from harness.core.jsonl import jsonl_lines

    for _, obj, _ in itertools.islice(jsonl_lines(cfg.input), 1):
        if isinstance(obj, dict) and "messages" in obj:
            return "chat"
        if is_preference(obj):
            return "preference"
    return "jsonl"


def _str(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def read_records(cfg: PrepareConfig) -> tuple[list[Record], str]:
    """Read and convert every line; raises InputProblems listing every bad one."""
    from harness.core.types import Example
    from harness.data.examples import _read_csv, _read_jsonl, render_messages

    name = str(cfg.input)
    if not cfg.input.is_file():  # before the format is sniffed from the first line
        raise InputProblems([Problem(name, "", "no such file")])
    fmt = _detect_format(cfg)
    problems: list[Problem] = []
    rows = _read_csv(cfg.input, problems) if fmt == "csv" else _read_jsonl(cfg.input, problems)
    records: list[Record] = []
    for line, rec in rows:
        rid = _str(rec[cfg.id_field]) if cfg.id_field and cfg.id_field in rec else f"{cfg.input.name}:{line}"
        cat = _str(rec[cfg.category_field]) if cfg.category_field and rec.get(cfg.category_field) is not None else None
        needed = [f for f in (cfg.id_field, cfg.category_field) if f and f not in rec]
        if fmt == "preference":  # id and category columns are used when there, not required
            rec_or_errs = _preference_record(cfg, line, rec, rid, cat, [])
            if isinstance(rec_or_errs, Record):
                records.append(rec_or_errs)
            else:
                problems += rec_or_errs
            continue
        if fmt == "chat":
            errs = example_problems(rec)
            if errs or needed:
                problems += [Problem(name, "", e, line=line) for e in errs]
                problems += [Problem(name, "", f"missing field {f!r}", line=line) for f in needed]
                continue
            msgs = [dict(m) for m in rec["messages"]]
            if cfg.system_prompt is not None:
                msgs = [{"role": "system", "content": cfg.system_prompt}] + [m for m in msgs if m["role"] != "system"]
            user = "\n".join(m["content"] for m in msgs if m["role"] == "user")
            records.append(Record(line, rid, msgs, user, cat))
            continue
        needed += [f for f in (cfg.input_field, cfg.output_field) if f not in rec]
        if cfg.prompt is not None:
            needed += sorted(v for v in cfg.prompt.variables() if v not in rec and v not in needed)
        if needed:
            have = ", ".join(rec) or "no fields"
            problems.append(Problem(name, "", f"missing field {', '.join(map(repr, needed))}; the record has: {have}", line=line))
            continue
        user = _str(rec[cfg.input_field])
        if cfg.prompt is not None:
            msgs = [{"role": r, "content": c} for r, c in render_messages(cfg.prompt, Example(id=rid, record=rec, line=line))]
        else:
            msgs = ([{"role": "system", "content": cfg.system_prompt}] if cfg.system_prompt else []) + [{"role": "user", "content": user}]
        msgs.append({"role": "assistant", "content": _str(rec[cfg.output_field])})
        records.append(Record(line, rid, msgs, user, cat))
    if problems:
        raise InputProblems(problems)
    if not records:
        raise InputProblems([Problem(name, "", "no examples in this file")])
    return records, fmt


def _preference_record(cfg: PrepareConfig, line: int, rec: dict[str, Any], rid: str, cat: str | None,
                       needed: list[str]) -> Record | list[Problem]:
    from harness.data.preference import INPUT_KEYS, preference_problems

    name = str(cfg.input)
    errs = preference_problems(rec)
    if errs or needed:
        return ([Problem(name, "", e, line=line) for e in errs]
                + [Problem(name, "", f"missing field {f!r}", line=line) for f in needed])
    msgs = [dict(m) for m in rec["input"]["messages"]]
    if cfg.system_prompt is not None:
        msgs = [{"role": "system", "content": cfg.system_prompt}] + [m for m in msgs if m["role"] != "system"]
    user = "\n".join(m["content"] for m in msgs if m["role"] == "user")
    extra = {k: rec["input"][k] for k in INPUT_KEYS if k != "messages" and k in rec["input"]}
    return Record(line, rid, msgs + [dict(rec["preferred_output"][0])], user, cat,
                  rejected=dict(rec["non_preferred_output"][0]), input_extra=extra)


# ------------------------------------------------------------------------------ clean

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFKC, Unix newlines, runs of spaces and tabs to one space, at most one blank line, trimmed."""
    t = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    t = "\n".join(_SPACES.sub(" ", line).strip() for line in t.split("\n"))
    return _BLANK_LINES.sub("\n\n", t).strip()


def normalize(records: list[Record]) -> int:
    """Normalise every message's text in place; returns how many examples changed."""
    changed = 0
    for r in records:
        before = json.dumps(r.all_messages(), ensure_ascii=False)
        for m in r.all_messages():
            if isinstance(m.get("content"), str):
                m["content"] = normalize_text(m["content"])
        r.user_text = normalize_text(r.user_text)
        changed += before != json.dumps(r.all_messages(), ensure_ascii=False)
    return changed


def _ref(r: Record, cfg: PrepareConfig) -> str:
    return f"{r.id} ({cfg.input}:{r.line})"


def drop_empty_and_overlong(records: list[Record], cfg: PrepareConfig, report: dict[str, Any]) -> list[Record]:
    counter = token_counter(cfg.tokenizer)
    report["tokenizer"] = counter.name
    kept, empty, long = [], [], []
    for r in records:
        texts = [m.get("content") for m in r.all_messages() if m["role"] in ("user", "assistant") and not m.get("tool_calls")]
        if not r.text().strip() or any(not t for t in texts):
            empty.append(_ref(r, cfg))
            continue
        n = counter.count(r.longest())
        if n > cfg.max_tokens:
            long.append(f"{_ref(r, cfg)}: {n} tokens")
            continue
        kept.append(r)
    report["counts"] |= {"empty": len(empty), "overlong": len(long)}
    report["dropped"] = {"empty": empty[:REPORT_EXAMPLES], "overlong": long[:REPORT_EXAMPLES]}
    return kept


def drop_duplicates(records: list[Record], cfg: PrepareConfig, report: dict[str, Any]) -> list[Record]:
    seen: dict[str, Record] = {}
    exact, unique = [], []
    for r in records:
        key = json.dumps([(m["role"], m.get("content")) for m in r.all_messages()], ensure_ascii=False)
        if key in seen:
            exact.append({"kept": _ref(seen[key], cfg), "dropped": _ref(r, cfg)})
            continue
        seen[key] = r
        unique.append(r)
    near = []
    if cfg.near_duplicate_threshold is not None:
        pairs = near_duplicates([r.text() for r in unique], cfg.near_duplicate_threshold, cfg.shingle_size)
        gone = {p.dropped for p in pairs}
        for p in pairs:
            a, b = unique[p.kept], unique[p.dropped]
            conflict = a.messages[-1].get("content") != b.messages[-1].get("content")
            near.append({"kept": _ref(a, cfg), "dropped": _ref(b, cfg), "jaccard": p.similarity,
                         "kept_text": a.text()[:200], "dropped_text": b.text()[:200], "different_answers": conflict})
        unique = [r for i, r in enumerate(unique) if i not in gone]
    report["counts"] |= {"exact_duplicates": len(exact), "near_duplicates": len(near)}
    report["duplicates"] = {"exact": exact[:REPORT_EXAMPLES], "near": near[:REPORT_EXAMPLES]}
    return unique


def check_contamination(records: list[Record], cfg: PrepareConfig, report: dict[str, Any]) -> list[Record]:
    """Refuse (raise) when training text overlaps a suite's test split, or drop with allow_contamination."""
    report["contamination"] = {"suites": [str(s) for s in cfg.suites], "ngram": cfg.contamination_ngram,
                               "threshold": cfg.contamination_threshold, "pairs": [], "action": "none"}
    report["counts"]["contaminated"] = 0
    if not cfg.suites:
        return records
    tests = suite_test_texts(cfg.suites, cfg.trust)
    found = find_overlaps([r.user_text for r in records], tests, cfg.contamination_ngram, cfg.contamination_threshold)
    if not found:
        return records
    if not cfg.allow_contamination:
        raise ContaminationFound([_overlap_problem(records[o.train_index], o, cfg) for o in found] + [
            Problem(str(cfg.input), "", f"{len({o.train_index for o in found})} training example(s) overlap test examples; "
                    "fix the data, or pass --allow-contamination to drop them")])
    bad = {o.train_index for o in found}
    report["contamination"] |= {"action": "dropped", "pairs": [_overlap_json(records[o.train_index], o, cfg) for o in found]}
    report["counts"]["contaminated"] = len(bad)
    return [r for i, r in enumerate(records) if i not in bad]


def _overlap_problem(r: Record, o: Overlap, cfg: PrepareConfig) -> Problem:
    t = o.test
    return Problem(str(cfg.input), "", f"example {r.id!r} overlaps test example {t.id!r} of suite {t.suite} at "
                   f"{t.file}:{t.line}: {o.shared}/{o.total} of its {o.n}-word n-grams", line=r.line)


def _overlap_json(r: Record, o: Overlap, cfg: PrepareConfig) -> dict[str, Any]:
    t = o.test
    return {"train": f"{cfg.input}:{r.line}", "train_id": r.id, "test": f"{t.file}:{t.line}", "test_id": t.id,
            "suite": t.suite, "overlap": round(o.score, 4)}


# ------------------------------------------------------------------------------ split and write

def split_records(records: list[Record], fraction: float, seed: int, stratify: bool) -> tuple[list[Record], list[Record]]:
    """Seeded split; per category when ``stratify``. Both parts keep the input order."""
    rng = random.Random(seed)
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        groups[r.category if stratify else None].append(i)
    val: set[int] = set()
    for key in sorted(groups, key=lambda k: (k is None, k or "")):
        idx = groups[key][:]
        rng.shuffle(idx)
        val.update(idx[: round(len(idx) * fraction)])
    if fraction > 0 and not val and len(records) >= 2:
        val.add(rng.randrange(len(records)))
    return [r for i, r in enumerate(records) if i not in val], [r for i, r in enumerate(records) if i in val]


def write_chat(path: Path, records: list[Record]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r.out(), ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return {"path": str(path), "sha256": sha256_file(path), "examples": len(records)}


def prepare_data(cfg: PrepareConfig) -> PrepareResult:
    """Run every step; raises InputProblems (bad lines) or ContaminationFound before writing anything."""
    records, fmt = read_records(cfg)
    report: dict[str, Any] = {
        "input": {"path": str(cfg.input), "sha256": sha256_file(cfg.input), "format": fmt},
        "config": cfg.model_dump(mode="json"),
        "counts": {"read": len(records)},
    }
    report["counts"]["normalized"] = normalize(records)
    records = drop_empty_and_overlong(records, cfg, report)
    records = drop_duplicates(records, cfg, report)
    records = check_contamination(records, cfg, report)
    if not records:
        raise HarnessError(f"{cfg.input}: no examples left after cleaning; see the counts above")
    train, val = split_records(records, cfg.validation_fraction, cfg.seed, cfg.category_field is not None)
    report["counts"] |= {"train": len(train), "validation": len(val)}
    if cfg.category_field:
        report["categories"] = {"train": dict(sorted(Counter(r.category for r in train).items())),
                                "validation": dict(sorted(Counter(r.category for r in val).items()))}
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    outputs = {"train": write_chat(cfg.out_dir / "train.jsonl", train)}
    val_path = None
    if val:
        val_path = cfg.out_dir / "validation.jsonl"
        outputs["validation"] = write_chat(val_path, val)
    report["outputs"] = outputs
    report_path = cfg.out_dir / "prepare_report.json"
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return PrepareResult(cfg.out_dir / "train.jsonl", val_path, report_path, report)


def format_report(res: PrepareResult) -> str:
    c = res.report["counts"]
    lines = [
        f"read {c['read']} example(s) from {res.report['input']['path']} ({res.report['input']['format']})",
        f"normalised {c['normalized']}; dropped {c['empty']} empty, {c['overlong']} overlong, "
        f"{c['exact_duplicates']} exact and {c['near_duplicates']} near duplicate(s), {c['contaminated']} contaminated",
    ]
    for pair in res.report["duplicates"]["near"][:3]:
        lines.append(f"  near duplicate (Jaccard {pair['jaccard']}): {pair['dropped']} ~ {pair['kept']}")
    for pair in res.report["contamination"]["pairs"][:3]:
        lines.append(f"  contaminated (dropped): {pair['train']} ~ {pair['test']} ({pair['overlap']:.0%})")
    lines.append(f"train {c['train']} -> {res.train_path}; validation {c['validation']}"
                 + (f" -> {res.validation_path}" if res.validation_path else ""))
    lines.append(f"report: {res.report_path}")
    return "\n".join(lines)
