"""What every importer produces, template conversion, and writing the suite and its dataset."""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import EnvironmentFailure, HarnessError, InputProblems, Problem
from harness.core.io import atomic_open, atomic_write_text
from harness.suite.schema import TEMPLATE_ANY

# OpenAI's template syntax: {{item.column}}, {{sample.output_text}}, {{ item.a.b }} ...
OPENAI_VAR = re.compile(r"\{\{\s*([A-Za-z_][\w]*(?:\.[\w]+)*)\s*\}\}")


def read_text(path: Path) -> str:
    """A file another tool wrote, as text; not UTF-8 -> a located error naming it (exit 2)."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputProblems([Problem(str(path), "", f"not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8",
                                     line=line)]) from None


class _NoAliases(yaml.SafeLoader):
    """safe_load without anchors and aliases: an imported file has no use for them, and a nest of
    aliases (billion laughs) expands to gigabytes once the description is made a string."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"found alias *{event.anchor}: YAML aliases are not accepted "
                                              "in an imported file (write the value out)", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(path: Path) -> Any:
    """An imported YAML file: UTF-8, no aliases; a syntax error is one located line."""
    try:
        return yaml.load(read_text(path), Loader=_NoAliases)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputProblems([Problem(str(path), "", f"invalid YAML: {getattr(e, 'problem', None) or e}",
                                     line=mark.line + 1 if mark else None)]) from None


def non_finite(obj: Any, at: str = "") -> str | None:
    """The field path of the first NaN or infinity in parsed JSON (which Python's json accepts), else None."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return at or "(the whole file)"
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else ()
    for k, v in items:
        found = non_finite(v, f"{at}[{k}]" if isinstance(k, int) else f"{at}.{k}" if at else str(k))
        if found:
            return found
    return None


@dataclass
class Imported:
    name: str
    suite: dict[str, Any]
    rows: list[dict[str, Any]] | None  # None: no data was given
    notes: list[str] = field(default_factory=list)  # one located line per thing not converted
    split_file: str = "test.jsonl"


def suite_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-.") or "imported"
    return name if name[0].isalnum() else f"x{name}"


def score_name(text: str, taken: set[str]) -> str:
    """A score name (letters, digits, _) from a grader's name, unique within the suite."""
    base = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip().lower()).strip("_") or "score"
    if not (base[0].isalpha() or base[0] == "_"):
        base = f"s_{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


class Unconvertible(Exception):
    """A template or field the harness has no equivalent for; the message says why."""


def convert_template(text: str, output: str | None = "{{ output }}", where: str = "") -> tuple[str, set[str]]:
    """OpenAI's ``{{item.x}}`` -> ``{{ x }}`` and ``{{sample.output_text}}`` -> ``output``.

    Returns the text and the item columns it uses. ``output=None``: the answer is not available
    (a generation prompt), so a sample variable is an error. Filters, tags, expressions and extra
    braces (``{{ item.x | upper }}``, ``{% if %}``, ``{{{{item.x}}}}``) have no harness equivalent: written
    verbatim they would reach the model or the check literally and score 0, so they are refused,
    naming ``where`` (the template's field)."""
    columns: set[str] = set()
    at = f"{where}: " if where else ""
    for m in TEMPLATE_ANY.finditer(text):
        if not OPENAI_VAR.fullmatch(m.group(0)):
            raise Unconvertible(f"{at}unsupported template syntax {m.group(0)!r}: the harness substitutes only "
                                "{{item.<column>}} and {{sample.output_text}} (no filters, tags, expressions or extra braces)")

    def one(m: re.Match[str]) -> str:
        parts = m.group(1).split(".")
        if parts[0] == "item" and len(parts) == 2:
            columns.add(parts[1])
            return "{{ " + parts[1] + " }}"
        if parts[0] == "item":
            raise Unconvertible(f"{at}{m.group(0)}: nested item fields are not supported; flatten the column into the item")
        if parts == ["sample", "output_text"]:
            if output is None:
                raise Unconvertible(f"{at}{m.group(0)}: the model's answer is not known when its prompt is built")
            return output
        raise Unconvertible(f"{at}{m.group(0)}: only {{{{item.<column>}}}} and {{{{sample.output_text}}}} have harness "
                            "equivalents (output_json, tools and choices are not recorded by the harness)")

    return OPENAI_VAR.sub(one, text), columns


def schema_reference(suite_file: Path) -> str:
    """The suite JSON Schema of the installed package, relative to the suite file where it can be (an
    editor resolves it from there), else absolute: a path that exists wherever the package is installed."""
    schema = Path(__file__).resolve().parent.parent / "schemas" / "suite.schema.json"
    try:
        return Path(os.path.relpath(schema, suite_file.parent.resolve())).as_posix()
    except ValueError:  # another drive
        return schema.as_posix()


def write(imp: Imported, out: Path, data_dir: Path, force: bool = False) -> tuple[Path, Path | None]:
    """Write the suite YAML (notes as a comment block on top) and, when rows were given, the dataset.

    A file already there (a suite of the same name, its held-out data) is replaced only with
    ``force``; both are checked before either is written. Each is written atomically, the dataset
    first and the suite last, so a full disk leaves the previous files whole and the error names the file."""
    data_file = data_dir / imp.split_file if imp.rows is not None else None
    if not force:
        for target in (out, data_file):
            if target is not None and (target.exists() or target.is_symlink()):
                raise HarnessError(f"{target}: already exists; the import would replace it (pass --force to replace it, "
                                   "or choose another --out / --data-out)")
    suite = dict(imp.suite)
    suite["dataset"] = {"path": Path(os.path.relpath(data_dir.resolve(), out.parent.resolve())).as_posix(), **suite["dataset"]}
    header = [f"# yaml-language-server: $schema={schema_reference(out)}",
              f"# Imported by `harness import`. {len(imp.notes)} thing(s) not converted" + (":" if imp.notes else ".")]
    header += [f"#   {n}" for n in imp.notes]
    text = "\n".join(header) + "\n" + yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=110)
    with _writing(out.parent):
        out.parent.mkdir(parents=True, exist_ok=True)
    if data_file is None:
        with _writing(out):
            atomic_write_text(out, text)
        return out, None
    with _writing(data_dir):
        data_dir.mkdir(parents=True, exist_ok=True)
    with _writing(data_file), atomic_open(data_file, "w") as f:
        for row in imp.rows or []:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())
        with _writing(out):
            atomic_write_text(out, text)  # replaced before the dataset: a failure here leaves both as they were
    return out, data_file


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """An OSError while writing ``path`` -> one line naming it (exit 4: the machine, not the input)."""
    try:
        yield
    except EnvironmentFailure:
        raise
    except OSError as e:
        if not e.filename:
            e.filename = str(path)
        raise EnvironmentFailure.from_os_error(e, "cannot write") from None
