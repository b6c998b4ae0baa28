"""harness schema: print (or write) the suite JSON Schema generated from the pydantic models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def suite_json_schema() -> dict[str, Any]:
    """The Suite model's schema, with `metrics` items narrowed to each registered metric's params."""
    from harness.metrics.base import METRICS
    from harness.suite.schema import Suite

    schema = Suite.model_json_schema()
    variants = []
    for name, cls in METRICS.items():
        params = cls.Params.model_json_schema()
        defs = params.pop("$defs", {})
        schema.setdefault("$defs", {}).update(defs)
        props = {"name": {"const": name, "description": (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else name}}
        props.update(params.get("properties", {}))
        variants.append({"type": "object", "title": name, "properties": props, "required": ["name", *params.get("required", [])],
                         "additionalProperties": False})
    # a bare name (`metrics: [exact_match]`) is `{name: exact_match}`
    variants.append({"type": "string", "enum": [name for name, _ in METRICS.items()], "title": "a metric's name (its default parameters)"})
    schema["properties"]["metrics"]["items"] = {"oneOf": variants}
    schema["$defs"].pop("MetricEntry", None)
    # A log-likelihood suite may leave `prompt` out (its scoring context is the prompt: Suite._prompt_from_scoring).
    schema["required"] = [k for k in schema.get("required", []) if k != "prompt"]
    schema["anyOf"] = [{"required": ["prompt"]}, {"required": ["scoring"]}]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "harness suite"
    return schema


SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "suite.schema.json"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="print the suite JSON Schema (for editors)")
    p.add_argument("--write", action="store_true", help=f"write it to {SCHEMA_PATH.relative_to(SCHEMA_PATH.parents[2])}")
    p.add_argument("--path", action="store_true", help="print the path of the installed package's schema file (for "
                                                       "a `# yaml-language-server: $schema=PATH` line)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.path:
        print(SCHEMA_PATH)
        return 0
    text = json.dumps(suite_json_schema(), indent=2) + "\n"
    if args.write:
        SCHEMA_PATH.parent.mkdir(exist_ok=True)
        SCHEMA_PATH.write_text(text)
        print(f"wrote {SCHEMA_PATH}")
    else:
        print(text, end="")
    return 0
