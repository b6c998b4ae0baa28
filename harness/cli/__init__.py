"""The `harness` command: main.py parses and dispatches; each subcommand is a module here with
``add_parser(subparsers)``."""

from harness.cli.main import main

__all__ = ["main"]
