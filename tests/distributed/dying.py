"""A scripted provider that can be told to die: for the Ray executor's failure tests.

``dying:OUTPUTS?die_on=ID&marker=FILE&log=FILE``: every request's example id is appended to ``log``
(so a test counts what was asked, across actor processes); on the request for ``die_on`` the worker
process ends itself (``os._exit``, as an out-of-memory kill would) -- once, when ``marker`` is given
(the marker file records that it died), every time when not. Registered on import; an actor imports
this module when it unpickles the spec's params, so the provider exists there too.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core.types import Request, Response
from harness.providers.base import provider
from harness.providers.scripted import ScriptedParams, ScriptedProvider


class DyingParams(ScriptedParams):
    die_on: str = ""
    marker: str = ""
    log: str = ""


@provider("dying")
class DyingProvider(ScriptedProvider):
    Params = DyingParams
    params: DyingParams

    async def complete(self, request: Request) -> Response:
        if self.params.log:
            with open(self.params.log, "a", encoding="utf-8") as f:
                f.write(f"{request.example_id}\n")
        if request.example_id == self.params.die_on:
            marker = Path(self.params.marker) if self.params.marker else None
            if marker is None or not marker.exists():
                if marker is not None:
                    marker.write_text(str(os.getpid()))
                os._exit(1)
        return await super().complete(request)


def asked(log: Path) -> list[str]:
    return log.read_text(encoding="utf-8").split() if log.exists() else []


class RayDataParams(ScriptedParams):
    log: str = ""


@provider("raydata")
class RayDataProvider(ScriptedProvider):
    """A scripted provider with its own Ray Data path, as the vllm provider has (``ray_data_generate``):
    each call's size and replica count appended to ``log``; answers are the scripted outputs."""

    Params = RayDataParams
    params: RayDataParams

    def ray_data_generate(self, requests, replicas: int, batch_size: int):
        import asyncio

        with open(self.params.log, "a", encoding="utf-8") as f:
            f.write(f"{len(requests)} {replicas} {batch_size}\n")
        return [asyncio.run(self.complete(r)) for r in requests]
