"""harness clean: lists (dry run) or removes run folders beyond the newest N of their suite, split and
model, and touches nothing else: hand-named runs, unfinished ones, links and what lies outside stay."""

from __future__ import annotations

from pathlib import Path

from harness.cli import main


def _run(runs: Path, name: str, finished: bool = True) -> Path:
    d = runs / name
    d.mkdir(parents=True)
    if finished:
        (d / "summary.json").write_text("{}")
    return d


def test_dry_run_lists_and_yes_removes_only_old_runs(tmp_path: Path, capsys) -> None:
    reports = tmp_path / "reports"
    runs = reports / "runs"
    a1 = _run(runs, "qa-test-local-20261201T100000")
    a2 = _run(runs, "qa-test-local-20261202T100000")
    a3 = _run(runs, "qa-test-local-20261202T100000-2")  # same second, later
    b1 = _run(runs, "qa-test-openai_gpt-4o-mini-20261201T090000")
    mine = _run(runs, "baseline")  # --out reports/runs/baseline: named by hand
    busy = _run(runs, "qa-test-local-20261130T100000", finished=False)
    outside = _run(tmp_path / "elsewhere", "qa-test-local-20261101T100000")
    (runs / "qa-test-local-20261001T100000").symlink_to(outside)

    assert main(["clean", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert f"would remove {a1}" in out and f"would remove {a2}" in out and "2 run folder(s); rerun with --yes" in out
    assert all(p.is_dir() for p in (a1, a2, a3, b1))  # a dry run removes nothing

    assert main(["clean", "--reports", str(reports), "--yes"]) == 0
    assert not a1.exists() and not a2.exists()
    assert all(p.is_dir() for p in (a3, b1, mine, busy, outside))

    assert main(["clean", "--reports", str(reports), "--yes"]) == 0
    assert "nothing to remove" in capsys.readouterr().out.splitlines()[-1]


def test_keep_n(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    made = [_run(runs, f"s-test-m-2026120{d}T000000") for d in range(1, 6)]
    assert main(["clean", "--reports", str(tmp_path), "--keep", "3", "--yes"]) == 0
    assert [p.exists() for p in made] == [False, False, True, True, True]


def test_no_runs_folder(tmp_path: Path, capsys) -> None:
    assert main(["clean", "--reports", str(tmp_path / "none")]) == 0
    assert "nothing to remove" in capsys.readouterr().out
