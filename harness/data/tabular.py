"""Datasets where users keep them: Parquet files and Hugging Face ``datasets`` (a ``save_to_disk``
folder, or a hub dataset already in the local cache, read offline).

Each reader gives ``(row number, record)`` pairs (rows counted from 1, as a person counts them) and
the split's sha256 (as for every format: the bytes the examples came from; a Parquet file's own
sha256, the Arrow files' bytes of a ``datasets`` split in order), or a located problem naming the
file, the row and the column.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import decimal
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.core.errors import Problem
from harness.core.hashing import BLOCK, sha256_file

HUB_PREFIX = "hub:"  # dataset.path "hub:ORG/NAME" with format hf: a hub dataset read from the local cache
OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


def read_parquet(path: Path, problems: list[Problem]) -> tuple[list[tuple[int, dict[str, Any]]], str]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        problems.append(Problem(str(path), "", "format: parquet needs pyarrow (pip install pyarrow)"))
        return [], ""
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises ArrowInvalid / OSError for a file that is not Parquet
        problems.append(Problem(str(path), "", f"not a readable Parquet file: {' '.join(str(e).split())[:300]}"))
        return [], ""
    return _rows(table.to_pylist(), {f.name: str(f.type) for f in table.schema}), sha256_file(path)


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """HF_DATASETS_OFFLINE=1 and HF_HUB_OFFLINE=1 for the call (also in the libraries' constants, read
    at import), put back after: reading a dataset never reaches the network."""
    saved = {k: os.environ.get(k) for k in OFFLINE}
    os.environ.update(OFFLINE)
    patched: list[tuple[Any, str, Any]] = []
    try:
        import datasets.config as dcfg
        import huggingface_hub.constants as hconst

        for mod, name in ((dcfg, "HF_HUB_OFFLINE"), (dcfg, "HF_DATASETS_OFFLINE"), (hconst, "HF_HUB_OFFLINE")):
            if hasattr(mod, name):
                patched.append((mod, name, getattr(mod, name)))
                setattr(mod, name, True)
        yield
    finally:
        for mod, name, value in patched:
            setattr(mod, name, value)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def read_hf(base: Path, hub: str | None, split: str, problems: list[Problem]) -> tuple[list[tuple[int, dict[str, Any]]], str, Path]:
    """A split of a ``save_to_disk`` folder (``base / split``, or ``base`` itself for a saved Dataset
    when ``split`` is ".") or, with ``hub``, split ``split`` of that hub dataset from the local cache."""
    where = hub or str(base / split)
    try:
        import datasets
    except ImportError:
        problems.append(Problem(where, "", "format: hf needs the datasets package (pip install -e '.[local]')"))
        return [], "", base
    with offline():
        if hub is not None:
            ds = _from_cache(datasets, hub, split, problems)
        else:
            ds = _from_disk(datasets, base, split, problems)
    if ds is None:
        return [], "", base
    files = [Path(f["filename"]) for f in ds.cache_files]
    path = files[0].parent if hub is not None and files else base / split
    features = {k: str(v) for k, v in ds.features.items()}
    return _rows(ds.to_list(), features), _files_sha256(files), path


def _from_disk(datasets: Any, base: Path, split: str, problems: list[Problem]) -> Any:
    target = base / split
    if not target.is_dir():
        problems.append(Problem(str(target), "", "no such folder: format: hf reads a datasets.save_to_disk folder; "
                                "each dataset.splits value names a split folder in it (or '.' for a saved Dataset)"))
        return None
    try:
        ds = datasets.load_from_disk(str(target))
    except Exception as e:
        problems.append(Problem(str(target), "", f"not a datasets.save_to_disk folder: {' '.join(str(e).split())[:300]}"))
        return None
    if isinstance(ds, datasets.DatasetDict):
        problems.append(Problem(str(target), "", f"a DatasetDict with splits {', '.join(ds)}: name one of them in "
                                f"dataset.splits (e.g. test: {next(iter(ds), 'test')})"))
        return None
    return ds


def _from_cache(datasets: Any, hub: str, split: str, problems: list[Problem]) -> Any:
    try:
        return datasets.load_dataset(hub, split=split)
    except Exception as e:
        cache = os.environ.get("HF_DATASETS_CACHE") or str(Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "datasets")
        problems.append(Problem(f"{HUB_PREFIX}{hub}", "", f"split {split!r} is not in the local cache ({cache}), read offline "
                                f"(HF_DATASETS_OFFLINE=1): {type(e).__name__}: {' '.join(str(e).split())[:200]}; download it once "
                                f"(python -c \"import datasets; datasets.load_dataset('{hub}')\") or save_to_disk it and point "
                                "dataset.path at that folder"))
        return None


def _files_sha256(files: list[Path]) -> str:
    """sha256 of the split's Arrow files' bytes, in order: one file's is its sha256sum, as for every format."""
    if len(files) == 1:
        return sha256_file(files[0])
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(BLOCK), b""):
                h.update(block)
    return h.hexdigest()


def _plain(v: Any) -> Any:
    """A value as JSON holds it: dates and decimals as text; bytes stay bytes (refused by the caller)."""
    if isinstance(v, _dt.date | _dt.datetime | _dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return v


class Typed(dict):
    """A row's record, with the column types of its table (for messages naming a wrong type)."""

    types: dict[str, str]


def _rows(records: list[dict[str, Any]], types: dict[str, str]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for i, rec in enumerate(records, start=1):
        row = Typed({k: _plain(v) for k, v in rec.items()})
        row.types = types
        out.append((i, row))
    return out


def value_problem(value: Any, column: str, role: str, types: dict[str, str]) -> str | None:
    """Why ``value`` of ``column`` cannot serve as ``role`` (id, input, category, a template variable), or None."""
    kind = types.get(column, type(value).__name__)
    if value is None:
        return f"column {column!r} ({role}) is null; give every row a value, or drop the row"
    if isinstance(value, bytes | bytearray):
        return f"column {column!r} ({role}) holds binary values ({kind}); expected text: store it as a string column"
    if role in ("id", "category") and not isinstance(value, str | int) or isinstance(value, bool) and role == "id":
        return f"column {column!r} ({role}) is of type {kind}; expected a string or an integer"
    return None
