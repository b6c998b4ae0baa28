"""Where a model's requests are generated: in this process (the default) or on a Ray cluster.

An :class:`ExecutorSpec` is the ``executor:`` key of a model spec (``executor: ray`` in a model
file, ``?executor=ray`` in a model string, or ``--executor ray [--ray-address ADDR]`` on run,
record, checkpoints and iterate). It never changes a response, so it is not part of any cache key;
the run pipeline is the same whatever it says (:mod:`harness.distributed` runs the Ray side).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

EXECUTORS = ("inprocess", "ray")


class ExecutorSpec(BaseModel):
    """How the uncached requests of one model are sent out (strict, frozen: part of a hashable ModelSpec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["inprocess", "ray"] = Field("inprocess", description="inprocess (the default) or ray.")
    address: str | None = Field(None, description="Ray cluster address (ray://HOST:10001 or HOST:6379); "
                                                  "none: join the local cluster, or start one.")
    actors: int = Field(2, ge=1, le=1024, description="Ray actors, each holding the provider (a loaded model) once.")
    num_cpus: float = Field(1.0, ge=0, le=1024, description="CPUs reserved per actor.")
    num_gpus: float = Field(0.0, ge=0, le=64, description="GPUs per actor (a fraction shares one GPU).")
    batch_size: int | None = Field(None, ge=1, le=4096, description="Requests per task sent to an actor; default: "
                                                                     "the model's batch_size for an in-process "
                                                                     "model, its concurrency for an API one.")
    max_restarts: int = Field(2, ge=0, le=20, description="Times a batch whose actor died is retried on a "
                                                          "replacement before its requests are recorded as failed.")

    @model_validator(mode="before")
    @classmethod
    def _word(cls, data: Any) -> Any:
        """``executor: ray`` (a word) is ``{kind: ray}``."""
        return {"kind": data} if isinstance(data, str) else data

    @property
    def remote(self) -> bool:
        return self.kind != "inprocess"
