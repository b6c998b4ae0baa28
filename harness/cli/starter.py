"""The files `harness quickstart` and `harness init` write: a tiny suite with inline examples, two
scripted models' outputs, and a starter project (suite, a 10-line dataset, a pytest file).

Not a subcommand (no ``add_parser``): the texts both commands share, and the one careful writer.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.errors import HarnessError

# (id, question, reference, base's answer, candidate's answer, category)
QA = [
    ("q01", "What is 2 + 2?", "4", "4", "4", "math"),
    ("q02", "What is 7 * 6?", "42", "42", "42", "math"),
    ("q03", "What is 15 - 9?", "6", "5", "6", "math"),
    ("q04", "What is 81 / 9?", "9", "9", "9", "math"),
    ("q05", "What is 12 + 30?", "42", "41", "42", "math"),
    ("q06", "What is 3 cubed?", "27", "9", "27", "math"),
    ("q07", "Capital of France?", "Paris", "Paris", "Paris", "geo"),
    ("q08", "Capital of Japan?", "Tokyo", "Kyoto", "Tokyo", "geo"),
    ("q09", "Capital of Canada?", "Ottawa", "Toronto", "Ottawa", "geo"),
    ("q10", "Capital of Italy?", "Rome", "Rome", "Rome", "geo"),
    ("q11", "Capital of Kenya?", "Nairobi", "Nairobi", "Nairobi", "geo"),
    ("q12", "Capital of Australia?", "Canberra", "Sydney", "Sydney", "geo"),
]

QUICKSTART_SUITE = """\
# The quickstart's suite: 12 questions written inline (dataset.examples), no data files.
# Edit it and rerun `harness quickstart DIR`, or run it on a real model:
#   harness run suite.yaml --model openai:gpt-4o-mini
name: quickstart
version: 1
description: Twelve short questions with one right answer each.
dataset:
  examples:
{examples}
prompt:
  messages:
    - {{role: system, content: "Answer with the answer only."}}
    - {{role: user, content: "{{{{ input }}}}"}}
metrics:
  - {{name: exact_match}}
gates:
  - {{metric: exact_match, min: 0.75, point_estimate: true, name: "at least 75% of answers exactly right"}}
  - {{metric: exact_match, max_regressions: 0, name: "no question the base answered right is answered wrong"}}
"""


def quickstart_files() -> dict[str, str]:
    """File name -> text of the quickstart's suite and its two scripted models' outputs."""
    rows = "\n".join(f"    - {{id: {i}, input: {json.dumps(q)}, reference: {json.dumps(r)}, category: {c}}}"
                     for i, q, r, _, _, c in QA)
    return {
        "suite.yaml": QUICKSTART_SUITE.format(examples=rows),
        "base.json": json.dumps({i: b for i, _, _, b, _, _ in QA}, indent=1) + "\n",
        "candidate.json": json.dumps({i: c for i, _, _, _, c, _ in QA}, indent=1) + "\n",
    }


INIT_SUITE = """\
# A starter suite: edit the prompt, the metrics and the gates; put your own rows in data/test.jsonl.
# Check it:  harness validate suite.yaml
# Run it:    harness run suite.yaml --model openai:gpt-4o-mini     (or local, or scripted:outputs.json)
# Gate it:   harness gate suite.yaml --baseline BASE --candidate CANDIDATE
# The schema of this file: `harness schema` (editors: `harness schema --path`).
name: {name}
version: 1
description: A starter suite written by `harness init`.
dataset:
  path: data
  splits: {{test: test.jsonl}}
  fields: {{id: id, input: question, reference: answer, category: topic}}
prompt:
  messages:
    - {{role: system, content: "Answer with one word."}}
    - {{role: user, content: "{{{{ question }}}}"}}
metrics:
  - {{name: exact_match}}
gates:
  - {{metric: exact_match, min: 0.8, point_estimate: true}}
  - {{metric: exact_match, max_regressions: 1}}
"""

INIT_ROWS = [
    ("1", "What colour is the sky on a clear day?", "blue", "nature"),
    ("2", "What is the opposite of hot?", "cold", "words"),
    ("3", "How many legs does a spider have?", "eight", "nature"),
    ("4", "What is frozen water called?", "ice", "nature"),
    ("5", "What is the plural of mouse?", "mice", "words"),
    ("6", "Which planet do we live on?", "Earth", "nature"),
    ("7", "What is the first letter of the English alphabet?", "A", "words"),
    ("8", "What do bees make?", "honey", "nature"),
    ("9", "What is the opposite of up?", "down", "words"),
    ("10", "How many days are in a week?", "seven", "words"),
]

INIT_TEST = '''\
"""Tests of the suite beside this file, written by `harness init`. Run: pytest -q {test_name}

The model is $HARNESS_MODEL (default: scripted:outputs.json, the references as answers, offline).
For a real model: HARNESS_MODEL=openai:gpt-4o-mini pytest -q {test_name}
Gates as tests instead: pytest -p harness --harness-suite suite.yaml --harness-model MODEL
"""

import os
from pathlib import Path

from harness.cli.main import main

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suite.yaml"
MODEL = os.environ.get("HARNESS_MODEL", f"scripted:{{HERE / 'outputs.json'}}")


def test_the_suite_is_valid():
    assert main(["validate", str(SUITE)]) == 0


def test_the_model_passes_the_gates(tmp_path):
    # baseline and candidate are the same model here: put your base model as --baseline
    code = main(["gate", str(SUITE), "--baseline", MODEL, "--candidate", MODEL, "--out", str(tmp_path / "gate"),
                 "--reports", str(tmp_path / "reports"), "--no-progress"])
    assert code == 0, "a gate blocked (1) or was inconclusive (5): see the report in " + str(tmp_path / "gate")


def test_exact_match_with_the_fixture(harness_run):
    # `harness_run`: the pytest plugin's fixture (loaded by the installed package; else add -p harness).
    # Its runs share one response cache under $HARNESS_REPORTS (default: reports), so a rerun costs nothing.
    run = harness_run.run(SUITE, model=MODEL)
    assert run.score("exact_match").mean >= 0.8, f"see {{run.directory}}"
'''


def init_files(name: str) -> dict[str, str]:
    """File name (relative to the folder) -> text of a starter project."""
    rows = "".join(json.dumps({"id": i, "question": q, "answer": a, "topic": t}) + "\n" for i, q, a, t in INIT_ROWS)
    return {
        "suite.yaml": INIT_SUITE.format(name=name),
        "data/test.jsonl": rows,
        "outputs.json": json.dumps({i: a for i, _, a, _ in INIT_ROWS}, indent=1) + "\n",
        "test_suite.py": INIT_TEST.format(test_name="test_suite.py"),
    }


def write_files(folder: Path, files: dict[str, str], force: bool, same_ok: bool = False) -> list[Path]:
    """Write each file under ``folder``; an existing file that differs is refused (all of them named,
    before anything is written) unless ``force``; one with the same text is left as it is when ``same_ok``."""
    clash = []
    for rel, text in files.items():
        p = folder / rel
        if p.exists() and not force and not (same_ok and p.is_file() and p.read_text(encoding="utf-8") == text):
            clash.append(str(p))
    if clash:
        raise HarnessError(f"{', '.join(clash)}: already there{' and different' if same_ok else ''}; "
                           "nothing was written (pass --force to overwrite, or choose another folder)")
    written = []
    for rel, text in files.items():
        p = folder / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if not (p.is_file() and p.read_text(encoding="utf-8") == text):
            p.write_text(text, encoding="utf-8")
        written.append(p)
    return written
