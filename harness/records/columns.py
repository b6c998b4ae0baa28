"""results.jsonl read as columns: one pandas DataFrame per run, not one dict (or model) per example.

Reading: pyarrow's JSON reader parses the file into typed columns (:func:`read_table`); at 5,000
rows or more a Parquet copy is left beside it (results.parquet, stamped with the JSONL's size and
mtime, used only while they match: the JSONL stays the record). A file Arrow cannot type (an input
that is a string in one row and an object in another, an unknown field, invalid JSON) goes through
the per-row reader (:func:`parse_lines` + :func:`to_frame`) instead.

Validation at scale (one pydantic model per row took ~18 s for two 100,000-row runs):

1. every line must be JSON (the per-row reader names the file and line);
2. columnar checks over every row: on the Arrow path each column's Arrow type must be one
   ExampleRow accepts (:func:`_arrow_ok`); on the per-row path the keys must be ExampleRow's
   fields, ``id`` in each, and each field's Python types allowed (:func:`_columns_ok`);
   ``scores`` numbers or null, ``score_errors`` strings;
3. the full ExampleRow model on a bounded sample (the first rows and an even spread, 512 at most),
   which checks what the columnar pass does not look into (the prompt's turns);
4. when a per-row columnar check fails, every row goes through the model, so the error is the same
   one line naming ``results.jsonl:LINE`` and the field that the per-row reader always gave.

Scores are float64 columns named ``scores.NAME`` (NaN: not scored or absent).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl
from harness.records.base import validate

SCORE_PREFIX = "scores."
SAMPLE = 512
_NUM = (int, float)
# Python types each field may hold as parsed from JSON (ExampleRow's annotations, strictly).
_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "line": (int, type(None)), "category": (str, type(None)), "prompt": (list,),
    "output": (str, type(None)), "scores": (dict,), "score_errors": (dict,), "latency_s": (*_NUM, type(None)),
    "input_tokens": (int, type(None)), "output_tokens": (int, type(None)), "finish_reason": (str, type(None)),
    "error": (str, type(None)), "attempts": (int, type(None)), "cached": (bool,),
}
_DEFAULTS: dict[str, Any] = {"line": None, "category": None, "input": None, "prompt": None, "output": None,
                             "reference": None, "scores": None, "score_errors": None, "latency_s": None,
                             "input_tokens": None, "output_tokens": None, "finish_reason": None, "error": None,
                             "attempts": None, "cached": False}
FIELDS = ["id", *_DEFAULTS]
# Present only in runs with generation.repeats > 1 (harness.evaluate.repeats): kept as object columns when any
# row has them, and left out of the rows again where a row has none (rows of other runs stay as written).
# Likewise "loglik": present only in runs of a log-likelihood suite (the per-choice figures).
OPTIONAL = ("repeats", "flakiness", "flaky", "loglik")


def parse_lines(text: str, path: Path) -> tuple[list[dict[str, Any]], list[int]]:
    """Every non-blank line's JSON value and its line number (a bad line raises, naming path:line)."""
    rows, lines = [], []
    for n, row in read_jsonl(path, data=text):
        rows.append(row)
        lines.append(n)
    return rows, lines


def _columns_ok(rows: list[dict[str, Any]]) -> bool:
    """The columnar checks (2. above) over every row; False on the first failure."""
    if not all(type(r) is dict for r in rows):
        return False
    keys: set[str] = set().union(*map(dict.keys, rows)) if rows else set()
    if not keys <= set(FIELDS) | set(OPTIONAL) or not all("id" in r for r in rows):
        return False
    for name in keys & set(_TYPES):
        allowed = _TYPES[name]
        col = [r[name] for r in rows if name in r]
        if not set(map(type, col)) <= set(allowed) or (name in ("line", "input_tokens", "output_tokens", "attempts")
                                                       and any(type(v) is bool for v in col)):
            return False
    for r in rows:
        s = r.get("scores")
        if s and not all(type(v) in (float, int, type(None)) for v in s.values()):
            return False
        e = r.get("score_errors")
        if e and not all(type(v) is str for v in e.values()):
            return False
    return True


def _sample(n: int) -> list[int]:
    if n <= SAMPLE:
        return list(range(n))
    step = n / (SAMPLE - 64)
    return sorted(set(range(64)) | {int(i * step) for i in range(SAMPLE - 64)})


