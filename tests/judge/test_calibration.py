"""Calibration: agreement statistics by hand and against scikit-learn, `harness judge calibrate`
on a synthetic labelled set with a known kappa, and the judge staying advisory until calibrated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.judge.agreement import spearman
from harness.providers.base import ModelSpec
from harness.evaluate.run import RunConfig, format_table, run_suite
from harness.stats.agreement import cohen_kappa

HUMAN = [1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
JUDGE = [1, 1, 1, 1, 0, 0, 0, 0, 0, 1]


def test_kappa_by_hand_and_against_sklearn() -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    # p_o = 8/10; p_e = .5 * .5 + .5 * .5 = .5; kappa = (.8 - .5) / (1 - .5) = .6
    assert cohen_kappa(HUMAN, JUDGE, [0, 1]) == pytest.approx(0.6)
    assert cohen_kappa_score(HUMAN, JUDGE) == pytest.approx(0.6)
    # quadratic weights on 1..3: pairs (1,1) (2,3) (3,3); disagreement 1; expected 15/3 -> 1 - 1/5
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], "quadratic") == pytest.approx(0.8)
    assert cohen_kappa_score([1, 2, 3], [1, 3, 3], weights="quadratic") == pytest.approx(0.8)
    # linear weights |i - j|: observed disagreement 1; expected (1/3)(4 + 3 + 2) = 3 -> 1 - 1/3
    assert cohen_kappa([1, 2, 3], [1, 3, 3], [1, 2, 3], "linear") == pytest.approx(2 / 3)
    assert cohen_kappa([1, 1, 2], [1, 1, 2], [1, 2, 3]) == 1.0  # a category nobody used changes nothing
    a = [1, 2, 3, 4, 5, 3, 2, 4, 5, 1, 2, 3]
    b = [1, 3, 3, 4, 4, 2, 2, 5, 5, 2, 1, 3]
    cats = [1, 2, 3, 4, 5]
    assert cohen_kappa(a, b, cats) == pytest.approx(cohen_kappa_score(a, b, labels=cats))
    assert cohen_kappa(a, b, cats, "quadratic") == pytest.approx(cohen_kappa_score(a, b, labels=cats, weights="quadratic"))
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic)
    # ranks with ties: a -> 1, 2.5, 2.5, 4; b -> 1, 2, 3, 4; rho = Pearson of the ranks = 0.9487 (= 3 / sqrt(10))
    assert spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(3 / 10**0.5)
    assert spearman([1, 1, 1], [1, 2, 3]) != spearman([1, 1, 1], [1, 2, 3])  # NaN: one side constant
    assert cohen_kappa([1, 1], [1, 1], [0, 1]) != cohen_kappa([1, 1], [1, 1], [0, 1])  # NaN: no chance variation


SUITE = """\
name: tiny-judge
version: 1
dataset:
  format: jsonl
  splits: {test: test.jsonl}
  fields: {id: id, input: question, reference: answer}
prompt:
  messages:
    - role: user
      content: "{{ question }}"
metrics:
  - name: judge_rubric
    judge: scripted:JUDGE
    rubric: grounded_answer
    use_logprobs: false
    min_kappa: MIN
