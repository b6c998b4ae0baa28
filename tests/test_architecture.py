"""The layering of harness/: no import cycle between its packages, and core imports nothing of ours.

Every import counts, wherever it is written (module top, inside a function, under
TYPE_CHECKING): a lazy import hides a cycle from Python, not from the next reader. Nodes are
harness's top-level packages and modules (harness.core, harness.metrics, harness.runner, ...).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "harness"


def _node(module: str) -> str | None:
    """harness.metrics.bleu -> metrics; harness.runner -> runner; harness -> None (the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "harness" else None


def _imports(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                pkg = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                base = pkg[: len(pkg) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            # `from harness import runner` imports the module harness.runner
            found.update(f"{target}.{a.name}" for a in node.names if target == "harness")
    return found


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        src = _node(module)
        if src is None:
            continue
        graph[src]
        for target in _imports(path, module):
            dst = _node(target)
            if dst and dst != src and ((PKG / dst).is_dir() or (PKG / f"{dst}.py").is_file()):
                graph[src].add(dst)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_harness_packages():
    found = cycles(import_graph())
    assert not found, "import cycles in harness/ (move the shared type into harness.core): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_core_imports_nothing_else_of_the_harness():
    assert import_graph()["core"] <= set(), f"harness.core imports {sorted(import_graph()['core'])}"


def test_the_run_record_and_the_records_do_not_import_the_runner():
    g = import_graph()
    assert "runner" not in g["run_record"] and "runner" not in g["records"]
    assert g["records"] <= {"core"}, f"harness.records imports {sorted(g['records'])}"
    assert not [c for c in cycles(g) if "run_record" in c or "records" in c or "gating" in c or "report" in c]
