"""Options shared by commands that run a model."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from harness.providers.base import ModelSpec


def add_model_options(p: argparse.ArgumentParser, prefix: str = "", required: bool = True) -> None:
    flag = f"--{prefix}model" if prefix else "--model"
    p.add_argument(flag, required=required, metavar="MODEL",
                   help="PROVIDER[:NAME][?key=value&...] or a model YAML file, e.g. local, "
                        "local:smollm2?adapter=out/adapter, openai:gpt-4o-mini, "
                        "'openai:my-model?base_url=http://127.0.0.1:8080/v1&concurrency=64'")
    p.add_argument(f"--{prefix}adapter", metavar="DIR", help="LoRA adapter folder for a local model")
    p.add_argument(f"--{prefix}base-url", metavar="URL", help="OpenAI-compatible endpoint")
    p.add_argument(f"--{prefix}concurrency", type=int, metavar="N", help="requests in flight (API providers)")


def model_from_args(args: argparse.Namespace, prefix: str = "") -> ModelSpec | None:
    key = prefix.replace("-", "_")
    text = getattr(args, f"{key}model")
    if text is None:
        return None
    return ModelSpec.parse(text, adapter=getattr(args, f"{key}adapter"), base_url=getattr(args, f"{key}base_url"),
                           concurrency=getattr(args, f"{key}concurrency"))


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")),
                   help="folder for run directories and the response cache (default: reports)")
    p.add_argument("--cache", type=Path, help="SQLite response cache (default: REPORTS/cache.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
