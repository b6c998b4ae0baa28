"""`include:` chains (nesting, cycles, paths and errors located in the right file), paths confined
to the project root, and template syntax beyond {{ column }}."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.cli import main
from harness.core.errors import InputProblems
from harness.suite.load import load_suite
from tests.conftest import INTENT_ROWS, INTENT_SUITE, write_jsonl


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_DATA_ROOT", raising=False)


def problems_of(path: Path, **kw) -> list[str]:
    with pytest.raises(InputProblems) as e:
        load_suite(path, **kw)
    return [str(p) for p in e.value.problems]


def chain(tmp_path: Path) -> dict[str, Path]:
    """a.yaml (top) includes sub/b.yaml, which includes ../base/c.yaml, which holds the data path and a gate."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "base" / "data").mkdir(parents=True)
    write_jsonl(tmp_path / "base" / "data" / "test.jsonl", INTENT_ROWS)
    c = tmp_path / "base" / "c.yaml"
    c.write_text(INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: data")
                 .replace("gates:\n  - metric: accuracy\n    min: 0.5", "gates:\n  - metric: accuracy\n    min: 0.99"))
    b = tmp_path / "sub" / "b.yaml"
    b.write_text("include: ../base/c.yaml\ngeneration:\n  temperature: 0.3\n")
    a = tmp_path / "a.yaml"
    a.write_text("include: sub/b.yaml\nname: top\n")
    return {"a": a, "b": b, "c": c}


def test_nested_includes_merge_and_keep_the_deepest_gates(tmp_path: Path) -> None:
    f = chain(tmp_path)
    loaded = load_suite(f["a"])
    s = loaded.suite
    assert s.name == "top" and s.generation.temperature == 0.3 and s.generation.max_tokens == 8
    assert [(g.metric, g.min) for g in s.gates] == [("accuracy", 0.99)]  # c's gate survives two levels
    # c's dataset.path is relative to c.yaml, not to a.yaml
    assert loaded.dataset_dir() == (tmp_path / "base" / "data").resolve()
    assert s.dataset.path == os.path.join("base", "data")  # rebased, machine-free: the hash is portable


def test_an_included_file_changes_the_suites_sha256(tmp_path: Path) -> None:
    f = chain(tmp_path)
    before = load_suite(f["a"]).sha256
    f["c"].write_text(f["c"].read_text().replace("min: 0.99", "min: 0.98"))
    assert load_suite(f["a"]).sha256 != before


def test_include_cycle_names_the_chain(tmp_path: Path) -> None:
    f = chain(tmp_path)
    f["c"].write_text("include: ../a.yaml\n" + f["c"].read_text())
    (p,) = problems_of(f["a"])
    assert p == f"{f['c']}:1: include: include cycle: {f['a']} -> {f['b']} -> {f['c']} -> {f['a']}"
    self_loop = tmp_path / "self.yaml"
    self_loop.write_text("name: x\ninclude: self.yaml\n")
    assert problems_of(self_loop) == [f"{self_loop}:2: include: include cycle: {self_loop} -> {self_loop}"]


def test_missing_included_file_is_reported_where_it_is_named(tmp_path: Path) -> None:
    f = chain(tmp_path)
    f["b"].write_text("generation:\n  temperature: 0.3\ninclude: ../base/nope.yaml\n")
    assert problems_of(f["a"]) == [f"{f['b']}:3: include: no such suite file: {tmp_path / 'base' / 'nope.yaml'}"]


def test_invalid_yaml_in_an_included_file_is_reported_in_that_file(tmp_path: Path) -> None:
    f = chain(tmp_path)
    f["c"].write_text("name: c\nversion: [1\n")
    (p,) = problems_of(f["a"])
    assert p.startswith(f"{f['c']}:3: YAML syntax: ")


def test_schema_errors_inside_an_included_file_point_at_it(tmp_path: Path) -> None:
    f = chain(tmp_path)
    text = f["c"].read_text()
    f["c"].write_text(text.replace("  max_tokens: 8", "  max_tokens: 8\n  temprature: 0")
                      .replace("  - name: exact_match", "  - name: exact_mtch"))
    got = problems_of(f["a"])
    lines = f["c"].read_text().splitlines()
    tline = next(i for i, t in enumerate(lines, 1) if "temprature" in t)
    mline = next(i for i, t in enumerate(lines, 1) if "exact_mtch" in t)
    assert any(p.startswith(f"{f['c']}:{tline}: generation.temprature: unknown key 'temprature'") for p in got), got
    assert any(p.startswith(f"{f['c']}:{mline}: metrics[1].name: ") for p in got), got
    # a key the top file sets is reported in the top file
    f["a"].write_text("include: sub/b.yaml\nname: top\ndefault_split: nope\n")
    f["c"].write_text(text)
    assert problems_of(f["a"]) == [f"{f['a']}:3: default_split: 'nope' is not one of dataset.splits: test"]