def to_frame(rows: list[dict[str, Any]], lines: list[int], path: Path, model: Any) -> pd.DataFrame:
    """Validated columns of the parsed rows (see the module's docstring for what is checked how)."""
    if not _columns_ok(rows):
        rows = [validate(model, r, f"{path}:{n}").model_dump(mode="json") for r, n in zip(rows, lines, strict=True)]
    else:
        for i in _sample(len(rows)):
            validate(model, rows[i], f"{path}:{lines[i]}")
    data: dict[str, Any] = {}
    for name in FIELDS:
        default = _DEFAULTS.get(name)
        col = [r.get(name, default) for r in rows]
        if name in ("prompt", "scores", "score_errors"):
            col = [v if v is not None else ({} if name != "prompt" else []) for v in col]
        data[name] = col
    for name in OPTIONAL:
        if any(name in r for r in rows):
            data[name] = [r.get(name) for r in rows]
    # object columns: None stays None and ints stay ints (a float column would turn both into floats)
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in data.items()})
    names: dict[str, None] = {}
    for s in data["scores"]:
        for k in s:
            names.setdefault(k, None)
    for k in names:
        frame[SCORE_PREFIX + k] = np.array([_num(s.get(k)) for s in data["scores"]], dtype=np.float64)
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise HarnessError(f"{path}: example id {dup!r} appears twice; a run has one row per example")
    return frame.drop(columns=["scores"])


def _num(v: Any) -> float:
    return math.nan if v is None else float(v)


