"""Keep the files a suite reads inside its project.

Why: a pull request can change a suite, and CI runs it. A ``dataset.path`` of ``../../../../etc``
(or a symlink committed into the repository that points out of it) would send any file on the
runner to the model and copy its lines into results.jsonl and the CSVs. So every path a suite
names (dataset folder, split files, adapter and model folders, run directories, scripted output
files, recordings: ``reference_model.recording`` and a metric's ``recording``) must resolve, symlinks followed, inside the project root: the top of the suite's git
repository (the nearest folder upwards holding ``.git``, a folder or a worktree's file), or the
suite's own folder outside a repository, or the run's trust policy's ``data_root``
(:class:`~harness.core.trust.TrustPolicy`: what the user gave as ``--data-root`` /
``HARNESS_DATA_ROOT``). Paths the user types on the command line (``--model``, ``--adapter``)
are the user's choice and are not checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.trust import DATA_ROOT_ENV

__all__ = ["DATA_ROOT_ENV", "inside", "metric_paths", "outside_message", "project_root", "recording_paths"]


def project_root(suite_path: Path, data_root: str | Path | None = None) -> Path:
    """``data_root`` when given (the trust policy's), else the suite's git repository or folder."""
    if data_root is not None:
        return Path(data_root).resolve()
    folder = suite_path.resolve().parent
    for cand in (folder, *folder.parents):
        if (cand / ".git").exists():
            return cand
    return folder


def inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def outside_message(path: Path, root: Path) -> str:
    shown = path.resolve()
    via = f" (through a symlink: {path})" if shown != Path(os.path.abspath(path)) else ""
    return (f"{shown}{via} is outside the project root {root}; a suite may read only files inside it "
            f"(move the data into the repository, or run with --data-root DIR)")


def metric_paths(metrics: list[Any]) -> Iterator[tuple[int, str, Path]]:
    """(metric index, parameter, path) for every file or folder a suite's metric parameters name:
    judge and baseline model specs (adapter, a local model folder, a scripted outputs file),
    pairwise ``baseline_run`` and embedding model folders. Relative ones resolve from the
    working directory, as the code that reads them does (an included file's were made so by
    :mod:`harness.suite.rebase`)."""
    for i, m in enumerate(metrics):
        params = getattr(m, "params", None)
        if params is None:
            continue
        for key in ("judge", "baseline_model", "model", "baseline_run"):
            value = getattr(params, key, None)
            if not isinstance(value, (str, dict)) or not value:
                continue
            if key == "baseline_run" and isinstance(value, str):
                yield i, key, Path(value)
                continue
            for p in _spec_paths(value):
                yield i, key, p


def recording_paths(suite: Any, metrics: list[Any], suite_path: Path) -> Iterator[tuple[tuple[Any, ...], list[Path]]]:
    """(location, paths) for every recording a suite names: ``reference_model.recording`` and each
    metric's ``recording`` parameter, relative to the suite file as :mod:`harness.metrics.agreement`
    reads them. The paths are the folder and the files in it that are read (a symlinked
    ``outputs.jsonl`` leads out as surely as a symlinked folder)."""
    from harness.records.recording import HEADER, OUTPUTS

    def read(rel: str) -> list[Path]:
        folder = suite_path.parent / rel
        if folder.name == HEADER:
            folder = folder.parent
        return [folder, *(f for f in (folder / HEADER, folder / OUTPUTS) if f.exists() or f.is_symlink())]

    ref = getattr(suite, "reference_model", None)
    if ref is not None and ref.recording:
        yield ("reference_model", "recording"), read(ref.recording)
    for i, m in enumerate(metrics):
        rel = getattr(getattr(m, "params", None), "recording", None)
        if isinstance(rel, str) and rel:
            yield ("metrics", i, "recording"), read(rel)


def _spec_paths(text: str | dict[str, Any]) -> list[Path]:
    from harness.core.errors import HarnessError
    from harness.providers.base import ModelSpec

    try:
        spec = ModelSpec.parse(text)
    except HarnessError:  # not a model spec (an embedding model's name or folder)
        return [Path(text)] if isinstance(text, str) and Path(text).exists() else []
    adapter = getattr(spec.params, "adapter", None)
    found = [Path(adapter)] if adapter else []
    if spec.provider in ("local", "vllm", "scripted") and spec.name and Path(spec.name).exists():
        found.append(Path(spec.name))
    if isinstance(text, str) and text.endswith((".yaml", ".yml")) and Path(text).is_file():
        found.append(Path(text))
    return found
