"""A suite's files: the one named and the chain it ``include:``s, merged, with every key's origin.

``include: other.yaml`` extends another suite file, as lm-eval's tasks do: recursively (a includes
b includes c: all three merge, the nearer file winning key by key), with cycles refused (the error
names the chain), and paths resolved against the file that names them (an included file's
``include``, ``dataset.path`` and its metrics' files, see :mod:`harness.suite.rebase`; split files
are relative to ``dataset.path``). A problem in any of them is reported at the file and line where
the offending key was written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import Problem
from harness.core.io import NotRegularFile, read_regular_text


@dataclass
class Source:
    """One file of the chain: its path, parsed data and YAML node (for line numbers)."""

    path: Path
    data: dict[str, Any]
    node: yaml.Node | None


@dataclass
class Sources:
    """The files of a suite, nearest first (the suite itself, then what it includes, ...)."""

    chain: list[Source] = field(default_factory=list)

    @property
    def root(self) -> Source:
        return self.chain[0]

    def origin(self, loc: tuple[Any, ...]) -> Source:
        """The file a value at ``loc`` came from: the nearest file that wrote it (or the longest
        part of its path, for a key that is missing), else the suite itself."""
        for depth in range(len(loc), 0, -1):
            for src in self.chain:
                if _has(src.data, loc[:depth]):
                    return src
        return self.root

    def problem(self, loc: tuple[Any, ...], message: str, shown: str | None = None) -> Problem:
        src = self.origin(loc)
        return Problem(str(src.path), shown if shown is not None else (format_loc(loc) or "suite"), message,
                       line=_yaml_line(src.node, loc))


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _yaml_line(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest node reachable along ``loc``."""
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        nxt = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if k.value == part:
                    line, nxt = k.start_mark.line + 1, v
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        node = nxt
    if node is not None:
        line = node.start_mark.line + 1
    return line


def _has(data: Any, loc: tuple[Any, ...]) -> bool:
    for part in loc:
        if (isinstance(data, dict) and isinstance(part, str) and part in data) or (
                isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)):
            data = data[part]
        else:
            return False
    return True


def read_yaml(path: Path, problems: list[Problem], named_at: Problem | None = None) -> Source | None:
    """One suite file parsed; a problem (at ``named_at`` when the file is missing) and None when it cannot be."""
    name = str(path)
    try:
        text = read_regular_text(path)  # a FIFO is refused, not waited on
    except (FileNotFoundError, IsADirectoryError):
        problems.append(named_at or Problem(name, "", "no such suite file"))
        return None
    except NotRegularFile as e:
        where = named_at or Problem(name, "", "")
        problems.append(Problem(where.file, where.location, f"{path}: {e.strerror}" if named_at else e.strerror, line=where.line))
        return None
    except OSError as e:
        problems.append(Problem(name, "", f"cannot read: {e.strerror or e}"))
        return None
    except UnicodeDecodeError as e:
        problems.append(Problem(name, "", f"not UTF-8 text ({e.reason} at byte {e.start})"))
        return None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        msg = getattr(e, "problem", None) or str(e)
        problems.append(Problem(name, "YAML syntax", msg, line=mark.line + 1 if mark else None))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(name, "", "expected a mapping of suite keys (name, version, dataset, prompt, metrics, ...)"))
        return None
    return Source(path, data, node)


def read_chain(path: Path, problems: list[Problem], root: Path | None = None) -> Sources | None:
    """The suite file and every file it includes, transitively; None when one cannot be read.
    An included file outside ``root`` is refused before it is read (its text could end up in an
    error message in a public CI log)."""
    first = read_yaml(path, problems)
    if first is None:
        return None
    sources = Sources([first])
    seen = [path.resolve()]
    cur = first
    while "include" in cur.data:
        inc = cur.data["include"]
        line = _yaml_line(cur.node, ("include",))
        if not isinstance(inc, str) or not inc.strip():
            problems.append(Problem(str(cur.path), "include", "expected the path of another suite file", line=line))
            return None
        target = Path(os.path.normpath(cur.path.parent / inc))  # relative to the file that names it
        if target.resolve() in seen:
            chain = " -> ".join(str(s.path) for s in sources.chain) + f" -> {target}"
            problems.append(Problem(str(cur.path), "include", f"include cycle: {chain}", line=line))
            return None
        if root is not None and not target.resolve().is_relative_to(root):
            from harness.suite.confine import outside_message

            problems.append(Problem(str(cur.path), "include", outside_message(target, root), line=line))
            return None
        missing = Problem(str(cur.path), "include", f"no such suite file: {target}", line=line)
        nxt = read_yaml(target, problems, named_at=missing)
        if nxt is None:
            return None
        _rebase_paths(nxt, first.path.parent)
        sources.chain.append(nxt)
        seen.append(target.resolve())
        cur = nxt
    return sources


def _rebase_paths(src: Source, root_folder: Path) -> None:
    """Make an included file's ``dataset.path`` relative to the suite's own folder, so it points where
    its author meant (relative to the included file) and the merged suite's hash stays machine-free;
    and its metrics' paths relative to the working directory, where their readers open them."""
    from harness.suite.rebase import rebase_metric_paths

    rebase_metric_paths(src.data.get("metrics"), src.path.parent)
    ds = src.data.get("dataset")
    if not isinstance(ds, dict) or not ({"path", "splits"} & set(ds)):
        return
    given = ds.get("path", ".")
    if not isinstance(given, str):
        return  # the schema reports it
    target = src.path.parent / given
    ds["path"] = given if Path(given).is_absolute() else os.path.relpath(target, root_folder)


def merged(sources: Sources) -> dict[str, Any]:
    """The chain's data merged deeply, the nearest file winning; ``include`` is the suite's own."""
    out: dict[str, Any] = {}
    for src in reversed(sources.chain):
        out = _deep_merge(out, src.data)
    if "include" in sources.root.data:
        out["include"] = sources.root.data["include"]
    else:
        out.pop("include", None)
    return out


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out
