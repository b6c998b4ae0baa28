"""The one place that turns NaN into JSON null (and back), and the validating reader.

JSON has no NaN. Scores that could not be computed are NaN in memory and null on disk: every
record model converts NaN to None as it is built (``_nan_to_none``), and consumers that want
floats call :func:`nan_if_none`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from harness.core.errors import EnvironmentFailure, HarnessError

FORMAT_VERSION = 1  # 0: files written by harness 0.1.0, before records carried a version


def nan_to_none(x: Any) -> Any:
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    return x


def nan_if_none(x: float | None) -> float:
    return float("nan") if x is None else float(x)


class Record(BaseModel):
    """A record's fields are fixed (extra='forbid'): a misspelt or foreign field is an error, not ignored."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _nan_to_none(cls, data: Any) -> Any:
        return nan_to_none(data) if isinstance(data, dict) else data

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (null where a figure could not be computed)."""
        return self.model_dump(mode="json")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


class VersionedRecord(Record):
    format_version: int = 0

    @model_validator(mode="after")
    def _known_version(self) -> VersionedRecord:
        if self.format_version > FORMAT_VERSION:
            raise ValueError(f"format_version {self.format_version} was written by a newer harness "
                             f"(this one reads up to {FORMAT_VERSION}); upgrade harness")
        return self


def field_path(loc: tuple[Any, ...]) -> str:
    """('metrics', 'accuracy', 'mean') -> metrics.accuracy.mean; list positions as [i]."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def describe(e: ValidationError, where: str) -> str:
    """One line: the file, the first bad field, what was expected; how many more."""
    errs = e.errors()
    first = errs[0]
    got = first.get("input")
    shown = "" if first["type"] == "missing" or isinstance(got, (dict, list)) else f" (got {got!r:.60})"
    more = f" (and {len(errs) - 1} more problem(s))" if len(errs) > 1 else ""
    return f"{where}: field {field_path(first['loc'])}: {first['msg']}{shown}{more}"


M = TypeVar("M", bound=BaseModel)


def read_text(path: Path, what: str) -> str:
    """A regular file's text (a FIFO is refused, not waited on); exit 4 when the OS cannot read it,
    exit 2 when it is not UTF-8."""
    from harness.core.io import read_regular_text

    try:
        return read_regular_text(path)
    except FileNotFoundError:
        raise HarnessError(f"{path}: missing; {what}") from None
    except UnicodeDecodeError as e:
        raise HarnessError(f"{path}: not UTF-8 text (byte {e.start}); {what}") from None
    except OSError as e:
        raise EnvironmentFailure.from_os_error(e, "reading") from None


def parse_json(text: str, path: Path, line: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        at = f"{path}:{line}" if line else f"{path}:{e.lineno}"
        tail = text.rstrip()
        cut = e.pos >= len(tail) or not tail.endswith(("}", "]")) or e.msg.startswith("Unterminated")
        hint = " (the file ends early: truncated by a full disk or a killed write?)" if cut else ""
        raise HarnessError(f"{at}: invalid JSON: {e.msg}{hint}") from None


def validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise HarnessError(describe(e, where)) from None


def read_record(model: type[M], path: str | Path, what: str = "") -> M:
    """Read and validate one JSON record file."""
    p = Path(path)
    return validate(model, parse_json(read_text(p, what or f"expected a {model.__name__} JSON file"), p), str(p))
