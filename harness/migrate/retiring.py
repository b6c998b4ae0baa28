"""What is retiring: the account's models with their ``shutdown_date``, fine-tunes with their base,
fine-tuning jobs' state; and the one-line warning `harness run` and `harness record` print.

``GET /v1/models`` carries an optional ``shutdown_date`` (YYYY-MM-DD) for models with an announced
shutdown. A fine-tune (``ft:BASE:ORG:SUFFIX:ID``) shuts down with its base, so its date is its own
or, when the server gives none, its base's. Everything goes through the openai SDK, as a user's
own scripts would; the key is read from the environment and never printed.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from harness.core.trust import TrustPolicy
from harness.providers.base import ModelSpec

WARN_DAYS = 90
WARN_TIMEOUT_S = 3.0  # the warning must never hold up a run: one short GET, no retries


@dataclass
class ModelInfo:
    id: str
    owned_by: str | None
    shutdown_date: str | None
    base: str | None = None  # for a fine-tune: the model it was tuned from

    def effective_shutdown(self, by_id: dict[str, ModelInfo]) -> str | None:
        if self.shutdown_date:
            return self.shutdown_date
        base = by_id.get(self.base or "")
        return base.shutdown_date if base else None


@dataclass
class Listing:
    base_url: str
    models: list[ModelInfo]
    jobs: list[dict[str, Any]] = field(default_factory=list)
    jobs_note: str | None = None  # why there are no jobs (the server has no fine-tuning endpoint, ...)

    def by_id(self) -> dict[str, ModelInfo]:
        return {m.id: m for m in self.models}


def fine_tune_base(model_id: str) -> str | None:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` -> ``gpt-4o-mini-2024-07-18``; None for other ids."""
    parts = model_id.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] == "ft" and parts[1] else None


def _endpoint(base_url: str | None, api_key_env: str, who: str, trust: TrustPolicy | None = None) -> tuple[str, str]:
    """The API's URL and the key it may receive (harness.providers.keys: a key goes only to the
    OpenAI API or a host ``trust`` allows, None: :meth:`TrustPolicy.from_env`; others get the placeholder)."""
    from harness.providers import keys
    from harness.providers.openai import OPENAI_URL

    url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_URL).rstrip("/")
    return url, keys.api_key(url, api_key_env, official=url == OPENAI_URL, who=who, trust=trust)


def _client(base_url: str | None, api_key_env: str, timeout: float, trust: TrustPolicy | None = None) -> Any:
    from openai import OpenAI

    url, key = _endpoint(base_url, api_key_env, "models", trust)
    return OpenAI(api_key=key, base_url=url, timeout=timeout, max_retries=0)


