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
            for s in cls().scores() if not cls.Params.model_fields or all(
                    not f.is_required() for f in cls.Params.model_fields.values()) else []:
                print(f"    {s.name}  ({s.level}, {s.direction} is better, range {s.range})")
    else:
        from harness.providers.base import PROVIDERS

        for name, cls in PROVIDERS.items():
            doc = (cls.__doc__ or "").strip().splitlines()
            print(f"{name}: {doc[0] if doc else ''}")
    return 0
