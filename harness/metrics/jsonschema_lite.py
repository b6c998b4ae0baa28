"""A small JSON Schema validator: the draft 2020-12 keywords that describe data shapes.

The ``jsonschema`` package is not a dependency of the harness, so this implements a clear subset
instead of pulling it in. A schema using any keyword outside the subset is rejected when the suite
loads (never silently ignored): see ``SUPPORTED`` and ``ANNOTATIONS``.
"""

from __future__ import annotations

import math
import re
from typing import Any

SUPPORTED = frozenset({
    "type", "enum", "const",
    "properties", "required", "additionalProperties", "minProperties", "maxProperties",
    "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern",
    "allOf", "anyOf", "oneOf", "not", "$ref",
})
# Keywords that only annotate (draft 2020-12 treats `format` as an annotation by default).
ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default",
                         "examples", "format", "deprecated", "readOnly", "writeOnly"})
TYPES = ("null", "boolean", "object", "array", "number", "integer", "string")


class SchemaError(ValueError):
    """The schema itself is wrong or uses an unsupported keyword."""


def check_schema(schema: Any, path: str = "#") -> None:
    """Raise :class:`SchemaError` naming the first unsupported keyword or malformed value."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise SchemaError(f"{path}: a schema is an object or a boolean, got {type(schema).__name__}")
    for key, val in schema.items():
        where = f"{path}/{key}"
        if key not in SUPPORTED and key not in ANNOTATIONS:
            raise SchemaError(f"{where}: keyword {key!r} is not supported by the built-in validator; "
                              f"supported: {', '.join(sorted(SUPPORTED))}")
        if key == "type":
            names = val if isinstance(val, list) else [val]
            if not names or any(t not in TYPES for t in names):
                raise SchemaError(f"{where}: expected one or more of {', '.join(TYPES)}")
        elif key in ("properties", "$defs", "definitions"):
            if not isinstance(val, dict):
                raise SchemaError(f"{where}: expected an object of schemas")
            for k, sub in val.items():
                check_schema(sub, f"{where}/{k}")
        elif key in ("items", "additionalProperties", "not"):
            check_schema(val, where)
        elif key in ("allOf", "anyOf", "oneOf", "prefixItems"):
            if not isinstance(val, list) or not val:
                raise SchemaError(f"{where}: expected a non-empty list of schemas")
            for i, sub in enumerate(val):
                check_schema(sub, f"{where}/{i}")
        elif key == "required" and not (isinstance(val, list) and all(isinstance(x, str) for x in val)):
            raise SchemaError(f"{where}: expected a list of property names")
        elif key == "enum" and not isinstance(val, list):
            raise SchemaError(f"{where}: expected a list")
        elif key == "pattern":
            try:
                re.compile(val)
            except (re.error, TypeError) as e:
                raise SchemaError(f"{where}: not a valid regular expression: {e}") from None
        elif key == "$ref" and not (isinstance(val, str) and (val == "#" or val.startswith(("#/$defs/", "#/definitions/")))):
            raise SchemaError(f"{where}: only local references are supported (#, #/$defs/NAME)")


def _type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    if isinstance(v, str):
        return "string"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
        return "integer"
    return "number"


def _is_type(v: Any, t: str) -> bool:
    got = _type_of(v)
    return got == t or (t == "number" and got == "integer")


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but true != 1 and "1" != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def validate(instance: Any, schema: Any) -> list[str]:
    """Every violation, each as '<JSON path>: <what is wrong>'. Empty: the instance conforms."""
    errors: list[str] = []
    _validate(instance, schema, "$", schema, errors)
    return errors


def _resolve(ref: str, root: dict[str, Any]) -> Any:
    if ref == "#":
        return root
    _, group, name = ref.split("/", 2)
    try:
        return root[group][name]
    except (KeyError, TypeError):
        raise SchemaError(f"$ref {ref!r}: no such definition") from None


def _validate(v: Any, s: Any, path: str, root: Any, errors: list[str]) -> None:
    if s is True:
        return
    if s is False:
        errors.append(f"{path}: no value is allowed here")
        return
    if "$ref" in s:
        _validate(v, _resolve(s["$ref"], root), path, root, errors)
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(v, t) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {_type_of(v)}")
            return
    if "enum" in s and not any(json_equal(v, e) for e in s["enum"]):
        errors.append(f"{path}: {v!r} is not one of {s['enum']!r}")
    if "const" in s and not json_equal(v, s["const"]):
        errors.append(f"{path}: expected {s['const']!r}")
    if isinstance(v, dict):
        _object(v, s, path, root, errors)
    elif isinstance(v, list):
        _array(v, s, path, root, errors)
    elif isinstance(v, str):
        _string(v, s, path, errors)
    elif isinstance(v, (int, float)) and not isinstance(v, bool):
        _number(v, s, path, errors)
    for sub in s.get("allOf", []):
        _validate(v, sub, path, root, errors)
    if "anyOf" in s and not any(not validate_sub(v, sub, root) for sub in s["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not validate_sub(v, sub, root))
        if n != 1:
            errors.append(f"{path}: matches {n} of oneOf, expected exactly 1")
    if "not" in s and not validate_sub(v, s["not"], root):
        errors.append(f"{path}: must not match the `not` schema")


def validate_sub(v: Any, s: Any, root: Any) -> list[str]:
    errs: list[str] = []
    _validate(v, s, "$", root, errs)
    return errs


def _object(v: dict[str, Any], s: dict[str, Any], path: str, root: Any, errors: list[str]) -> None:
    props = s.get("properties", {})
    for name in s.get("required", []):
        if name not in v:
            errors.append(f"{path}: missing required property {name!r}")
    for k, val in v.items():
        if k in props:
            _validate(val, props[k], f"{path}.{k}", root, errors)
        elif "additionalProperties" in s:
            extra = s["additionalProperties"]
            if extra is False:
                errors.append(f"{path}: unexpected property {k!r}")
            else:
                _validate(val, extra, f"{path}.{k}", root, errors)
    if "minProperties" in s and len(v) < s["minProperties"]:
        errors.append(f"{path}: fewer than {s['minProperties']} properties")
    if "maxProperties" in s and len(v) > s["maxProperties"]:
        errors.append(f"{path}: more than {s['maxProperties']} properties")


def _array(v: list[Any], s: dict[str, Any], path: str, root: Any, errors: list[str]) -> None:
    prefix = s.get("prefixItems", [])
    for i, val in enumerate(v):
        if i < len(prefix):
            _validate(val, prefix[i], f"{path}[{i}]", root, errors)
        elif "items" in s:
            _validate(val, s["items"], f"{path}[{i}]", root, errors)
    if "minItems" in s and len(v) < s["minItems"]:
        errors.append(f"{path}: fewer than {s['minItems']} items")
    if "maxItems" in s and len(v) > s["maxItems"]:
        errors.append(f"{path}: more than {s['maxItems']} items")
    if s.get("uniqueItems") and any(json_equal(v[i], v[j]) for i in range(len(v)) for j in range(i)):
        errors.append(f"{path}: items are not unique")


def _string(v: str, s: dict[str, Any], path: str, errors: list[str]) -> None:
    n = len(v)  # code points, as JSON Schema counts them
    if "minLength" in s and n < s["minLength"]:
        errors.append(f"{path}: shorter than {s['minLength']} characters")
    if "maxLength" in s and n > s["maxLength"]:
        errors.append(f"{path}: longer than {s['maxLength']} characters")
    if "pattern" in s and not re.search(s["pattern"], v):
        errors.append(f"{path}: does not match pattern {s['pattern']!r}")


def _number(v: float, s: dict[str, Any], path: str, errors: list[str]) -> None:
    if "minimum" in s and v < s["minimum"]:
        errors.append(f"{path}: {v} is below the minimum {s['minimum']}")
    if "maximum" in s and v > s["maximum"]:
        errors.append(f"{path}: {v} is above the maximum {s['maximum']}")
    if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
        errors.append(f"{path}: {v} is not above {s['exclusiveMinimum']}")
    if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
        errors.append(f"{path}: {v} is not below {s['exclusiveMaximum']}")
    if "multipleOf" in s:
        q = v / s["multipleOf"]
        if not math.isclose(q, round(q), rel_tol=0, abs_tol=1e-9):
            errors.append(f"{path}: {v} is not a multiple of {s['multipleOf']}")
