"""OpenAI's Batch API as a way to generate: half the price, up to 24 hours.

    requests -> JSONL (one custom_id each; a file holds at most 50,000 lines and 200 MB, split beyond)
             -> files.create(purpose="batch") -> batches.create -> poll with backoff
             -> output and error files -> one Response per custom_id

The ids of the batches a run created are written to ``batches.json`` (atomically) the moment each
is created, so a driver killed while it waits reattaches on the rerun instead of paying twice: a
request already in a live batch is not sent again. A live batch is matched on the request (the
sha256 of its JSONL line, kept per custom_id in ``batches.json``), not on the id alone: a suite
whose prompt or settings changed since the kill sends its new requests, and the old batch's
answers are not taken for them. A line that failed inside the batch, or was
never run because the batch expired or was cancelled, comes back as a Response with ``error`` set:
the caller does not cache it, so a rerun sends it again. So does a line of the result files that is
not a batch result, or a custom_id on two lines (:class:`ResultFiles`): the batch's other answers are
kept, and the batch is collected, never reattached to fail the same way. A batch the service refused (its input
broke a rule) is a HarnessError naming the lines' custom ids.

Everything goes through the official SDK (``client.files``, ``client.batches``), so the contract
is the one the SDK's types describe; tests run it against tests.fakes.fake_batch_api on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.io import atomic_write_text
from harness.core.types import Response
from harness.records.batches import BatchEntry, batches_record, read_batches

MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024
TERMINAL = ("completed", "failed", "expired", "cancelled")


@dataclass(frozen=True)
class BatchPolicy:
    """How batches are cut and polled. The limits are the service's; tests make them small."""

    endpoint: str = "/v1/chat/completions"
    max_lines: int = MAX_LINES
    max_bytes: int = MAX_BYTES
    poll_first_s: float = 5.0
    poll_max_s: float = 60.0
    poll_factor: float = 1.5


@dataclass
class BatchState:
    """``batches.json`` (harness.records.batches): every batch this run created and whether its results were collected."""

    path: Path
    batches: list[BatchEntry] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> BatchState:
        return cls(path, read_batches(path).batches)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, batches_record(self.batches).to_text())

    def live(self) -> list[BatchEntry]:
        return [b for b in self.batches if not b.collected]


