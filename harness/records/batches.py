"""batches.json of a run that generates through OpenAI's Batch API: every batch it created, the
requests (custom ids) in each, and whether their results were collected. Written the moment a
batch is created, so a killed driver reattaches instead of paying twice (harness.providers.openai_batch)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field, ValidationError

from harness.core.errors import HarnessError
from harness.records.base import FORMAT_VERSION, Record, VersionedRecord, describe, parse_json, read_text


class BatchEntry(Record):
    id: str
    input_file_id: str
    custom_ids: list[str]
    # custom_id -> sha256 of its request line: a live batch answers only the request it was sent
    # (absent in files written before it; such batches are not reattached)
    request_sha256: dict[str, str] | None = None
    status: str  # the service's last status seen: validating, in_progress, ..., completed, failed, expired, cancelled
    collected: bool = False  # results read back (or the batch failed): not waited on again


class BatchesRecord(VersionedRecord):
    """Files since the first release carry format_version 1; a file without one is not ours."""

    format_version: int = Field(ge=1)
    batches: list[BatchEntry] = Field(default_factory=list)

    def to_text(self) -> str:
        """The file's text (indent 1, as every release has written it)."""
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=1)


def batches_record(batches: list[BatchEntry]) -> BatchesRecord:
    """The record to write: this harness's format version."""
    return BatchesRecord(format_version=FORMAT_VERSION, batches=batches)


def read_batches(path: Path) -> BatchesRecord:
    """The batches of ``path``; none when it does not exist. A file the harness did not write is
    refused, naming it and the first bad field."""
    if not os.path.lexists(path):
        return batches_record([])
    hint = "move it away to start new batches (live ones can be cancelled from the dashboard)"
    try:
        data = parse_json(read_text(path, hint), path)
        return BatchesRecord.model_validate(data)
    except (HarnessError, ValidationError) as e:
        why = describe(e, str(path)).partition(": ")[2] if isinstance(e, ValidationError) else \
            str(e).partition(": ")[2]
        raise HarnessError(f"{path}: not a batch state file the harness wrote ({why}); {hint}") from None