def score_names(frame: pd.DataFrame) -> list[str]:
    return [c[len(SCORE_PREFIX):] for c in frame.columns if c.startswith(SCORE_PREFIX)]


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as the dicts results.jsonl holds (scores as a dict; NaN -> None), for per-row consumers."""
    names = score_names(frame)
    score_cols = [frame[SCORE_PREFIX + n].to_numpy() for n in names]
    plain = [c for c in FIELDS if c != "scores"]
    cols = {c: frame[c].tolist() for c in plain}
    optional = [c for c in OPTIONAL if c in frame.columns]
    opt = {c: frame[c].tolist() for c in optional}
    out = []
    for i in range(len(frame)):
        row = {c: cols[c][i] for c in plain}
        row["prompt"] = row["prompt"] or []  # a null list in Arrow
        for c in optional:
            if opt[c][i] is not None:
                row[c] = opt[c][i]
        row["scores"] = {n: (None if math.isnan(v[i]) else float(v[i])) for n, v in zip(names, score_cols, strict=True)}
        out.append(row)
    return out


# ---------------------------------------------------------------- the fast path: Arrow

PARQUET = "results.parquet"
PARQUET_MIN_ROWS = 5000  # below this the JSONL parses in milliseconds; no copy beside it
_STR, _INT, _NUMS = ("string", "null"), ("int64", "null"), ("double", "int64", "null")
_ARROW: dict[str, tuple[str, ...]] = {
    "id": ("string",), "line": _INT, "category": _STR, "input": _STR, "output": _STR, "reference": _STR,
    "latency_s": _NUMS, "input_tokens": _INT, "output_tokens": _INT, "finish_reason": _STR, "error": _STR,
    "attempts": _INT, "cached": ("bool",),
}


def _arrow_ok(table: Any) -> bool:
    """Every column has a type ExampleRow accepts, in the shapes the runner writes; anything else
    (an input that is an object in some rows, an unknown field) goes the per-row way instead."""
    import pyarrow as pa

    if "id" not in table.column_names or table.column("id").null_count:
        return False
    for name in table.column_names:
        t = table.schema.field(name).type
        if name in _ARROW:
            if str(t) not in _ARROW[name]:
                return False
        elif name in ("scores", "score_errors"):
            allowed = _NUMS if name == "scores" else _STR
            if not (pa.types.is_null(t) or (pa.types.is_struct(t) and all(str(f.type) in allowed for f in t))):
                return False
        elif name == "prompt":
            ok_turn = pa.types.is_list(t) and (pa.types.is_null(t.value_type) or (
                pa.types.is_struct(t.value_type) and {f.name for f in t.value_type} <= {"role", "content"}
                and all(str(f.type) in _STR for f in t.value_type)))
            if not (pa.types.is_null(t) or ok_turn):
                return False
        else:
            return False
    return True


def arrow_frame(table: Any, path: Path) -> pd.DataFrame:
    """The DataFrame of a checked Arrow table: the same columns as :func:`to_frame` makes."""
    import pyarrow.compute as pc

    n = table.num_rows
    data: dict[str, Any] = {}
    for name in FIELDS:
        if name == "scores":
            continue
        if name not in table.column_names:
            col: Any = [_DEFAULTS.get(name)] * n if name not in ("prompt", "score_errors") else [{} for _ in range(n)]
        elif name == "prompt":  # the heaviest column and unused by compare and report: left in Arrow
            col = pd.arrays.ArrowExtensionArray(table.column(name))
        elif name == "score_errors":
            t = table.schema.field(name).type
            col = [{} for _ in range(n)] if str(t) == "null" or t.num_fields == 0 else [
                {k: v for k, v in d.items() if v is not None} if d else {} for d in table.column(name).to_pylist()]
        else:
            col = table.column(name).to_pylist()
        data[name] = col
    frame = pd.DataFrame({k: pd.Series(v, dtype=None if k == "prompt" else object) for k, v in data.items()})
    if "scores" in table.column_names and str(table.schema.field("scores").type) != "null":
        scores = table.column("scores").combine_chunks()
        for k, f in enumerate(table.schema.field("scores").type):
            values = pc.cast(scores.field(k), "double")
            frame[SCORE_PREFIX + f.name] = values.to_numpy(zero_copy_only=False).astype(np.float64)
    if frame["id"].duplicated().any():
        dup = frame.loc[frame["id"].duplicated(), "id"].iloc[0]
        raise HarnessError(f"{path}: example id {dup!r} appears twice; a run has one row per example")
    return frame


def _stamp(path: Path) -> dict[bytes, bytes]:
    st = path.stat()
    return {b"harness.jsonl": f"{st.st_size}:{st.st_mtime_ns}".encode()}


def read_table(path: Path) -> Any | None:
    """results.jsonl as a checked Arrow table, from the Parquet copy beside it when that was made from
    this very file (size and mtime recorded in it); None when the file needs the per-row reader."""
    import pyarrow as pa
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    copy = path.with_name(PARQUET)
    stamp = _stamp(path)
    if copy.exists():
        try:
            table = pq.read_table(copy)
            if (table.schema.metadata or {}).get(b"harness.jsonl") == stamp[b"harness.jsonl"] and _arrow_ok(table):
                return table
        except (OSError, pa.ArrowException, UnicodeDecodeError):
            pass  # a damaged or foreign copy: read the JSONL, the record
    try:  # one thread: the machines this runs on are often busy, and threads bought nothing here
        table = pj.read_json(path, read_options=pj.ReadOptions(use_threads=False, block_size=16 << 20))
        ok = _arrow_ok(table)
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return None  # invalid JSON, mixed types or non-UTF-8 names: the per-row reader names the line
    if not ok:
        return None
    if table.num_rows >= PARQUET_MIN_ROWS:
        _write_copy(table.replace_schema_metadata(stamp), copy)
    return table


def _write_copy(table: Any, copy: Path) -> None:
    """Parquet beside the JSONL for the next reader; a read-only run folder just goes without."""
    import contextlib
    import os
    import tempfile

    import pyarrow.parquet as pq

    try:
        fd, tmp = tempfile.mkstemp(prefix=".results.", suffix=".parquet.tmp", dir=copy.parent)
    except OSError:
        return
    os.fchmod(fd, 0o644)  # as readable as the run's other files (mkstemp makes 0600)
    os.close(fd)
    import pyarrow as pa

    empty = [n for n in table.column_names if pa.types.is_struct(t := table.schema.field(n).type) and t.num_fields == 0]
    try:  # Parquet has no empty struct; an absent score_errors reads as {} per row all the same
        pq.write_table(table.drop_columns(empty), tmp)
        os.replace(tmp, copy)
    except (OSError, pa.ArrowException):
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def sample_check(frame: pd.DataFrame, lines: list[int] | None, path: Path, model: Any) -> None:
    """The full model on a bounded sample of rows (3. in the module's docstring)."""
    idx = _sample(len(frame))
    for i, row in zip(idx, frame_rows(frame.iloc[idx]), strict=True):
        validate(model, row, f"{path}:{lines[i] if lines else i + 1}")