"""


def setup(tmp_path: Path, min_kappa: float = 0.5) -> tuple[Path, Path]:
    rows = [{"id": f"e{i}", "question": f"Question {i}?", "answer": f"Answer {i}."} for i in range(10)]
    (tmp_path / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    judge = {}
    labels = []
    for i, (h, j) in enumerate(zip(HUMAN, JUDGE)):
        labels.append({"id": f"cal-{i}", "example": f"e{i}", "output": f"Candidate answer {i}.", "label": bool(h)})
        judge[f"cal-{i}#judge0"] = json.dumps({"reason": "synthetic", "pass": bool(j)})
        judge[f"e{i}#judge0"] = json.dumps({"reason": "synthetic", "pass": i % 2 == 0})
    (tmp_path / "judge.json").write_text(json.dumps(judge))
    (tmp_path / "labels.jsonl").write_text("".join(json.dumps(r) + "\n" for r in labels))
    (tmp_path / "model.json").write_text(json.dumps({f"e{i}": f"Model answer {i}." for i in range(10)}))
    suite = tmp_path / "suite.yaml"
    suite.write_text(SUITE.replace("JUDGE", str(tmp_path / "judge.json")).replace("MIN", str(min_kappa)))
    return suite, tmp_path / "labels.jsonl"


def run(tmp_path: Path, suite: Path) -> dict:
    cfg = RunConfig(suite=suite, model=ModelSpec.parse(f"scripted:{tmp_path / 'model.json'}"), reports_dir=tmp_path / "reports",
                    progress=False, bootstrap_resamples=50)
    return run_suite(cfg).summary


def test_advisory_until_calibrated_then_trusted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite, labels = setup(tmp_path, min_kappa=0.5)
    s = run(tmp_path, suite)
    e = s.metrics["judge"]
    assert e.mean == 0.5 and "has no calibration for rubric grounded_answer" in e.advisory_reason
    assert e.calibration is None
    assert e.judge["model"].startswith("scripted:") and len(e.judge["fingerprint_sha256"]) == 64
    assert len(e.rubric["sha256"]) == 64 and len(e.prompt["sha256"]) == 64 and "<answer>" in e.prompt["task"]
    assert "none (advisory)" in format_table(s)

    code = main(["judge", "calibrate", str(suite), "--labels", str(labels), "--reports", str(tmp_path / "reports"),
                 "--no-progress", "--resamples", "200"])
    out = capsys.readouterr().out
    assert code == 0 and "cohen_kappa" in out and "0.600" in out and "trusted" in out
    stored = json.loads((tmp_path / "reports" / "calibration" / f"{e.rubric['sha256']}.json").read_text())
    (entry,) = stored["entries"].values()
    assert entry["cohen_kappa"]["value"] == pytest.approx(0.6) and entry["accuracy"]["value"] == pytest.approx(0.8)
    assert entry["cohen_kappa"]["ci_low"] <= 0.6 <= entry["cohen_kappa"]["ci_high"] and entry["n"] == 10

    s = run(tmp_path, suite)
    e = s.metrics["judge"]
    assert not e.added("advisory_reason")
    assert e.calibration["kappa"] == pytest.approx(0.6) and e.calibration["n"] == 10
    assert "kappa 0.60 [" in format_table(s) and "(advisory)" not in format_table(s)


def test_under_min_kappa_stays_advisory(tmp_path: Path) -> None:
    suite, labels = setup(tmp_path, min_kappa=0.7)
    assert main(["judge", "calibrate", str(suite), "--labels", str(labels), "--reports", str(tmp_path / "reports"),
                 "--no-progress", "--resamples", "50"]) == 0
    e = run(tmp_path, suite).metrics["judge"]
    assert "under min_kappa 0.7" in e.advisory_reason and e.calibration["kappa"] == pytest.approx(0.6)


def test_bad_labels_are_reported_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite, labels = setup(tmp_path)
    labels.write_text('{"id": "a", "example": "e1", "output": "x", "label": 3}\nnot json\n'
                      '{"id": "b", "example": "nope", "output": "x", "label": true}\n')
    assert main(["judge", "calibrate", str(suite), "--labels", str(labels), "--reports", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"{labels}:1: label: expected true or false" in err and f"{labels}:2: invalid JSON" in err
    assert main(["judge", "calibrate", str(suite), "--labels", str(labels), "--metric", "nope",
                 "--reports", str(tmp_path / "r")]) == 2


def test_judge_override_replaces_the_suites_judge_and_is_recorded(tmp_path: Path) -> None:
    suite, _ = setup(tmp_path)
    judge_file = str(tmp_path / "judge.json")
    suite.write_text(suite.read_text().replace(f"scripted:{judge_file}", "local"))  # the suite names the local model
    cfg = RunConfig(suite=suite, model=ModelSpec.parse(f"scripted:{tmp_path / 'model.json'}"), reports_dir=tmp_path / "reports",
                    progress=False, bootstrap_resamples=20, judge=f"scripted:{judge_file}")
    e = run_suite(cfg).summary.metrics["judge"]
    assert e.judge["model"] == f"scripted:{judge_file}" and e.mean == 0.5


def test_a_judge_that_never_parses_stays_advisory(tmp_path: Path) -> None:
    suite, labels = setup(tmp_path)
    (tmp_path / "judge.json").write_text(json.dumps({f"{p}{i}#judge0": "Looks good to me!" for p in ("cal-", "e") for i in range(10)}))
    assert main(["judge", "calibrate", str(suite), "--labels", str(labels), "--reports", str(tmp_path / "reports"),
                 "--no-progress", "--resamples", "20"]) == 0
    e = run(tmp_path, suite).metrics["judge"]
    assert e.n_failed == 10 and e.calibration["n"] == 0 and e.calibration["kappa"] is None
    assert "gave no parseable verdict on the 10 human-labelled answers" in e.advisory_reason


def test_a_judge_whose_endpoint_is_down_stores_nothing_and_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from fakes.fake_openai import FakeOpenAI

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    suite, labels = setup(tmp_path)
    with FakeOpenAI() as gone:  # a port nothing listens on any more
        url = gone.url
    assert main(["judge", "calibrate", str(suite), "--labels", str(labels), "--reports", str(tmp_path / "reports"),
                 "--no-progress", "--judge", f"openai:judge?base_url={url}&max_connection_errors=3&retry_base_s=0.01"]) == 3
    err = capsys.readouterr().err
    assert f"endpoint down: {url} (3 consecutive connection errors); nothing stored" in err
    assert not (tmp_path / "reports" / "calibration").exists()
