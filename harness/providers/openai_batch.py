"""OpenAI's Batch API as a way to generate: half the price, up to 24 hours.

    requests -> JSONL (one custom_id each; a file holds at most 50,000 lines and 200 MB, split beyond)
             -> files.create(purpose="batch") -> batches.create -> poll with backoff
             -> output and error files -> one Response per custom_id

The ids of the batches a run created are written to ``batches.json`` (atomically) the moment each
is created, so a driver killed while it waits reattaches on the rerun instead of paying twice: a
request already in a live batch is not sent again. A line that failed inside the batch, or was
never run because the batch expired or was cancelled, comes back as a Response with ``error`` set:
the caller does not cache it, so a rerun sends it again. A batch the service refused (its input
broke a rule) is a HarnessError naming the lines' custom ids.

Everything goes through the official SDK (``client.files``, ``client.batches``), so the contract
is the one the SDK's types describe; tests run it against tests.fakes.fake_batch_api on loopback.
"""

from __future__ import annotations

import asyncio
import json
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


def to_responses(text: str, batch_id: str, parse: Callable[[dict[str, Any]], Response]) -> dict[str, Response]:
    """custom_id -> Response from an output or error file's JSONL."""
    out: dict[str, Response] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            cid = line["custom_id"]
        except (ValueError, KeyError, TypeError):
            raise HarnessError(f"batch {batch_id}: line {n} of its result file is not a batch result") from None
        resp, err = line.get("response"), line.get("error")
        if err:
            out[cid] = Response(text=None, error=f"batch {batch_id}: {err.get('code')}: {err.get('message')}")
        elif resp and resp.get("status_code") == 200:
            try:
                out[cid] = parse(resp.get("body") or {})
            except Exception as e:  # noqa: BLE001 - a malformed body is that example's failure, not the run's
                out[cid] = Response(text=None, error=f"batch {batch_id}: malformed reply: {type(e).__name__}: {e}")
        else:
            body = (resp or {}).get("body") or {}
            msg = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
            out[cid] = Response(text=None, error=f"batch {batch_id}: HTTP {(resp or {}).get('status_code')}: {msg or body}")
    return out


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
        wanted = set(ids)
        waiting = {cid for b in self.state.live() for cid in b.custom_ids}
        reattached = [b for b in self.state.live() if wanted & set(b.custom_ids)]
        if reattached:
            self.log(f"batch: reattaching to {len(reattached)} batch(es) from {self.state.path}")
        todo = [(cid, body) for cid, body in items if cid not in waiting]
        created = await self._create(todo) if todo else []
        results: dict[str, Response] = {}
        for batch_results in await asyncio.gather(*(self._wait(b) for b in reattached + created)):
            for cid, resp in batch_results.items():
                if cid in wanted:
                    results[cid] = resp
                    if on_result is not None:
                        on_result(cid, resp)
        for cid in ids:  # a line the service dropped without a word is that example's failure
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
            entry = BatchEntry(id=b.id, input_file_id=f.id, custom_ids=[items[i][0] for i in part], status=b.status)
            self.state.batches.append(entry)
            self.state.save()  # recorded before we wait: a kill from here on reattaches
            self.log(f"batch: created {b.id} with {len(part)} requests ({len(data)} bytes)")
            out.append(entry)
        return out

    async def _wait(self, entry: BatchEntry) -> dict[str, Response]:
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
        results: dict[str, Response] = {}
        for file_id in (b.output_file_id, b.error_file_id):
            if file_id:
                content = await self.client.files.content(file_id)
                results.update(to_responses(content.text, b.id, self.parse))
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
