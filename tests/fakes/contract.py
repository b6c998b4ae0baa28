"""Request bodies checked against the openai SDK's own request types, so the fakes (and the harness
code tested on them) follow OpenAI's contract rather than our reading of it.

The SDK's ``*_create_params`` are TypedDicts; :func:`check` validates a parsed JSON body against one
with pydantic, strictly (no "3" for 3) and with unknown keys refused, and answers what fails as the
API does: a 400 whose ``param`` is the dotted path of the offending field (``method.dpo.
hyperparameters.beta``). What the types cannot say (ranges, one method's settings only, suffix
length) the fakes' own rules check after this.
"""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from .server import ApiError


@functools.cache
def adapter(params: Any) -> TypeAdapter[Any]:
    return TypeAdapter(params)


def validate(params: Any, body: Any) -> Any:
    """``body`` validated against the SDK TypedDict ``params`` (strict, unknown keys refused), or ValidationError."""
    return _materialise(adapter(params).validate_python(body, strict=True, extra="forbid"), ())


def check(params: Any, body: Any) -> dict[str, Any]:
    """``body`` validated against the SDK TypedDict ``params``, or ApiError 400 naming the field."""
    try:
        return validate(params, body)
    except ValidationError as e:
        raise _api_error(e.errors()[0], body) from None
    except _LazyError as e:
        raise _api_error(e.error, body) from None


def keys(params: Any) -> tuple[str, ...]:
    """The fields a TypedDict declares, in order."""
    return tuple(typing.get_type_hints(params))


def literals(tp: Any) -> tuple[Any, ...]:
    """The values of a Literal type, also inside Union/Optional/Required."""
    if typing.get_origin(tp) is typing.Literal:
        return typing.get_args(tp)
    return tuple(v for arg in typing.get_args(tp) for v in literals(arg))


def field_type(params: Any, name: str) -> Any:
    return typing.get_type_hints(params)[name]


class _LazyError(Exception):
    """A lazily validated ``Iterable[...]`` field failed; ``error`` located from the body's root."""

    def __init__(self, error: ErrorDetails):
        self.error = error


def _materialise(value: Any, at: tuple[int | str, ...]) -> Any:
    """Iterable[...] fields of the SDK's types validate lazily, when iterated: iterate them now."""
    if isinstance(value, dict):
        return {k: _materialise(v, (*at, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_materialise(v, (*at, i)) for i, v in enumerate(value)]
    if type(value).__name__ == "ValidatorIterator":
        try:
            return [_materialise(v, (*at, i)) for i, v in enumerate(value)]
        except ValidationError as e:
            err = e.errors()[0]
            raise _LazyError(err | {"loc": (*at, *err["loc"])}) from None
    return value


def param_path(loc: tuple[int | str, ...], body: Any) -> str:
    """The dotted path of the body's field that ``loc`` points at, without pydantic's union-branch tags
    (``('n_epochs', "literal['auto']")`` -> ``n_epochs``)."""
    out, node = [], body
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            out.append(str(part))
            node = node[part] if part < len(node) else None
        else:
            break
    return ".".join(out)


def _api_error(err: ErrorDetails, body: Any) -> ApiError:
    param = param_path(tuple(err["loc"]), body)
    kind = err["type"]
    if kind == "missing":
        return ApiError(400, f"Missing required parameter: '{param}'.", param=param, code="missing_required_parameter")
    if kind == "extra_forbidden":
        return ApiError(400, f"Unrecognized request argument supplied: '{param}'.", param=param, code="unknown_parameter")
    if not param:
        return ApiError(400, f"Invalid request body: {err['msg']}.", code="invalid_type")
    code = "invalid_value" if kind in ("literal_error", "enum") else "invalid_type"
    return ApiError(400, f"Invalid {'value' if code == 'invalid_value' else 'type'} for '{param}': {err['msg']}.",
                    param=param, code=code)