def test_cli_validate_follows_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = chain(tmp_path)
    assert main(["validate", str(f["a"])]) == 0
    assert "ok (top v1; test=4" in capsys.readouterr().out


# ---------------------------------------------------------------- paths stay inside the project


def project(tmp_path: Path, suite_text: str, git: bool = True) -> Path:
    """tmp/proj (a git repository when ``git``) with suites/s.yaml; the data is placed by each test."""
    proj = tmp_path / "proj"
    (proj / "suites").mkdir(parents=True)
    if git:
        subprocess.run(["git", "init", "-q", str(proj)], check=True)
    suite = proj / "suites" / "s.yaml"
    suite.write_text(suite_text)
    return suite


def test_dataset_inside_the_repository_is_fine(tmp_path: Path) -> None:
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../datasets/x"))
    write_jsonl((tmp_path / "proj" / "datasets" / "x").mkdir(parents=True) or tmp_path / "proj" / "datasets" / "x" / "test.jsonl", INTENT_ROWS)
    assert load_suite(suite).dataset_dir() == (tmp_path / "proj" / "datasets" / "x").resolve()


def test_dataset_path_outside_the_repository_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "elsewhere").mkdir()
    write_jsonl(tmp_path / "elsewhere" / "test.jsonl", INTENT_ROWS)
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../../elsewhere"))
    root = (tmp_path / "proj").resolve()
    (p,) = problems_of(suite)
    assert p == (f"{suite}:5: dataset.path: {(tmp_path / 'elsewhere').resolve()} is outside the project root {root}; "
                 "a suite may read only files inside it (move the data into the repository, or run with --data-root DIR)")
    assert main(["validate", str(suite)]) == 2
    assert "is outside the project root" in capsys.readouterr().err
    # the user may widen the root on the command line
    assert main(["validate", str(suite), "--data-root", str(tmp_path)]) == 0
    assert "HARNESS_DATA_ROOT" not in os.environ


def test_etc_and_absolute_paths_are_refused(tmp_path: Path) -> None:
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../../../../../../../../etc")
                    .replace("{test: test.jsonl}", "{test: passwd}"))
    (p,) = problems_of(suite)
    assert "dataset.path: /etc is outside the project root" in p


