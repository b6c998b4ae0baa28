"""A scripted provider: returns given outputs. For testing the harness's own logic only.

``scripted:FILE`` reads a JSON object or JSONL of ``{"id": ..., "output": ...}`` (or
``{"id": ..., "error": ...}``, optionally with ``"delay_s"``) keyed by example id; ``{"id": ..., "outputs": [...]}``
answers repeat r (``generation.repeats``) with ``outputs[r % len(outputs)]``, a sampled model made predictable. Tests may also build it in-process with
a dict or a function of the request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl
from harness.core.hashing import hash_path
from harness.core.types import Request, Response
from harness.providers.base import ModelSpec, Provider, ProviderParams, provider

Script = Mapping[str, str] | Callable[[Request], str]


class ScriptedParams(ProviderParams):
    """No keys of its own: the outputs file is the model's name (``scripted:FILE``)."""


@provider("scripted")
class ScriptedProvider(Provider):
    Params = ScriptedParams
    kinds = frozenset({"generate", "text"})  # outputs by example id: a plain-text prompt is answered the same way
    def __init__(self, spec: ModelSpec, script: Script | None = None, default: str | None = None, latency_s: float = 0.0):
        super().__init__(spec)
        self.default = default
        self.latency_s = latency_s
        self.calls: list[Request] = []
        self.errors: dict[str, str] = {}
        self.delays: dict[str, float] = {}
        self.per_repeat: dict[str, list[str]] = {}
        if script is None:
            script = self._load(spec.name)
        self.script = script

    def _load(self, name: str) -> dict[str, str]:
        if not name:
            raise HarnessError("scripted provider: give a file of outputs, e.g. scripted:outputs.jsonl")
        path = Path(name)
        if not path.is_file():
            raise HarnessError(f"scripted provider: {name}: no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise HarnessError(f"{name}: not UTF-8 text (byte {e.start}); save it as UTF-8") from None
        rows: list[tuple[str, Any]]
        if path.suffix == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as e:
                raise HarnessError(f"{name}:{e.lineno}: invalid JSON: {e.msg}") from None
            if isinstance(data, dict):
                rows = [(f"{name}: {k!r}", {"id": k, "output": v}) for k, v in data.items()]
            elif isinstance(data, list):
                rows = [(f"{name}: [{i}]", row) for i, row in enumerate(data)]
            else:
                raise HarnessError(f"{name}: expected an object of id -> output or a list of rows, got {type(data).__name__}")
        else:
            rows = [(f"{name}:{n}", row) for n, row in read_jsonl(name, data=text)]
        script: dict[str, str] = {}
        for where, row in rows:
            problem = _row_problem(row)
            if problem:
                raise HarnessError(f"{where}: {problem}")
            rid = str(row["id"])
            if "outputs" in row:
                self.per_repeat[rid] = [str(o) for o in row["outputs"]]
                continue
            if "delay_s" in row:
                self.delays[rid] = float(row["delay_s"])
            if "error" in row:
                self.errors[rid] = str(row["error"])
            else:
                script[rid] = str(row["output"])
        return script

    def fingerprint(self) -> dict[str, Any]:
        # keyed_by: a script answers by example id, not by prompt, so the cache key must carry the
        # id too, or two examples with the same prompt would get each other's output on a rerun.
        fp: dict[str, Any] = {"provider": "scripted", "name": self.spec.name, "keyed_by": "example_id"}
        if self.spec.name and Path(self.spec.name).is_file():
            fp["sha256"] = hash_path(self.spec.name)
        else:
            fp["instance"] = id(self)  # in-process scripts are never shared through the cache
        return fp

    def _answer(self, request: Request) -> Response:
        self.calls.append(request)
        if request.example_id in self.errors:
            return Response(text=None, error=self.errors[request.example_id])
        if request.example_id in self.per_repeat:
            outputs = self.per_repeat[request.example_id]
            text = outputs[(request.repeat or 0) % len(outputs)]
        elif callable(self.script):
            text = self.script(request)
        elif request.example_id in self.script:
            text = self.script[request.example_id]
        elif self.default is not None:
            text = self.default
        else:
            return Response(text=None, error=f"scripted provider has no output for example {request.example_id!r}")
        return Response(text=text, input_tokens=sum(len(c.split()) for _, c in request.messages),
                        output_tokens=len(text.split()), finish_reason="stop")

    async def complete(self, request: Request) -> Response:
        delay = self.delays.get(request.example_id, self.latency_s)
        if delay:
            await asyncio.sleep(delay)
        return self._answer(request)


def _text(v: Any) -> bool:
    """An output the file may give: a string, or a number written without quotes (a label)."""
    return isinstance(v, str) or (isinstance(v, int | float) and not isinstance(v, bool))


def _row_problem(row: Any) -> str | None:
    """What is wrong with one row of a scripted outputs file, or None."""
    if not isinstance(row, dict):
        return f"expected a JSON object with id and output, got {type(row).__name__}"
    if not _text(row.get("id")):
        return "id: expected a string"
    if "outputs" in row:
        outs = row["outputs"]
        if not isinstance(outs, list) or not outs or not all(_text(o) for o in outs):
            return "outputs: expected a non-empty list of strings"
        return None
    if "delay_s" in row and (not isinstance(row["delay_s"], int | float) or isinstance(row["delay_s"], bool)
                             or not 0 <= row["delay_s"] <= 3600):
        return "delay_s: expected a number of seconds from 0 to 3600"
    if "error" in row:
        return None if _text(row["error"]) else "error: expected a string"
    if "output" not in row:
        return "missing output (or error, or outputs)"
    return None if _text(row["output"]) else f"output: expected a string, got {type(row['output']).__name__}"
