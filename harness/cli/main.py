"""The `harness` command. Each subcommand lives in harness/cli/<name>.py.

Exit codes: 0 success; 1 a gate blocks promotion; 2 bad input or usage (every problem is
printed, one line each); 3 a run finished but some examples failed (rerun to retry them);
4 the machine failed: a full disk, a read-only or unwritable folder, a file the OS cannot read, a
service that cannot be reached (never 1, which CI reads as "gate blocked"); 130 interrupted (finished work is cached).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from typing import NoReturn

from harness.core.version import code_revision, version
from harness.core.errors import EnvironmentFailure, HarnessError, InputProblems

# Subcommands are the modules of harness.cli with an ``add_parser``; order of the help text.
ORDER = ("run", "validate", "plan", "compare", "gate", "report", "judge", "data", "train", "iterate", "checkpoints",
         "list", "schema")


def _command_modules() -> list[str]:
    import pkgutil

    import harness.cli as pkg

    found = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in ("common", "main") and not m.name.startswith("_")]
    return sorted(found, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the option and what it takes; --help has the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="harness", description="Evaluate base and fine-tuned language models on declarative suites.")
    parser.add_argument("--version", action="version", version=f"harness {version()} ({code_revision()})")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _command_modules():
        module = importlib.import_module(f"harness.cli.{name}")
        if hasattr(module, "add_parser"):
            module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # The cyclic collector's full passes walk every live object, and a 100,000-example run holds
    # millions, none of them garbage cycles: with the default thresholds (700, 10, 10) collection
    # took 2.7 s of a 15 s cached rerun here, with these 0.3 s. Reference counting still frees
    # everything at once; cycles are still collected, every 200,000 allocations instead of 700.
    gc.set_threshold(200_000, 100, 1000)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_extras(args)
        return int(args.func(args) or 0)
    except InputProblems as e:
        for p in e.problems:
            print(p, file=sys.stderr)
        n = len(e.problems)
        print(f"{n} problem{'s' if n != 1 else ''} found", file=sys.stderr)
        return 2
    except HarnessError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except UnicodeDecodeError as e:  # a reader that did not name its file; the located ones raise HarnessError
        print(f"error: a file is not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8", file=sys.stderr)
        return 2
    except OSError as e:  # the last resort: one line and exit 4, never a traceback and exit 1
        err = EnvironmentFailure.from_os_error(e, "file system error")
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as e:
        if _is_storage_error(e):
            print(f"error: the response cache failed: {e} (a full disk or a read-only folder?)", file=sys.stderr)
            return EnvironmentFailure.exit_code
        raise
    except KeyboardInterrupt:
        print("\ninterrupted: finished responses are cached; rerun the same command to resume", file=sys.stderr)
        return 130


MODEL_FLAGS = ("model", "base", "baseline", "candidate", "judge")  # flags that take a model spec


def check_extras(args: argparse.Namespace) -> None:
    """A missing optional package is said, with its pip command, before the command does any work."""
    from pathlib import Path

    from harness.core.extras import require

    if "mlflow" in (getattr(args, "track", None) or []):
        require("tracking", "--track mlflow")
    if getattr(args, "executor", None) == "ray" or getattr(args, "ray_address", None):
        require("ray", "--executor ray")
    for flag in MODEL_FLAGS:
        value = getattr(args, flag, None)
        if not isinstance(value, str) or Path(value).is_dir():  # a run directory, not a model spec
            continue
        head = value.split("?", 1)[0]
        if head == "local" or head.startswith("local:"):
            require("local", f"--{flag} {value} (a model run in-process)")
        elif head == "vllm" or head.startswith("vllm:"):
            from harness.providers.vllm import require_vllm

            require_vllm(f"--{flag} {value} (vLLM in-process)")
        if _asks_for_ray(value):
            require("ray", f"--{flag} {value} (executor: ray)")


def _asks_for_ray(value: str) -> bool:
    """A model string or model file whose ``executor:`` is ray (an unreadable one: said later, where it is parsed)."""
    if "executor" not in value and not value.endswith((".yaml", ".yml")):
        return False
    from harness.providers.base import ModelSpec

    try:
        spec = ModelSpec.parse(value)
    except Exception:  # noqa: BLE001 - the command's own parse says what is wrong, with its context
        return False
    return spec.executor is not None and spec.executor.kind == "ray"


def _is_storage_error(e: Exception) -> bool:
    """SQLite reports a full disk or a read-only file as OperationalError, not OSError."""
    import sqlite3

    text = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and any(
        w in text for w in ("disk is full", "readonly", "read-only", "unable to open", "disk i/o error"))