def _models_quick(base_url: str | None, api_key_env: str, timeout: float,
                  trust: TrustPolicy | None = None) -> list[ModelInfo]:
    """GET /models with the standard library: the run's warning must not cost it the SDK's import
    and a second client (about 0.5 s of CPU), and it never retries."""
    import json

    url, key = _endpoint(base_url, api_key_env, "openai provider", trust)
    req = urllib.request.Request(f"{url}/models", headers={"Authorization": f"Bearer {key}"})
    # Redirects are not followed: urllib would resend the key to wherever the Location points
    # (another host or port than the one allowed to receive it); the SDK does not follow them either.
    opener = urllib.request.build_opener(_RefuseRedirects)
    with opener.open(req, timeout=timeout) as reply:  # noqa: S310 - the run's own endpoint
        data = json.loads(reply.read()).get("data") or []
    return [ModelInfo(m["id"], m.get("owned_by"), m.get("shutdown_date"), fine_tune_base(m["id"]))
            for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is an error (HTTPError), never a second request carrying the Authorization header."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _models(client: Any) -> list[ModelInfo]:
    out = []
    for m in client.models.list():
        out.append(ModelInfo(m.id, getattr(m, "owned_by", None), getattr(m, "shutdown_date", None), fine_tune_base(m.id)))
    return out


def list_account(base_url: str | None = None, api_key_env: str = "OPENAI_API_KEY", timeout: float = 30.0,
                 trust: TrustPolicy | None = None) -> Listing:
    """Models (with shutdown dates and fine-tunes' bases) and, where the server has them, fine-tuning jobs;
    the key goes only where ``trust`` allows (None: :meth:`TrustPolicy.from_env`)."""
    import openai

    client = _client(base_url, api_key_env, timeout, trust)
    try:
        listing = Listing(str(client.base_url).rstrip("/"), _models(client))
        try:
            listing.jobs = [{"id": j.id, "model": j.model, "fine_tuned_model": j.fine_tuned_model, "status": j.status,
                             "created_at": j.created_at} for j in client.fine_tuning.jobs.list(limit=100)]
        except openai.NotFoundError:
            listing.jobs_note = "this server has no fine-tuning jobs endpoint"
        except openai.PermissionDeniedError as e:
            listing.jobs_note = f"fine-tuning jobs not readable with this key (HTTP {e.status_code})"
        return listing
    finally:
        client.close()


def days_left(shutdown_date: str, today: dt.date | None = None) -> int | None:
    try:
        return (dt.date.fromisoformat(shutdown_date) - (today or dt.date.today())).days
    except ValueError:
        return None


def shutdown_warning(model_id: str, models: list[ModelInfo], today: dt.date | None = None,
                     within_days: int = WARN_DAYS) -> str | None:
    """One line when ``model_id`` (or the base it was tuned from) shuts down within ``within_days``."""
    by_id = {m.id: m for m in models}
    info = by_id.get(model_id) or ModelInfo(model_id, None, None, fine_tune_base(model_id))
    date = info.effective_shutdown(by_id)
    if not date:
        return None
    left = days_left(date, today)
    if left is None or left > within_days:
        return None
    via = "" if info.shutdown_date else f" (its base {info.base} does)"
    when = f"in {left} days" if left > 0 else ("today" if left == 0 else f"{-left} days ago")
    return (f"warning: model {model_id} shuts down on {date}{via}, {when}; record its behaviour now "
            "(`harness record`) and gate a replacement against it")


def warn_if_retiring(spec: ModelSpec, stream: Any = None, trust: TrustPolicy | None = None) -> str | None:
    """Print the shutdown warning for an openai model; silent when the list cannot be fetched. The key
    goes only where ``trust`` (the run's; None: :meth:`TrustPolicy.from_env`) allows."""
    if spec.provider != "openai" or not spec.name:
        return None
    try:
        models = _models_quick(spec.params.base_url, spec.params.api_key_env, WARN_TIMEOUT_S, trust)
    except Exception:  # noqa: BLE001 - a warning's fetch failing must never fail or slow the run
        return None
    line = shutdown_warning(spec.name, models)
    if line:
        print(line, file=stream or sys.stderr)
    return line


def format_listing(listing: Listing, today: dt.date | None = None) -> str:
    by_id = listing.by_id()
    rows = [("model", "owned by", "shutdown", "days left", "fine-tuned from")]
    for m in sorted(listing.models, key=lambda m: (m.effective_shutdown(by_id) or "9999", m.id)):
        date = m.effective_shutdown(by_id)
        left = days_left(date, today) if date else None
        shown = date + ("" if m.shutdown_date or not date else " (base)") if date else "-"
        rows.append((m.id, m.owned_by or "-", shown, "-" if left is None else str(left), m.base or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    if listing.jobs_note:
        lines.append(f"fine-tuning jobs: {listing.jobs_note}")
    elif not listing.jobs:
        lines.append("fine-tuning jobs: none")
    else:
        lines.append(f"fine-tuning jobs ({len(listing.jobs)}):")
        for j in listing.jobs:
            lines.append(f"  {j['id']}  {j['status']}  base {j['model']}  -> {j['fine_tuned_model'] or '-'}")
    return "\n".join(lines)
