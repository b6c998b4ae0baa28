"""JSON-Schema conformance: the output is JSON that satisfies a schema.

The schema is given in the suite (``schema``) or per example (``schema_field``). Validation uses
the built-in subset in :mod:`harness.metrics.jsonschema_lite`; an unsupported keyword is an
error when the suite loads. Output that is not JSON does not conform (scores 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.core.text import parse_json
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric
from harness.metrics.jsonschema_lite import SchemaError, check_schema, validate


class JsonSchemaParams(BaseModel):
    # `schema` is a BaseModel method name, hence the alias; recorded under `schema` too.
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)
    schema_: dict[str, Any] | None = Field(None, alias="schema", description="A JSON Schema (draft 2020-12 subset).")
    schema_field: str | None = Field(None, description="Or: the dataset column holding each example's schema (object or JSON text).")
    allow_fences: bool = Field(True, description="Accept the JSON inside one ```json ... ``` code fence.")

    @field_validator("schema_")
    @classmethod
    def _supported(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            try:
                check_schema(v)
            except SchemaError as e:
                raise ValueError(str(e)) from None
        return v

    @model_validator(mode="after")
    def _one_source(self) -> JsonSchemaParams:
        if (self.schema_ is None) == (self.schema_field is None):
            raise ValueError("give exactly one of `schema` or `schema_field`")
        return self


@metric("json_schema")
class JsonSchema(Metric):
    """1 when the output is JSON conforming to the schema, else 0."""

    Params = JsonSchemaParams

    def scores(self) -> list[ScoreSpec]:
        return [ScoreSpec("json_schema", binary=True, description="output is JSON that conforms to the schema")]

    def _schema(self, item: Item) -> dict[str, Any] | Failure:
        if self.params.schema_ is not None:
            return self.params.schema_
        field = self.params.schema_field
        if field not in item.record:
            return Failure(f"example has no field {field!r}")
        raw = item.record[field]
        try:
            schema = json.loads(raw) if isinstance(raw, str) else raw
            check_schema(schema)
        except (ValueError, SchemaError) as e:
            return Failure(f"example's schema is unusable: {e}")
        return schema

    def violations(self, item: Item) -> list[str] | Failure:
        """Why the output does not conform ([] when it does), or why it cannot be checked."""
        if item.output is None:
            return Failure(f"no output: {item.error}")
        schema = self._schema(item)
        if isinstance(schema, Failure):
            return schema
        try:
            value = parse_json(item.output, self.params.allow_fences)
        except ValueError as e:
            return [f"not JSON: {e}"]
        return validate(value, schema)

    def score(self, item: Item) -> dict[str, ScoreValue]:
        v = self.violations(item)
        return {"json_schema": v if isinstance(v, Failure) else float(not v)}

    def artifacts(self, items: Sequence[Item], per_example: Sequence[dict[str, ScoreValue]]) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for it in items:
            v = self.violations(it)
            if isinstance(v, list) and v:
                key = "not JSON" if v[0].startswith("not JSON") else v[0]
                counts[key] = counts.get(key, 0) + 1
        top = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:10])
        return {"first_violation": top} if top else {}
