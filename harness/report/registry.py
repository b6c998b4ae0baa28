"""Reporters: each renders a comparison (and the gate decision, when there is one) into files.

A reporter is a function of a :class:`ReportInput` returning ``{file name: text}``; it writes
nothing itself, so every format is rendered before the first file is written and all of them
land together (staged, renamed into place). A new format is one module:

    from harness.report.registry import ReportInput, reporter

    @reporter("tsv")
    def tsv(inp: ReportInput) -> dict[str, str]:
        return {"scores.tsv": ...}

then ``harness gate --format tsv`` (a module outside harness is imported through the
``harness.plugins`` entry-point group, as metrics and providers are).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.compare.comparison import Comparison
from harness.core.registry import Registry
from harness.records.files import staged
from harness.records.gate import GateDecision


@dataclass
class ReportInput:
    comparison: Comparison
    decision: GateDecision | None = None  # None: a comparison without gates (harness compare)
    title: str | None = None

    @property
    def lineage(self) -> list[dict[str, Any]] | None:
        return self.decision.lineage if self.decision else None


Reporter = Callable[[ReportInput], dict[str, str]]

REPORTERS: Registry[Reporter] = Registry("reporter")
for _name, _module in {"text": "text", "json": "json_record", "markdown": "markdown", "junit": "junit",
                       "html": "html", "csv": "csv"}.items():
    REPORTERS.lazy(_name, f"harness.report.{_module}")

GATE_FORMATS = ("json", "html", "junit", "markdown", "csv")  # what `harness gate` writes by default
COMPARE_FORMATS = ("json", "csv", "html")


def reporter(name: str) -> Callable[[Reporter], Reporter]:
    """Register a report format under ``name``: ``@reporter("markdown")``."""
    return REPORTERS.register(name)


def render(inp: ReportInput, formats: tuple[str, ...] | list[str]) -> dict[str, dict[str, str]]:
    """Every requested format's files, rendered in memory; an unknown name fails before anything is written."""
    chosen = {name: REPORTERS.get(name) for name in formats}
    return {name: fn(inp) for name, fn in chosen.items()}


def write_reports(rendered: dict[str, dict[str, str]], out_dir: Path) -> dict[str, dict[str, Path]]:
    """Write every rendered file into ``out_dir``, all or none (a full disk leaves the previous reports whole)."""
    from harness.records.files import ensure_writable

    ensure_writable(out_dir, "reports folder")
    paths: dict[str, dict[str, Path]] = {}
    with staged(out_dir, "writing the reports") as st:
        for fmt, files in rendered.items():
            for name, text in files.items():
                with st.open(name, newline="" if name.endswith(".csv") else None) as fh:
                    fh.write(text)
                paths.setdefault(fmt, {})[name] = out_dir / name
    return paths
