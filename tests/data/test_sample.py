"""--sample N [--seed S] (harness.data.sample): stratified proportions worked by hand, one draw per
seed, the drawn ids recorded in summary.json, --limit with --sample refused, --limit's own line."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from harness.cli.main import main
from harness.core.errors import HarnessError
from harness.data.sample import allocate, draw, select
from harness.core.types import Example
from tests.compare.gate_fixtures import INTENTS, ROWS, SUITE, right, write_script

IDS = [r["id"] for r in ROWS]
CATS = [r["intent"] for r in ROWS]


@pytest.mark.parametrize("counts, n, expected", [
    # quotas 5, 3, 1.5, 0.5: d's is under one, so d gets 1 and the rest share 9 over 95 examples:
    # 4.737, 2.842, 1.421 -> floors 4, 2, 1 and the 2 left go to the largest remainders, b (.842) then a (.737)
    ({"a": 50, "b": 30, "c": 15, "d": 5}, 10, {"a": 5, "b": 3, "c": 1, "d": 1}),
    # N under the number of categories: no minimum; 1.5, 0.9, 0.45, 0.15 -> floors 1, 0, 0, 0; b (.9) and a (.5) get the 2 left
    ({"a": 50, "b": 30, "c": 15, "d": 5}, 3, {"a": 2, "b": 1, "c": 0, "d": 0}),
    # two categories under one share: one each, the other 8 to a
    ({"a": 90, "b": 6, "c": 4}, 10, {"a": 8, "b": 1, "c": 1}),
    # support_intent at 20: 2.5 each; the 4 left go by the tie rules (same size) to the first names
    ({i: 15 for i in INTENTS}, 20, {i: 3 if k < 4 else 2 for k, i in enumerate(INTENTS)}),
    # N at least the split: everything
    ({"a": 2, "b": 1}, 5, {"a": 2, "b": 1}),
])
def test_allocation_worked_by_hand(counts: dict[str, int], n: int, expected: dict[str, int]) -> None:
    got = allocate(counts, n)
    assert got == expected and sum(got.values()) == min(n, sum(counts.values()))


def test_a_stratified_draw_keeps_the_split_order_and_the_proportions() -> None:
    d = draw(IDS, CATS, 20, seed=0)
    assert d.positions == sorted(d.positions) and len(set(d.positions)) == 20
    drawn = Counter(CATS[p] for p in d.positions)
    assert drawn == Counter(d.info.strata) == Counter({i: 3 if k < 4 else 2 for k, i in enumerate(INTENTS)})
    assert d.info.ids == [IDS[p] for p in d.positions]
    assert d.info.ids_sha256 == hashlib.sha256("".join(i + "\n" for i in d.info.ids).encode()).hexdigest()
    assert (d.info.n, d.info.seed, d.info.population, d.info.drawn) == (20, 0, 120, 20)


def test_one_draw_per_seed_and_other_seeds_differ() -> None:
    first = draw(IDS, CATS, 20, seed=0).info.ids
    assert draw(IDS, CATS, 20, seed=0).info.ids == first
    others = {tuple(draw(IDS, CATS, 20, seed=s).info.ids) for s in range(1, 6)}
    assert tuple(first) not in others and len(others) == 5
    plain = draw(IDS, None, 20, seed=0)
    assert plain.info.strata is None and plain.info.method == "simple random" and len(plain.info.ids) == 20
    assert plain.info.ids == draw(IDS, None, 20, seed=0).info.ids != draw(IDS, None, 20, seed=7).info.ids


def test_select_refuses_limit_with_sample_and_seed_alone() -> None:
    exs = [Example(id=i, record={}, line=k + 1, category=c) for k, (i, c) in enumerate(zip(IDS, CATS))]
    with pytest.raises(HarnessError, match="--limit 5 and --sample 5 together"):
        select(exs, limit=5, sample=5)
    with pytest.raises(HarnessError, match="--seed 3 without --sample"):
        select(exs, seed=3)
    firsts, info = select(exs, limit=5)
    assert [e.id for e in firsts] == IDS[:5] and info is None
    drawn, info = select(exs, sample=20)
    assert info is not None and info.seed == 0 and [e.id for e in drawn] == info.ids


def _run(tmp: Path, name: str, *extra: str) -> tuple[int, Path]:
    script = write_script(tmp / "scripts", "right", right)
    out = tmp / "runs" / name
    code = main(["run", str(SUITE), "--model", f"scripted:{script}", "--reports", str(tmp / "r"), "--out", str(out),
                 "--no-progress", *extra])
    return code, out


def test_a_sampled_run_records_the_drawn_ids(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, "sampled", "--sample", "20", "--seed", "3")
    assert code == 0
    text = capsys.readouterr().out
    assert "--sample 20 --seed 3: 20 of 120 examples, stratified: account_access 3" in text
    summary = json.loads((out / "summary.json").read_text())
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    sample = summary["dataset"]["sample"]
    assert sample["ids"] == [r["id"] for r in rows] == draw(IDS, CATS, 20, seed=3).info.ids
    assert sample["seed"] == 3 and sample["n"] == 20 and sum(sample["strata"].values()) == 20
    assert summary["dataset"]["n_evaluated"] == 20 and summary["dataset"]["limit"] is None
    # a run without --sample writes no sample field at all (its summary's bytes are as before)
    code, full = _run(tmp_path, "full")
    assert code == 0 and "sample" not in json.loads((full / "summary.json").read_text())["dataset"]
    from harness.records.run import read_run

    assert read_run(out).summary.dataset.sample.ids == sample["ids"] and read_run(full).summary.dataset.sample is None


def test_limit_with_sample_is_refused_naming_both(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, "both", "--limit", "20", "--sample", "20")
    err = capsys.readouterr().err
    assert code == 2 and "--limit 20 and --sample 20 together" in err and not out.exists()
    assert main(["gate", str(SUITE), "--baseline", "scripted:x", "--candidate", "scripted:y", "--limit", "5",
                 "--sample", "5", "--out", str(tmp_path / "g")]) == 2
    assert "--limit 5 and --sample 5 together" in capsys.readouterr().err


def test_limit_says_it_takes_the_first_n(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, "limited", "--limit", "20")
    assert code == 0
    assert ("--limit 20: the first 20 examples of the split, not a sample; --sample 20 draws a stratified one"
            in capsys.readouterr().out.splitlines())
    assert [json.loads(x)["id"] for x in (out / "results.jsonl").read_text().splitlines()] == IDS[:20]
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    helptext = " ".join(capsys.readouterr().out.split())
    assert "only the first N examples of the split, in file order: not a sample" in helptext
    assert "--sample N" in helptext and "--seed S" in helptext


def test_record_draws_with_the_same_sampler(tmp_path: Path) -> None:
    script = write_script(tmp_path / "scripts", "right", right)
    args = ["record", str(SUITE), "--model", f"scripted:{script}", "--reports", str(tmp_path / "r"), "--no-progress"]
    assert main([*args, "--out", str(tmp_path / "sampled"), "--sample", "10", "--seed", "2"]) == 0
    header = json.loads((tmp_path / "sampled" / "recording.json").read_text())
    assert header["sample"]["ids"] == draw(IDS, CATS, 10, seed=2).info.ids and header["counts"]["examples"] == 10
    assert main([*args, "--out", str(tmp_path / "whole"), "--limit", "4"]) == 0
    assert "sample" not in json.loads((tmp_path / "whole" / "recording.json").read_text())
