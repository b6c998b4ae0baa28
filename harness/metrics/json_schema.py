"""JSON-Schema conformance: the output is JSON that satisfies a schema.

The schema is given in the suite (``schema``) or per example (``schema_field``). Validation uses the
``jsonschema`` library, with the draft the schema's ``$schema`` names (2020-12 when it names none);
a schema the draft's metaschema rejects, or an unknown ``$schema``, is an error when the suite loads.
``format`` is an annotation, as draft 2020-12 has it by default, and a ``$ref`` outside the schema is
never fetched. Output that is not JSON does not conform (scores 0).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.core.text import parse_json
from harness.core.types import Failure, Item, ScoreValue
from harness.metrics.base import Metric, ScoreSpec, metric

MAX_MESSAGE = 200  # a violation quoting a huge output is cut: the reason, not the output, is the point


class SchemaError(ValueError):
    """The schema itself is wrong: where in the schema, and what its draft expects there."""


def _drafts() -> dict[str, Any]:
    from jsonschema import validators as v

    classes = (v.Draft4Validator, v.Draft6Validator, v.Draft7Validator, v.Draft201909Validator, v.Draft202012Validator)
    return {c.META_SCHEMA.get("$id", c.META_SCHEMA.get("id", "")).rstrip("#"): c for c in classes}


def schema_validator(schema: Any) -> Any:
    """A jsonschema validator for ``schema``, checked against its draft's metaschema (SchemaError if not)."""
    from jsonschema import exceptions
    from jsonschema.validators import Draft202012Validator

    if not isinstance(schema, (dict, bool)):
        raise SchemaError(f"a schema is an object or a boolean, got {type(schema).__name__}")
    cls: Any = Draft202012Validator
    if isinstance(schema, dict) and "$schema" in schema:
        drafts = _drafts()
        cls = drafts.get(str(schema["$schema"]).rstrip("#"))
        if cls is None:
            raise SchemaError(f"$schema {schema['$schema']!r} is not a JSON Schema draft jsonschema knows; "
                              f"use one of {', '.join(sorted(drafts))} (or leave it out for 2020-12)")
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as e:
        # "not valid under any of the given schemas" says little; the first alternative says what was expected
        why = "; ".join(c.message for c in e.context[:1]) or e.message
        raise SchemaError(f"{e.json_path}: {_cut(why)} (checked against {cls.__name__.removesuffix('Validator')})") from None
    return cls(schema)


@lru_cache(maxsize=256)
def _validator_of(text: str) -> Any:
    return schema_validator(json.loads(text))


def cached_validator(schema: Any) -> Any:
    """schema_validator, once per distinct schema: checking against the metaschema costs about a millisecond."""
    return _validator_of(json.dumps(schema, sort_keys=True, default=str))  # YAML dates: as the text they were


def check_schema(schema: Any) -> None:
    cached_validator(schema)


def _cut(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + "..."


def validate(instance: Any, schema: Any) -> list[str]:
    """Every violation as "JSON path: message", shallowest first ([] when the instance conforms)."""
    from referencing.exceptions import Unresolvable

    validator = cached_validator(schema)
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.path), list(map(str, e.path))))
    except Unresolvable as e:
        raise SchemaError(f"$ref cannot be resolved (references outside the schema are not fetched): {e}") from None
    return [f"{e.json_path}: {_cut(e.message)}" for e in errors]


class JsonSchemaParams(BaseModel):
    # `schema` is a BaseModel method name, hence the alias; recorded under `schema` too.
    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)
    schema_: dict[str, Any] | None = Field(None, alias="schema", description="A JSON Schema (the draft its $schema names; default 2020-12).")
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
        try:
            return validate(value, schema)
        except SchemaError as e:
            return Failure(f"schema is unusable: {e}")

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
