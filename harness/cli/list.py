"""harness list metrics|providers: what is registered, with directions and ranges."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list registered metrics or providers")
    p.add_argument("what", choices=["metrics", "providers"])
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.what == "metrics":
        from harness.metrics.base import METRICS

        for name, cls in METRICS.items():
            doc = (cls.__doc__ or "").strip().splitlines()
            print(f"{name}: {doc[0] if doc else ''}")
            try:
                scores = cls().scores()
            except ValueError:  # pydantic's ValidationError: the metric needs parameters (a schema, a judge...)
                print("    (scores depend on its parameters; see `harness schema`)")
                continue
            for s in scores:
                print(f"    {s.name}  ({s.level}, {s.direction} is better, range {s.range}"
                      f"{', pass/fail' if s.binary else ''})")
    else:
        from harness.providers.base import PROVIDERS

        for name, cls in PROVIDERS.items():
            print(f"{name}: {provider_summary(cls).replace('``', '`')}")
    return 0


def provider_summary(cls: type) -> str:
    """The first line of the provider class's docstring, else of its module's (where each provider says what it is)."""
    import sys

    for doc in (cls.__doc__, getattr(sys.modules.get(cls.__module__), "__doc__", None)):
        lines = (doc or "").strip().splitlines()
        if lines and lines[0].strip():
            return lines[0].strip()
    return "(undocumented)"
