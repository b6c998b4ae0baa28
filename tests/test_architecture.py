"""The layering of harness/: imports go down the layer table of docs/architecture.md, no module at the
package root, no import cycle between or inside packages, and core imports nothing of ours.

Every import counts, wherever it is written (module top, inside a function, under
TYPE_CHECKING): a lazy import hides a cycle from Python, not from the next reader. Nodes are
harness's top-level packages and modules (harness.core, harness.metrics, harness.evaluate.run, ...).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "harness"


def _node(module: str) -> str | None:
    """harness.metrics.bleu -> metrics; harness.evaluate.run -> runner; harness -> None (the package itself)."""
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
            # `from harness import runner` imports the module harness.evaluate.run
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


def test_the_records_import_only_core():
    g = import_graph()
    assert g["records"] <= {"core"}, f"harness.records imports {sorted(g['records'])}"


# --- the layer table of docs/architecture.md, the root package, cycles inside packages ---------------

DOC = PKG.parent / "docs" / "architecture.md"
ROOT_MODULES = {"__init__", "__main__"}  # a package's root holds nothing else: every concept has its folder


def layer_table() -> dict[str, int]:
    """``| 3 | `engine` | ... |`` rows of the table under "## The layers" -> {package: layer}."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## The layers"):]
    section = section[: section.index("\n## ", 4)] if "\n## " in section[4:] else section
    table: dict[str, int] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit() and cells[1].startswith("`"):
            table[cells[1].strip("`")] = int(cells[0])
    return table


def layer_violations(graph: dict[str, set[str]], table: dict[str, int]) -> list[str]:
    out = []
    for src in sorted(graph):
        if src not in table:
            out.append(f"harness.{src} is not in the layer table of docs/architecture.md")
            continue
        for dst in sorted(graph[src]):
            if dst not in table:
                out.append(f"harness.{dst} (imported by {src}) is not in the layer table")
            elif table[dst] >= table[src]:
                out.append(f"harness.{src} (layer {table[src]}) imports harness.{dst} (layer {table[dst]}): imports go down")
    return out


def module_graph() -> dict[str, dict[str, set[str]]]:
    """Per package, the import graph between its own modules (harness.train.base -> harness.train.launch)."""
    mods: dict[str, Path] = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG.parent).with_suffix("")
        mods[".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)] = path
    per_pkg: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for mod, path in mods.items():
        pkg = mod.rpartition(".")[0]
        per_pkg[pkg][mod]
        for target in _imports(path, mod):
            while target and target not in mods:
                target = target.rpartition(".")[0]
            if target and target != mod and target != pkg and target.rpartition(".")[0] == pkg:
                per_pkg[pkg][mod].add(target)
    return per_pkg


def test_every_import_goes_down_the_layer_table():
    table = layer_table()
    assert {"core", "records", "evaluate", "cli"} <= set(table), f"no layer table read from {DOC}"
    bad = layer_violations(import_graph(), table)
    assert not bad, "\n".join(bad)


def test_the_layer_check_catches_an_upward_import_and_an_unlisted_package():
    table = {"core": 0, "engine": 3}
    assert layer_violations({"core": {"engine"}, "engine": {"core"}}, table) == [
        "harness.core (layer 0) imports harness.engine (layer 3): imports go down"]
    assert layer_violations({"newpkg": set()}, table) == ["harness.newpkg is not in the layer table of docs/architecture.md"]


def test_no_module_at_the_package_root():
    found = sorted(p.stem for p in PKG.glob("*.py") if p.stem not in ROOT_MODULES)
    assert not found, f"modules at harness/'s root: {found}; put each in the package of its concept (docs/architecture.md)"


def test_every_package_in_the_table_exists_and_every_folder_is_in_it():
    folders = {p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    table = set(layer_table())
    assert folders == table, f"folders not in the table: {sorted(folders - table)}; rows with no folder: {sorted(table - folders)}"


def test_no_import_cycle_inside_a_package():
    found = {pkg: c for pkg, g in module_graph().items() if (c := cycles(g))}
    assert not found, "import cycles inside packages (move the shared piece into a leaf module): " + "; ".join(
        f"{pkg}: {' <-> '.join(c[0])}" for pkg, c in found.items())
