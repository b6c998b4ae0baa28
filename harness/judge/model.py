"""The judge model: any ModelSpec the harness can run, called through the response cache.

There is no default judge: a judge metric names its model (``judge: local``), and the spec and
fingerprint are recorded in every run and calibration that uses it.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Any

from harness.core.hashing import canonical_json
from harness.core.types import Request, Response, RunContext
from harness.providers.base import ModelSpec, Provider, build_provider


class JudgeModel:
    def __init__(self, spec_text: str):
        self.spec_text = spec_text
        self.spec = ModelSpec.parse(spec_text)

    @cached_property
    def provider(self) -> Provider:
        return build_provider(self.spec)

    def fingerprint(self) -> dict[str, Any]:
        return self.provider.fingerprint()

    def fingerprint_sha256(self) -> str:
        return hashlib.sha256(canonical_json(self.fingerprint()).encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        """What a run or a calibration records about its judge."""
        return {"model": self.spec_text, "display": self.spec.display(), "spec": self.spec.model_dump(mode="json"),
                "fingerprint": self.fingerprint(), "fingerprint_sha256": self.fingerprint_sha256()}

    def run(self, requests: list[Request], context: RunContext, desc: str = "judge") -> list[Response]:
        """Responses in request order; cached ones are read back, new ones stored as they finish."""
        from harness.cache import ResponseCache
        from harness.runner import generate

        if not requests:
            return []
        path = Path(context.cache_path) if context.cache_path else Path(":memory:")
        cache = ResponseCache(path)
        try:
            responses, _ = generate(self.provider, requests, cache, progress=bool(context.progress), desc=desc)
        finally:
            cache.close()
        return responses