def test_a_symlink_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").mkdir()
    write_jsonl(tmp_path / "secret" / "test.jsonl", INTENT_ROWS)
    suite = project(tmp_path, INTENT_SUITE)
    (tmp_path / "proj" / "suites" / "test.jsonl").symlink_to(tmp_path / "secret" / "test.jsonl")  # a split file
    (p,) = problems_of(suite)
    link = tmp_path / "proj" / "suites" / "test.jsonl"
    assert p.startswith(f"{suite}:5: dataset.splits.test: {(tmp_path / 'secret' / 'test.jsonl').resolve()} "
                        f"(through a symlink: {link}) is outside the project root")
    link.unlink()
    (tmp_path / "proj" / "suites" / "d").symlink_to(tmp_path / "secret")  # a folder
    suite.write_text(INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: d"))
    (p,) = problems_of(suite)
    assert "dataset.path: " in p and "through a symlink" in p


def test_without_a_repository_the_suites_folder_is_the_root(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../.."), git=False)
    (p,) = problems_of(suite)
    assert f"is outside the project root {(tmp_path / 'proj' / 'suites').resolve()}" in p


def test_a_worktree_git_file_marks_the_root_too(tmp_path: Path) -> None:
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../data"), git=False)
    (tmp_path / "proj" / ".git").write_text("gitdir: /elsewhere/.git/worktrees/proj\n")  # a worktree's .git file
    write_jsonl((tmp_path / "proj" / "data").mkdir() or tmp_path / "proj" / "data" / "test.jsonl", INTENT_ROWS)
    assert load_suite(suite).suite.name == "tiny-intent"


def test_adapter_and_files_named_in_a_suite_are_confined(tmp_path: Path) -> None:
    outside = tmp_path / "adapter"
    outside.mkdir()
    metrics = (f"  - name: exact_match\n  - name: judge_rubric\n    judge: \"local?adapter={outside}\"\n"
               "    criteria: Is it right?\n  - name: judge_pairwise\n    judge: local\n    criteria: Which is better?\n"
               f"    baseline_run: {tmp_path}\n")
    suite = project(tmp_path, INTENT_SUITE.replace("  - name: exact_match\n", metrics))
    write_jsonl(tmp_path / "proj" / "suites" / "test.jsonl", INTENT_ROWS)
    got = problems_of(suite)
    assert len(got) == 2, got
    assert any(f"metrics[2].judge: {outside.resolve()} is outside the project root" in p for p in got)
    assert any(f"metrics[3].baseline_run: {tmp_path.resolve()} is outside the project root" in p for p in got)


def test_an_include_outside_the_project_is_refused_before_reading(tmp_path: Path) -> None:
    secret = tmp_path / "secret.yaml"
    secret.write_text("password: [hunter2\n")  # would show in a YAML error message if it were read
    suite = project(tmp_path, f"include: {secret}\nname: x\n")
    (p,) = problems_of(suite)
    assert p.startswith(f"{suite}:1: include: {secret.resolve()} is outside the project root") and "hunter2" not in p


# ---------------------------------------------------------------- templates


@pytest.mark.parametrize("template", ["{{ text | upper }}", "{{ a.b }}", "{{ text + 1 }}", "{% if x %}y{% endif %}"])
def test_template_syntax_beyond_a_column_is_a_located_error(tmp_path: Path, template: str) -> None:
    write_jsonl(tmp_path / "test.jsonl", INTENT_ROWS)
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE.replace('"Classify: {{ text }}"', f'"Classify: {{{{ text }}}} then {template}"'))
    got = problems_of(suite)
    line = next(i for i, t in enumerate(suite.read_text().splitlines(), 1) if "Classify" in t)
    assert got and all(p.startswith(f"{suite}:{line}: prompt.messages[0].content: unsupported template syntax") for p in got)
    assert repr(template)[1:-1].split()[0] in got[0]


def test_a_missing_template_column_is_one_error_for_the_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_jsonl(tmp_path / "test.jsonl", [{**r, "id": f"e{i}"} for i, r in enumerate(INTENT_ROWS * 50)])
    suite = tmp_path / "suite.yaml"
    suite.write_text(INTENT_SUITE.replace("{{ text }}", "{{ txet }}").replace("input: text", "input: txet"))
    assert main(["validate", str(suite)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [(f"{tmp_path / 'test.jsonl'}:1: missing field 'txet' (used in dataset.fields.input, "
                    "prompt.messages[0].content) in 200 of 200 examples, first on line 1; that record has: id, text, intent"),
                   "1 problem found"]


def test_data_prepare_suite_takes_data_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`data prepare --suite` loads the suite under the same confinement as `run`, and --data-root widens it."""
    (tmp_path / "elsewhere").mkdir()
    write_jsonl(tmp_path / "elsewhere" / "test.jsonl", INTENT_ROWS)
    suite = project(tmp_path, INTENT_SUITE.replace("format: jsonl", "format: jsonl\n  path: ../../elsewhere"))
    src = write_jsonl(tmp_path / "raw.jsonl", [{"input": f"a fresh question number {i} about kayaks", "output": "x"}
                                               for i in range(6)])
    args = ["data", "prepare", str(src), "--out", str(tmp_path / "p"), "--tokenizer", "estimate", "--suite", str(suite)]
    assert main(args) == 2
    assert "is outside the project root" in capsys.readouterr().err
    assert main([*args, "--data-root", str(tmp_path)]) == 0
    assert (tmp_path / "p" / "train.jsonl").is_file() and "HARNESS_DATA_ROOT" not in os.environ


def test_metric_paths_in_an_included_file_resolve_against_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """shared/base.yaml names its judge's outputs file, a baseline run and a judge mapping's file
    relative to itself; run from the project's top, the suite in suites/ that includes it reads them."""
    import json

    from harness.providers.base import ModelSpec
    from harness.evaluate.run import RunConfig, run_suite

    proj = tmp_path / "proj"
    (proj / "shared" / "judges").mkdir(parents=True)
    (proj / "suites").mkdir()
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    rows = [{"id": f"e{i}", "question": f"Q{i}?", "answer": f"A{i}."} for i in range(3)]
    write_jsonl(proj / "shared" / "test.jsonl", rows)
    for name, text in (("old", "Old answer"), ("new", "New answer")):
        (proj / "shared" / f"{name}.json").write_text(json.dumps({f"e{i}": f"{text} {i}." for i in range(3)}))
    verdicts = {f"e{i}#pair{o}.0": json.dumps({"reason": "first", "winner": "A"}) for i in range(3) for o in (0, 1)}
    (proj / "shared" / "judges" / "j.json").write_text(json.dumps(verdicts))
    head = ("name: pair\nversion: 1\ndataset:\n  splits: {test: test.jsonl}\n  fields: {id: id, input: question, reference: answer}\n"
            "prompt:\n  messages:\n    - {role: user, content: '{{ question }}'}\n")
    (proj / "shared" / "plain.yaml").write_text(head + "metrics:\n  - name: exact_match\n")
    monkeypatch.chdir(proj)
    cfg = {"reports_dir": proj / "reports", "progress": False, "bootstrap_resamples": 20}
    base = run_suite(RunConfig(suite=Path("shared/plain.yaml"), model=ModelSpec.parse("scripted:shared/old.json"), **cfg))
    run_dir = os.path.relpath(base.directory, proj / "shared")  # the baseline run, relative to shared/
    (proj / "shared" / "base.yaml").write_text(
        head + "metrics:\n  - name: judge_pairwise\n    judge: scripted:judges/j.json\n    rubric: coherence\n"
               f"    use_logprobs: false\n    baseline_run: {run_dir}\n")
    (proj / "shared" / "mapped.yaml").write_text(
        head + "metrics:\n  - name: judge_pairwise\n    judge: {provider: scripted, name: judges/j.json}\n"
               "    rubric: coherence\n    use_logprobs: false\n    baseline_model: scripted:old.json\n")
    (proj / "suites" / "s.yaml").write_text("include: ../shared/base.yaml\nname: pair-included\n")
    (proj / "suites" / "m.yaml").write_text("include: ../shared/mapped.yaml\nname: pair-mapped\n")
    (first,) = (m.params() for m in load_suite(Path("suites/s.yaml")).suite.metrics)
    assert first["judge"] == "scripted:shared/judges/j.json" and Path(first["baseline_run"]).resolve() == base.directory.resolve()
    (second,) = (m.params() for m in load_suite(Path("suites/m.yaml")).suite.metrics)
    assert second["judge"] == {"provider": "scripted", "name": "shared/judges/j.json"} and second["baseline_model"] == "scripted:shared/old.json"
    assert main(["validate", "suites/s.yaml"]) == 0 and main(["validate", "suites/m.yaml"]) == 0
    for suite in ("suites/s.yaml", "suites/m.yaml"):
        s = run_suite(RunConfig(suite=Path(suite), model=ModelSpec.parse("scripted:shared/new.json"), **cfg)).summary
        assert s.metrics["pairwise_win"].mean == 0.5


def _fake_recording(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "recording.json").write_text("{}")
    (folder / "outputs.jsonl").write_text("")
    return folder


def test_recordings_named_in_a_suite_are_confined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = _fake_recording(tmp_path / "rec")
    inner = _fake_recording(tmp_path / "proj" / "recs" / "ok")
    metrics = f"  - name: exact_match\n  - name: agreement\n    recording: {outside}\n"
    suite = project(tmp_path, INTENT_SUITE.replace("  - name: exact_match\n", metrics)
                    + "reference_model:\n  recording: ../../rec\n")
    write_jsonl(tmp_path / "proj" / "suites" / "test.jsonl", INTENT_ROWS)
    got = problems_of(suite)
    root = (tmp_path / "proj").resolve()
    assert sorted(got) == sorted([
        f"{suite}:18: metrics[2].recording: {outside.resolve()} is outside the project root {root}; a suite may read only "
        "files inside it (move the data into the repository, or run with --data-root DIR)",
        f"{suite}:23: reference_model.recording: {outside.resolve()} is outside the project root {root}; a suite may read "
        "only files inside it (move the data into the repository, or run with --data-root DIR)"]), got
    assert main(["validate", str(suite)]) == 2
    assert "reference_model.recording: " in capsys.readouterr().err
    assert main(["validate", str(suite), "--data-root", str(tmp_path)]) == 0
    # inside the project: fine; a symlinked outputs.jsonl out of it is not
    suite.write_text(INTENT_SUITE + "reference_model:\n  recording: ../recs/ok\n")
    assert load_suite(suite).suite.reference_model.recording == "../recs/ok"
    (inner / "outputs.jsonl").unlink()
    (inner / "outputs.jsonl").symlink_to(outside / "outputs.jsonl")
    (p,) = problems_of(suite)
    assert p.startswith(f"{suite}:21: reference_model.recording: {(outside / 'outputs.jsonl').resolve()} (through a symlink")


@pytest.mark.timeout(60)
def test_an_include_of_a_fifo_is_refused_not_waited_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    suite = project(tmp_path, "include: base.yaml\nname: x\n")
    fifo = tmp_path / "proj" / "suites" / "base.yaml"
    os.mkfifo(fifo)
    got: list[list[str]] = []
    t = threading.Thread(target=lambda: got.append(problems_of(suite)), daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():
        with open(fifo, "w"):  # a writer, so the waiting reader (and the test) can end
            pass
        t.join(5)
        pytest.fail("load_suite waited on a FIFO")
    assert got == [[f"{suite}:1: include: {fifo}: not a regular file (a FIFO, device or socket); not read"]]
    fifo.rename(tmp_path / "proj" / "suites" / "top.yaml")  # the suite named on the command line, too
    assert main(["validate", str(tmp_path / "proj" / "suites" / "top.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{tmp_path / 'proj' / 'suites' / 'top.yaml'}: not a regular file (a FIFO, device or socket); not read",
                   "1 problem found"], err
