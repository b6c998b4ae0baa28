"""Distillation data: a recording's answers as chat training examples (the teacher's answer is the target).

`harness data prepare --from-recording DIR` writes ``OUT/distilled.jsonl`` (one chat example a
recorded output: the prompt that was sent plus the answer as the assistant turn, with the input's
id and, where known, its category) and then prepares it exactly as any other chat file: cleaning,
dedup, overlong and empty examples dropped, the contamination check against ``--suite``'s test
split. ``harness iterate SUITE --data OUT/distilled.jsonl`` trains on it the same way.

Inputs the recording has no answer for (the call failed) are left out and counted. With
``--category-from-output`` the teacher's answer is also the example's category (classification:
its label), so the split is stratified and the loop can re-weight by it.

``--with-split SPLIT`` adds ``--suite``'s labelled split (its references as the targets, its prompt
as the suite renders it) to the teacher's answers: the replacement learns the retiring model's
behaviour on production traffic plus the ground truth. Where both have the same prompt the label
wins (the teacher's answer is dropped, and counted when it disagreed), so a teacher's mistake on a
labelled input is never trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl
from harness.core.trust import TrustPolicy
from harness.records.recording import Recording, load_recording

DISTILLED = "distilled.jsonl"


def distill_rows(rec: Recording, category_key: str = "category", category_from_output: bool = False) -> tuple[list[dict[str, Any]], list[str]]:
    """Chat rows with the recorded answers as targets, and the ids left out (no answer)."""
    rows, skipped = [], []
    for r in rec.rows:
        if r.get("output") is None:
            skipped.append(r["id"])
            continue
        row: dict[str, Any] = {"id": r["id"]}
        category = r["output"].strip() if category_from_output else r.get("category")
        if category is not None:
            row[category_key] = category
        row["messages"] = [dict(m) for m in r["messages"]] + [{"role": "assistant", "content": r["output"]}]
        rows.append(row)
    return rows, skipped


def labelled_rows(suite: Path, split: str, category_key: str = "category",
                  trust: TrustPolicy | None = None) -> list[dict[str, Any]]:
    """A suite's labelled split as chat rows: the prompt the suite sends, the reference as the answer
    (its dataset inside ``trust``'s data root; None: :meth:`TrustPolicy.from_env`)."""
    from harness.data.examples import load_split, render_messages
    from harness.suite.load import load_suite

    loaded = load_suite(suite, trust=trust)
    if split not in loaded.suite.dataset.split_names():
        raise HarnessError(f"--with-split {split}: {suite} has no such split; it has: {', '.join(loaded.suite.dataset.split_names())}")
    examples = load_split(loaded.suite.dataset, loaded.dataset_dir(), split, loaded.suite.prompt).examples
    rows = []
    for ex in examples:
        if ex.reference is None:
            raise HarnessError(f"--with-split {split}: {suite}: example {ex.id!r} (line {ex.line}) has no reference to train on")
        ref = ex.reference if isinstance(ex.reference, str) else json.dumps(ex.reference, ensure_ascii=False)
        row: dict[str, Any] = {"id": f"{split}:{ex.id}"}
        if ex.category is not None:
            row[category_key] = ex.category
        row["messages"] = [{"role": r, "content": c} for r, c in render_messages(loaded.suite.prompt, ex)]
        row["messages"].append({"role": "assistant", "content": ref})
        rows.append(row)
    return rows


def merge_labelled(taught: list[dict[str, Any]], labelled: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Labelled rows first, then the teacher's rows whose prompt no labelled row has; with the counts."""
    prompts = {json.dumps(r["messages"][:-1], sort_keys=True): r["messages"][-1]["content"] for r in labelled}
    kept, overlap, disagreed = [], 0, 0
    for r in taught:
        label = prompts.get(json.dumps(r["messages"][:-1], sort_keys=True))
        if label is None:
            kept.append(r)
            continue
        overlap += 1
        disagreed += r["messages"][-1]["content"].strip() != label.strip()
    return labelled + kept, {"labelled": len(labelled), "teacher_only": len(kept), "overlap": overlap,
                             "teacher_disagreed_with_label": disagreed}


def write_distilled(recording: Path, out_dir: Path, category_key: str | None, category_from_output: bool,
                    with_split: tuple[Path, str] | None = None,
                    trust: TrustPolicy | None = None) -> tuple[Path, dict[str, Any]]:
    """Write OUT/distilled.jsonl; returns it and the provenance to keep in the prepare report."""
    rec = load_recording(recording)
    rows, skipped = distill_rows(rec, category_key or "category", category_from_output)
    if not rows:
        raise HarnessError(f"{recording}: no recorded outputs to train on ({len(skipped)} inputs failed when recorded)")
    mixed = None
    if with_split is not None:
        rows, mixed = merge_labelled(rows, labelled_rows(*with_split, category_key or "category", trust))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / DISTILLED
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    h = rec.header
    provenance = {"recording": str(rec.folder), "teacher": h.model.get("display"), "reported_models": h.reported_models,
                  "system_fingerprints": h.system_fingerprints, "recorded": h.created, "outputs_sha256": h.outputs_sha256,
                  "kind": h.kind, "examples": len(rows), "skipped_no_output": skipped[:20], "n_skipped": len(skipped)}
    if mixed is not None:
        provenance["with_split"] = {"suite": str(with_split[0]), "split": with_split[1], **mixed}  # type: ignore[index]
    return path, provenance


def recording_as_input(args: Any) -> dict[str, Any]:
    """`data prepare --from-recording`: point the prepare options at the distilled file (the CLI's hook)."""
    if args.input is not None:
        raise HarnessError("data prepare: give INPUT or --from-recording DIR, not both")
    if args.format not in ("auto", "chat"):
        raise HarnessError("data prepare --from-recording: the distilled file is chat JSONL; drop --format")
    with_split = None
    if args.with_split:
        if not args.suite:
            raise HarnessError("data prepare --with-split SPLIT: name the suite whose split it is with --suite SUITE")
        with_split = (args.suite[0], args.with_split)
    path, provenance = write_distilled(args.from_recording, args.out, args.category_field, args.category_from_output,
                                       with_split, getattr(args, "trust", None))
    args.input, args.format, args.id_field = path, "chat", "id"
    if args.category_field is None and "category" in next(read_jsonl(path, objects=True), (0, {}))[1]:
        args.category_field = "category"
    return provenance


def annotate_report(report_path: Path, provenance: dict[str, Any]) -> None:
    """Keep where the training targets came from in prepare_report.json."""
    report = json.loads(report_path.read_text(encoding="utf-8"))
    report["from_recording"] = provenance
    report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
