"""The judge model: any ModelSpec the harness can run, called through the run's engine.

There is no default judge: a judge metric names its model (``judge: local``), and the spec and
fingerprint are recorded in every run and calibration that uses it.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import Any

from harness.core.hashing import canonical_json
from harness.core.redact import redacted
from harness.core.trust import TrustPolicy
from harness.core.types import Request, Response, RunContext
from harness.engine import Engine
from harness.providers.base import ModelSpec, Provider, build_provider


class JudgeModel:
    def __init__(self, spec_text: str | dict[str, Any], trust: TrustPolicy | None = None):
        self.trust = trust  # the run's key hosts (None: the environment's)
        self.spec_text = spec_text  # as the suite or command line gave it: a string or a mapping
        self.spec = ModelSpec.parse(spec_text)

    @cached_property
    def provider(self) -> Provider:
        return build_provider(self.spec, self.trust)

    def fingerprint(self) -> dict[str, Any]:
        return self.provider.fingerprint()

    def fingerprint_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.fingerprint()).encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        """What a run or a calibration records about its judge."""
        return {"model": redacted(self.spec_text), "display": self.spec.display(), "spec": redacted(self.spec.model_dump(mode="json")),
                "fingerprint": self.fingerprint(), "fingerprint_sha256": self.fingerprint_sha256()}

    async def generate(self, requests: list[Request], context: RunContext, desc: str = "judge") -> list[Response]:
        """Responses in request order, through the run's engine (``context.engine``): its cache, its
        limits, its breakers. Without one (a metric scored on its own), through an engine on
        ``context.cache_path`` made for this call."""
        if not requests:
            return []
        if context.engine is not None:
            return (await context.engine.generate(self.provider, requests, desc)).responses
        async with Engine.at(context.cache_path, progress=bool(context.progress)) as engine:
            return (await engine.generate(self.provider, requests, desc)).responses
