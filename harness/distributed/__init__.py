"""Evaluation beyond one process: the executor a model's ``executor:`` names, and the Ray actor pool.

``executor: inprocess`` (or none) is today's engine: this process generates. ``executor: ray``
(``--executor ray [--ray-address ADDR]``) sends the engine's uncached requests to a pool of Ray
actors (:mod:`harness.distributed.pool`), each holding the provider once
(:mod:`harness.distributed.worker`); the engine on the driver caches each batch as it comes back and
keeps the breaker and the cost cap. Scoring, records and gates do not know which executor ran:
a run directory is the same either way, the recorded model spec's ``executor`` aside.

Ray is imported only here, only when a model asks for it; without it the user gets one line naming
``pip install 'finetune-harness[ray]'``. The vLLM path (Ray Data LLM behind ``vllm:``) is the vllm
provider's own: any provider class works here, since the actor builds it from the shipped ModelSpec.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.core.errors import HarnessError
from harness.core.executor import ExecutorSpec

if TYPE_CHECKING:
    from harness.engine.engine import Executor
    from harness.providers.base import ModelSpec


def executor_for(spec: ExecutorSpec) -> Executor:
    """The engine's executor for ``spec`` (an ``ExecutorFactory``: the run pipeline passes this)."""
    if spec.kind == "ray":
        from harness.core.extras import require

        require("ray", "executor: ray (--executor ray)")
        from harness.distributed.pool import pool

        return pool(spec)
    raise HarnessError(f"executor {spec.kind}: not a remote executor (inprocess runs in the engine itself)")


def with_executor(model: ModelSpec, executor: ExecutorSpec | None) -> ModelSpec:
    """``model`` with the command line's executor (``--executor``) over its own ``executor:``; None: as it is."""
    if executor is None:
        return model
    return model.model_copy(update={"executor": None if executor == ExecutorSpec() else executor})


def remote_loads() -> dict[str, int]:
    """Models loaded by this process's actors, all pools together: ``{"bases": n, "adapters": m}``
    (the actors' :data:`harness.local.models.load_stats`; empty when Ray was never used)."""
    import sys

    pool = sys.modules.get("harness.distributed.pool")
    return dict(pool.REMOTE_LOADS) if pool is not None else {}


def shutdown() -> None:
    """Kill the actors of every pool this process started (no-op when Ray was never used)."""
    import sys

    if "harness.distributed.pool" in sys.modules:
        sys.modules["harness.distributed.pool"].shutdown()
