"""Agreement metrics against a recording, values computed by hand; refusals of stale recordings."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.cli import main
from harness.records.rundir import load_run
from harness.stats.agreement import cohen_kappa, cohen_kappa_pairs
from tests.conftest import INTENT_SUITE, write_jsonl

pytestmark = pytest.mark.timeout(120)

RECORDED = {"e1": "order_status", "e2": "cancel_order", "e3": "Refund_request.", "e4": "order_status"}
CANDIDATE = {"e1": "order_status", "e2": "refund_request", "e3": "refund_request", "e4": "cancel_order"}
AGREEMENT_METRICS = """\
reference_model:
  recording: rec
"""


def _suite_with_reference(folder: Path, prompt: str = "Classify: {{ text }}", extra_metrics: str = "") -> Path:
    text = INTENT_SUITE.replace("Classify: {{ text }}", prompt).replace("gates:", (
        "  - name: agreement\n"
        "    labels: [order_status, cancel_order, refund_request]\n"
        "  - name: agreement_text\n"
        "    measures: [token_f1, rougeL]\n" + extra_metrics + AGREEMENT_METRICS + "gates:"))
    path = folder / "suite_ref.yaml"
    path.write_text(text + "  - metric: label_agreement\n    min: 0.4\n", encoding="utf-8")
    return path


def _record(tiny_suite: Path, outputs: dict[str, str]) -> Path:
    script = write_jsonl(tiny_suite.parent / "teacher.jsonl", [{"id": k, "output": v} for k, v in outputs.items()])
    assert main(["record", str(tiny_suite), "--model", f"scripted:{script}", "--out", str(tiny_suite.parent / "rec"),
                 "--cache", str(tiny_suite.parent / "c.sqlite"), "--no-progress"]) == 0
    return tiny_suite.parent / "rec"


def _run(suite: Path, outputs: dict[str, str]) -> tuple[int, dict, list]:
    script = write_jsonl(suite.parent / "cand.jsonl", [{"id": k, "output": v} for k, v in outputs.items()])
    out = suite.parent / "run"
    code = main(["run", str(suite), "--model", f"scripted:{script}", "--out", str(out),
                 "--reports", str(suite.parent / "reports"), "--no-progress"])
    if code == 2:
        return code, {}, []
    summary, rows = load_run(out)
    return code, summary, rows


def test_agreement_values_by_hand(tiny_suite: Path) -> None:
    _record(tiny_suite, RECORDED)
    code, s, rows = _run(_suite_with_reference(tiny_suite.parent), CANDIDATE)
    assert code == 0
    m = s.metrics
    # exact: only e1 is the same string; normalised: e3 too ("Refund_request." ~ "refund_request").
    assert m["agreement_exact"].mean == pytest.approx(0.25)
    assert m["agreement_normalized"].mean == pytest.approx(0.5)
    # labels (candidate, recorded): e1 (os, os) e2 (rr, co) e3 (rr, rr) e4 (co, os): 2 of 4 agree.
    assert m["label_agreement"].mean == pytest.approx(0.5)
    # kappa: po = 1/2; pe = P(os) 1/4*2/4 + P(rr) 2/4*1/4 + P(co) 1/4*1/4 = 5/16; (1/2 - 5/16) / (11/16) = 3/11.
    assert m["agreement_kappa"].mean == pytest.approx(3 / 11)
    assert m["agreement_kappa"].level == "corpus" and m["agreement_kappa"].range == [-1.0, 1.0]
    # SQuAD token F1 deletes '_': e1 and e3 equal, e2 and e4 share no token.
    assert m["agreement_token_f1"].mean == pytest.approx(0.5)
    # ROUGE-L splits on '_': e1 1, e2 0, e3 1, e4 "cancel order" vs "order status": LCS 1 of 2 -> F 0.5.
    assert m["agreement_rougeL"].mean == pytest.approx((1 + 0 + 1 + 0.5) / 4)
    assert m["agreement_exact"].reference["recorded_model"].startswith("scripted:")
    assert m["agreement_exact"].reference["n_missing"] == 0
    art = s.artifacts["agreement"]
    assert art["label_disagreements"] == {"cancel_order -> refund_request": 1, "order_status -> cancel_order": 1}
    by_id = {r["id"]: r["scores"] for r in rows}
    assert by_id["e3"]["agreement_exact"] == 0.0 and by_id["e3"]["label_agreement"] == 1.0
    # Ground truth is still scored beside agreement: e1 and e3 are right.
    assert m["accuracy"].mean == pytest.approx(0.5)


def test_kappa_matches_hand_values() -> None:
    assert cohen_kappa(["a", "a", "b", "b"], ["a", "a", "b", "b"]) == pytest.approx(1.0)
    # po = 0.5, pe = 0.5: kappa 0
    assert cohen_kappa(["a", "b", "a", "b"], ["a", "a", "b", "b"]) == pytest.approx(0.0)
    assert math.isnan(cohen_kappa([], []))  # NaN, not 0
    import random

    rng = random.Random(0)
    for _ in range(50):  # the bootstrap's statistic on label pairs is the corpus score's
        a = [rng.choice("abc") for _ in range(rng.randint(1, 12))]
        b = [rng.choice("abcd") for _ in a]
        want, got = cohen_kappa(a, b), cohen_kappa_pairs(list(zip(a, b)))
        assert (math.isnan(want) and math.isnan(got)) or got == pytest.approx(want)


def test_missing_recorded_outputs_name_the_ids(tiny_suite: Path) -> None:
    _record(tiny_suite, {k: v for k, v in RECORDED.items() if k != "e4"} | {"e4": "x"})
    rec = tiny_suite.parent / "rec"
    rows = [json.loads(x) for x in (rec / "outputs.jsonl").read_text().splitlines()]
    # A recording made before two examples were added to the split: drop their lines, rehash.
    text = "".join(json.dumps(r) + "\n" for r in rows if r["id"] not in ("e2", "e4"))
    (rec / "outputs.jsonl").write_text(text)
    header = json.loads((rec / "recording.json").read_text())
    import hashlib

    header["outputs_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (rec / "recording.json").write_text(json.dumps(header))
    _, s, rows = _run(_suite_with_reference(tiny_suite.parent), CANDIDATE)
    e = s.metrics["label_agreement"]
    assert e.reference["missing_ids"] == ["e2", "e4"] and e.n_failed == 2 and e.n == 2
    assert "no recorded output (not in the recording" in next(iter(e.failure_reasons))


def test_recording_of_a_changed_prompt_is_refused(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record(tiny_suite, RECORDED)
    capsys.readouterr()
    code, _, _ = _run(_suite_with_reference(tiny_suite.parent, prompt="Label this message: {{ text }}"), CANDIDATE)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "the prompt changed since the recording" in err[0] and "rec" in err[0]


def test_edited_recording_is_refused(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = _record(tiny_suite, RECORDED)
    (rec / "outputs.jsonl").write_text((rec / "outputs.jsonl").read_text().replace("cancel_order", "order_status"))
    capsys.readouterr()
    code, _, _ = _run(_suite_with_reference(tiny_suite.parent), CANDIDATE)
    assert code == 2 and "changed since it was recorded" in capsys.readouterr().err


def test_suite_without_a_recording_says_how_to_add_one(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _suite_with_reference(tiny_suite.parent)
    path.write_text(path.read_text().replace(AGREEMENT_METRICS, ""))
    code, _, _ = _run(path, CANDIDATE)
    assert code == 2 and "reference_model: {recording: PATH}" in capsys.readouterr().err


def test_reference_model_key_is_strict(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _suite_with_reference(tiny_suite.parent)
    path.write_text(path.read_text().replace("  recording: rec", "  recordin: rec"))
    assert main(["validate", str(path)]) == 2
    assert "unknown key 'recordin'; allowed: recording" in capsys.readouterr().err


def test_agreement_judge_compares_with_the_recorded_answers_in_both_orders(tiny_suite: Path) -> None:
    from harness.core.types import Item, RunContext
    from harness.metrics.base import build_metric
    from tests.judge.judge_helpers import PAIR, rule_grade, scripted

    def fair_judge(request) -> str:  # the better answer by policy words, whichever position it is in
        a, b = PAIR.search(request.messages[-1][1]).groups()
        ga, gb = rule_grade(a), rule_grade(b)
        return json.dumps({"reason": "policy words", "winner": "A" if ga > gb else "B" if gb > ga else "tie"})

    recorded = {"e1": "So sorry! Please send a photo.", "e2": "ok", "e3": "We are sorry.", "e4": "x"}
    _record(tiny_suite, recorded)
    rec_rows = (tiny_suite.parent / "rec" / "outputs.jsonl").read_text().splitlines()
    kept = "\n".join(rec_rows[:3]) + "\n"
    (tiny_suite.parent / "rec" / "outputs.jsonl").write_text(kept)  # e4 not recorded
    header = json.loads((tiny_suite.parent / "rec" / "recording.json").read_text())
    import hashlib

    header["outputs_sha256"] = hashlib.sha256(kept.encode()).hexdigest()  # rehashed: a blank hash is refused
    (tiny_suite.parent / "rec" / "recording.json").write_text(json.dumps(header))
    suite = _suite_with_reference(tiny_suite.parent)
    m = build_metric("agreement_judge", {"judge": "scripted", "rubric": "support_reply", "use_logprobs": False})
    m.judge.provider = scripted(fair_judge)
    from harness.suite.load import load_suite

    m.bind(RunContext(suite_path=suite, suite=load_suite(suite)))
    texts = {"e1": "where is my parcel", "e2": "stop my order", "e3": "I want my money back", "e4": "tracking number please"}
    outputs = {"e1": "ok", "e2": "Sorry, a replacement is on its way.", "e3": "We are sorry.", "e4": "y"}
    items = [Item(id=k, output=outputs[k], reference=None, messages=[{"role": "user", "content": f"Classify: {t}"}])
             for k, t in texts.items()]
    rows = m.score_batch(items)
    # fair_judge counts policy words: the recorded e1 has two, the candidate's e2 two, e3 is the same text.
    assert [r["agreement_judge_win"] for r in rows[:3]] == [0.0, 1.0, 0.5]
    assert [r["agreement_judge_consistency"] for r in rows[:3]] == [1.0, 1.0, 1.0]
    assert "no recorded output (not in the recording" in rows[3]["agreement_judge_win"].reason
    assert {s.name for s in m.scores()} == {"agreement_judge_win", "agreement_judge_consistency"}
    assert m.entry_fields()["agreement_judge_win"]["reference"]["missing_ids"] == ["e4"]


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_a_blanked_outputs_hash_is_refused(tiny_suite: Path, capsys: pytest.CaptureFixture[str], blank: str | None) -> None:
    rec = _record(tiny_suite, RECORDED)
    (rec / "outputs.jsonl").write_text((rec / "outputs.jsonl").read_text().replace("cancel_order", "order_status"))
    header = json.loads((rec / "recording.json").read_text())
    if blank is None:
        del header["outputs_sha256"]
    else:
        header["outputs_sha256"] = blank
    (rec / "recording.json").write_text(json.dumps(header))
    capsys.readouterr()
    code, _, _ = _run(_suite_with_reference(tiny_suite.parent), CANDIDATE)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].endswith(f"{rec / 'recording.json'}: outputs_sha256: missing or blank; a recording of format 1 always "
                           "has the sha256 of outputs.jsonl, so it was edited by hand: restore it or record again"), err
