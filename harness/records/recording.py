"""A recording on disk: what a model answered to each input, and where the answers came from.

    RECORDING/
        recording.json   the header: format version, model (as asked for and as the API reported
                         it), system fingerprints, generation settings, date, harness version, the
                         suite (sha256 of the suite, of its prompt and of the split) or the inputs file
        outputs.jsonl    one line per input: id, input, category, reference, the prompt sent (and its
                         sha256), the output, the reported model and fingerprint, tokens, error
        chat.jsonl       the same as a chat dataset: the prompt plus the recorded answer as the last
                         assistant message, so a suite reads it with ``format: chat``

Both files are written to a temporary name and renamed, so a recording is whole or absent; what a
killed ``harness record`` had finished lives in the response cache and the rerun reads it back.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer

from harness.core.errors import HarnessError
from harness.core.jsonl import read_jsonl
from harness.records.run import SampleInfo

FORMAT_VERSION = 1
HEADER = "recording.json"
OUTPUTS = "outputs.jsonl"
CHAT = "chat.jsonl"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteSource(Strict):
    """The suite a recording was made on; its hashes tell a later run whether it still asks the same."""

    path: str
    name: str
    version: int | str
    sha256: str = Field(..., description="Of the whole validated suite.")
    prompt_sha256: str = Field(..., description="Of the suite's prompt spec (template or from_dataset + system).")
    generation_sha256: str = Field(..., description="Of the suite's generation settings.")
    split: str
    split_path: str
    split_sha256: str = Field(..., description="Of the split file's bytes.")
    category_field: str | None = None


class InputsSource(Strict):
    """An unlabelled inputs file a recording was made on."""

    path: str
    sha256: str
    format: Literal["chat", "jsonl", "csv"]
    field: str | None = Field(None, description="The text column (jsonl/csv); None for chat.")
    system: str | None = Field(None, description="System message sent before each input (jsonl/csv).")
    suite_path: str | None = Field(None, description="A suite whose prompt and settings rendered each input.")
    prompt_sha256: str | None = Field(None, description="That suite's prompt hash.")
    generation_sha256: str | None = Field(None, description="That suite's generation settings hash.")


class RecordingHeader(Strict):
    """recording.json. Read through this model so a renamed field is an error naming the field."""

    format_version: int = FORMAT_VERSION
    kind: Literal["suite", "inputs"]
    created: str = Field(..., description="When the recording was written (ISO 8601, local time with offset).")
    harness_version: str
    code_revision: str = Field("unknown", description="git describe of the code that recorded, or \"unknown\".")
    model: dict[str, Any] = Field(..., description="display, spec (no key) and provider fingerprint.")
    reported_models: dict[str, int] = Field(default_factory=dict, description="Model ids the API reported -> count of outputs.")
    system_fingerprints: dict[str, int] = Field(default_factory=dict, description="system_fingerprint -> count of outputs.")
    generation: dict[str, Any] = Field(..., description="The generation settings every request used.")
    suite: SuiteSource | None = None
    inputs: InputsSource | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="examples, outputs, errors, cached.")
    outputs_sha256: str = Field("", description="Of outputs.jsonl, so an edited recording is noticed.")
    sample: SampleInfo | None = Field(None, description="--sample: how the inputs were drawn; absent otherwise.")

    @model_serializer(mode="wrap")
    def _sample_only_when_set(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        if self.sample is None:  # recordings made without --sample keep their bytes
            data.pop("sample", None)
        return data


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def prompt_sha256(messages: list[dict[str, str]]) -> str:
    """The hash of the chat messages sent for one input (role and content, in order)."""
    return sha256_json([[m["role"], m["content"]] for m in messages])


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_recording(folder: Path, header: RecordingHeader, rows: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    outputs = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    chat = "".join(json.dumps(chat_row(r), ensure_ascii=False) + "\n" for r in rows if r.get("output") is not None)
    header = header.model_copy(update={"outputs_sha256": hashlib.sha256(outputs.encode()).hexdigest()})
    _write_atomic(folder / OUTPUTS, outputs)
    _write_atomic(folder / CHAT, chat)
    _write_atomic(folder / HEADER, header.model_dump_json(indent=2) + "\n")  # last: present means complete
    return folder


def chat_row(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row["id"]}
    if row.get("category") is not None:
        out["category"] = row["category"]
    return out | {"messages": list(row["messages"]) + [{"role": "assistant", "content": row["output"]}]}


class Recording:
    """A recording read back: the header and its rows by id."""

    def __init__(self, folder: Path, header: RecordingHeader, rows: list[dict[str, Any]]):
        self.folder = folder
        self.header = header
        self.rows = rows
        self.by_id = {r["id"]: r for r in rows}

    def output(self, example_id: str) -> str | None:
        row = self.by_id.get(example_id)
        return None if row is None else row.get("output")


def load_recording(path: str | Path) -> Recording:
    """Read a recording folder (or its recording.json); errors name the file and what is wrong."""
    folder = Path(path)
    if folder.name == HEADER:
        folder = folder.parent
    head = folder / HEADER
    if not head.is_file():
        raise HarnessError(f"{folder}: not a recording (no {HEADER}); make one with `harness record`")
    try:
        header = RecordingHeader.model_validate_json(_utf8(head))
    except ValidationError as e:
        err = e.errors()[0]
        raise HarnessError(f"{head}: {'.'.join(map(str, err['loc'])) or 'header'}: {err['msg']}") from None
    if header.format_version != FORMAT_VERSION:
        raise HarnessError(f"{head}: format_version {header.format_version}; this harness reads {FORMAT_VERSION}")
    text = _utf8(folder / OUTPUTS) if (folder / OUTPUTS).is_file() else None
    if text is None:
        raise HarnessError(f"{folder / OUTPUTS}: missing; the recording is incomplete, rerun `harness record`")
    if not header.outputs_sha256.strip():  # every format-1 recording has one: blanking it must not turn the check off
        raise HarnessError(f"{head}: outputs_sha256: missing or blank; a recording of format {FORMAT_VERSION} always has "
                           f"the sha256 of {OUTPUTS}, so it was edited by hand: restore it or record again")
    if hashlib.sha256(text.encode()).hexdigest() != header.outputs_sha256:
        raise HarnessError(f"{folder / OUTPUTS}: changed since it was recorded (sha256 differs from {HEADER})")
    rows = []
    for n, row in read_jsonl(folder / OUTPUTS, data=text):
        problem = row_problem(row)
        if problem:
            raise HarnessError(f"{folder / OUTPUTS}:{n}: {problem} (edited by hand? rerun `harness record`)")
        rows.append(row)
    return Recording(folder, header, rows)


def _utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise HarnessError(f"{path}: not UTF-8 text (byte {e.start}): edited by hand? rerun `harness record`") from None


def row_problem(row: Any) -> str | None:
    """What is wrong with one outputs.jsonl row, or None: the fields every reader of a recording uses."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    if not isinstance(row.get("id"), str) or not row["id"]:
        return "id: expected a non-empty string"
    messages = row.get("messages")
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in messages):
        return "messages: expected a list of {role, content} strings"
    for key in ("output", "error", "prompt_sha256"):
        if row.get(key) is not None and not isinstance(row[key], str):
            return f"{key}: expected a string or null, got {type(row[key]).__name__}"
    return None


def suite_hashes(loaded: Any) -> dict[str, str]:
    """What a later run compares to tell whether the suite still asks what was recorded."""
    s = loaded.suite
    return {"sha256": loaded.sha256, "prompt_sha256": sha256_json(s.prompt.model_dump(mode="json")),
            "generation_sha256": sha256_json(s.generation.model_dump(mode="json"))}