def jsonl_line(custom_id: str, body: dict[str, Any], endpoint: str) -> bytes:
    return (json.dumps({"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body},
                       ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def request_sha256(custom_id: str, body: dict[str, Any], endpoint: str) -> str:
    """What batches.json keeps per custom_id to match a live batch on the request itself."""
    return hashlib.sha256(jsonl_line(custom_id, body, endpoint)).hexdigest()


def chunk(lines: Sequence[bytes], max_lines: int, max_bytes: int) -> list[list[int]]:
    """Indices of ``lines`` cut into files of at most ``max_lines`` lines and ``max_bytes`` bytes."""
    out: list[list[int]] = []
    cur: list[int] = []
    size = 0
    for i, line in enumerate(lines):
        if len(line) > max_bytes:
            raise HarnessError(f"one batch request is {len(line)} bytes, over the {max_bytes}-byte file limit")
        if cur and (len(cur) >= max_lines or size + len(line) > max_bytes):
            out.append(cur)
            cur, size = [], 0
        cur.append(i)
        size += len(line)
    if cur:
        out.append(cur)
    return out


_CUSTOM_ID = re.compile(r'"custom_id"\s*:\s*"((?:[^"\\]|\\.)*)"')


class ResultFiles:
    """custom_id -> Response from a batch's output and error files, one line at a time.

    A file another service wrote is read line by line and each line stands alone: a line that is not
    a batch result (truncated, not JSON, fields of the wrong type) is its example's failure when its
    custom_id can still be read, or named in the error of every request left without a line; a
    custom_id on two lines is that example's failure naming both lines (neither answer is trusted).
    Nothing here raises: a paid batch's good lines are always kept."""

    def __init__(self, batch_id: str, parse: Callable[[dict[str, Any]], Response]):
        self.batch_id, self.parse = batch_id, parse
        self.responses: dict[str, Response] = {}
        self._where: dict[str, tuple[int, str]] = {}
        self.unreadable: list[str] = []

    def add(self, text: str, kind: str = "output") -> None:
        for n, raw in enumerate(text.splitlines(), 1):
            if raw.strip():
                self._line(raw, n, kind)

    def missing(self) -> Response:
        """The Response of a request no line answered."""
        why = ""
        if self.unreadable:
            more = f" and {len(self.unreadable) - 3} more" if len(self.unreadable) > 3 else ""
            why = f" (batch {self.batch_id}: {', '.join(self.unreadable[:3])}{more} not a batch result)"
        return Response(text=None, error=f"batch: no result line for this request{why}")

    def _fail(self, msg: str) -> Response:
        return Response(text=None, error=f"batch {self.batch_id}: {msg}")

    def _line(self, raw: str, n: int, kind: str) -> None:
        at = f"line {n} of its {kind} file"
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        cid = line.get("custom_id") if isinstance(line, dict) else None
        if not isinstance(cid, str):
            found = _CUSTOM_ID.search(raw)
            if found is None:
                self.unreadable.append(at)
                return
            try:
                cid = json.loads(f'"{found.group(1)}"')
            except ValueError:
                self.unreadable.append(at)
                return
            resp = self._fail(f"{at} is not a batch result (truncated or not JSON)")
        else:
            resp = self._response(line, at)
        if cid in self._where:
            first_n, first_kind = self._where[cid]
            both = (f"lines {first_n} and {n} of its {kind} file" if first_kind == kind
                    else f"line {first_n} of its {first_kind} file and {at}")
            self.responses[cid] = self._fail(f"custom_id {cid!r} appears twice ({both}); neither answer is trusted")
            return
        self._where[cid] = (n, kind)
        self.responses[cid] = resp

    def _response(self, line: dict[str, Any], at: str) -> Response:
        resp, err = line.get("response"), line.get("error")
        if err:
            if not isinstance(err, dict):
                return self._fail(f"{at}: error is {type(err).__name__}, not an object: {str(err)[:200]}")
            return self._fail(f"{err.get('code')}: {err.get('message')}")
        if resp is not None and not isinstance(resp, dict):
            return self._fail(f"{at}: response is {type(resp).__name__}, not an object")
        resp = resp or {}
        body = resp.get("body") or {}
        if resp.get("status_code") == 200:
            if not isinstance(body, dict):
                return self._fail(f"{at}: response.body is {type(body).__name__}, not an object")
            try:
                return self.parse(body)
            except Exception as e:  # noqa: BLE001 - a malformed body is that example's failure, not the run's
                return self._fail(f"malformed reply: {type(e).__name__}: {e}")
        error = body.get("error") if isinstance(body, dict) else None
        msg = error.get("message") if isinstance(error, dict) else None
        return self._fail(f"HTTP {resp.get('status_code')}: {str(msg or body)[:500]}")


def to_responses(text: str, batch_id: str, parse: Callable[[dict[str, Any]], Response]) -> dict[str, Response]:
    """custom_id -> Response from one output or error file's JSONL (see :class:`ResultFiles`)."""
    files = ResultFiles(batch_id, parse)
    files.add(text)
    return files.responses


class BatchRunner:
    """Send requests through the Batch API and collect what comes back, surviving a killed driver."""

    def __init__(self, client: Any, state_path: Path, policy: BatchPolicy | None = None,
                 parse: Callable[[dict[str, Any]], Response] | None = None, log: Callable[[str], None] = lambda s: None,
                 metadata: dict[str, str] | None = None):
        from harness.providers.openai import to_response

        self.client = client
        self.state = BatchState.load(state_path)
        self.policy = policy or BatchPolicy()
        self.parse = parse or to_response
        self.log = log
        self.metadata = metadata or {}

    async def run(self, items: Sequence[tuple[str, dict[str, Any]]],
                  on_result: Callable[[str, Response], None] | None = None) -> dict[str, Response]:
        """Responses for ``(custom_id, body)`` items: reattaching to live batches, creating the rest."""
        ids = [cid for cid, _ in items]
        if len(set(ids)) != len(ids):
            raise HarnessError("batch requests need distinct custom ids (one per example and repeat)")
        wanted = {cid: request_sha256(cid, body, self.policy.endpoint) for cid, body in items}
        # a live batch answers a request only if it holds the same request, not just the same id: a
        # suite whose prompt changed since the driver was killed sends its new requests anew
        waiting: dict[str, BatchEntry] = {}
        for b in self.state.live():
            sent = b.request_sha256 or {}
            for cid in b.custom_ids:
                if cid in wanted and sent.get(cid) == wanted[cid]:
                    waiting[cid] = b
        reattached = [b for b in self.state.live() if any(w is b for w in waiting.values())]
        if reattached:
            self.log(f"batch: reattaching to {len(reattached)} batch(es) from {self.state.path}")
        todo = [(cid, body) for cid, body in items if cid not in waiting]
        created = await self._create(todo) if todo else []
        results: dict[str, Response] = {}
        batches = reattached + created
        for entry, files in zip(batches, await asyncio.gather(*(self._wait(b) for b in batches)), strict=True):
            for cid in entry.custom_ids:
                if cid not in wanted or waiting.get(cid, entry) is not entry:  # reattached for another request
                    continue
                # a line the service dropped (or wrote unreadably) is that example's failure
                resp = files.responses.get(cid) or files.missing()
                results[cid] = resp
                if on_result is not None:
                    on_result(cid, resp)
        for cid in ids:
            results.setdefault(cid, Response(text=None, error="batch: no result line for this request"))
        return results

    async def _create(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[BatchEntry]:
        p = self.policy
        lines = [jsonl_line(cid, body, p.endpoint) for cid, body in items]
        out = []
        for k, part in enumerate(chunk(lines, p.max_lines, p.max_bytes), 1):
            data = b"".join(lines[i] for i in part)
            f = await self.client.files.create(file=(f"harness-batch-{k}.jsonl", data), purpose="batch")
            meta = {**self.metadata, "harness_part": str(k)}
            b = await self.client.batches.create(input_file_id=f.id, endpoint=p.endpoint, completion_window="24h",
                                                 metadata=meta)
            entry = BatchEntry(id=b.id, input_file_id=f.id, custom_ids=[items[i][0] for i in part],
                               request_sha256={items[i][0]: hashlib.sha256(lines[i]).hexdigest() for i in part},
                               status=b.status)
            self.state.batches.append(entry)
            self.state.save()  # recorded before we wait: a kill from here on reattaches
            self.log(f"batch: created {b.id} with {len(part)} requests ({len(data)} bytes)")
            out.append(entry)
        return out

    async def _wait(self, entry: BatchEntry) -> ResultFiles:
        p = self.policy
        wait = p.poll_first_s
        while True:
            b = await self.client.batches.retrieve(entry.id)
            if b.status != entry.status:
                counts = b.request_counts
                done = f" ({counts.completed}/{counts.total} done)" if counts and counts.total else ""
                self.log(f"batch: {b.id} {b.status}{done}")
                entry.status = b.status
                self.state.save()
            if b.status in TERMINAL:
                break
            await asyncio.sleep(wait)
            wait = min(p.poll_max_s, wait * p.poll_factor)
        if b.status == "failed":
            entry.collected = True
            self.state.save()
            raise HarnessError(_refusal(b, entry))
        results = ResultFiles(b.id, self.parse)
        for file_id, kind in ((b.output_file_id, "output"), (b.error_file_id, "error")):
            if file_id:
                content = await self.client.files.content(file_id)
                results.add(content.text, kind)
        entry.collected = True
        self.state.save()
        return results


def _refusal(b: Any, entry: BatchEntry) -> str:
    errors = (b.errors.data if b.errors and b.errors.data else None) or []
    lines = []
    for e in errors[:10]:
        where = ""
        if e.line and 0 < e.line <= len(entry.custom_ids):
            where = f" (line {e.line}: {entry.custom_ids[e.line - 1]})"
        lines.append(f"  {e.code}: {e.message}{where}")
    more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
    return f"batch {b.id} was refused by the service:\n" + "\n".join(lines or ["  (no reason given)"]) + more
