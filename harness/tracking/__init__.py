"""Experiment tracking (`--track mlflow`, or `tracking: {mlflow: {...}}` in a suite).

Commands call :func:`track` after their work is written; a tracker that fails never loses that
work: the error is printed and the command exits 4 (environment failure) if it would have exited 0.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

TRACKERS = ("mlflow",)
EXIT_ENVIRONMENT = 4


def add_track_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", action="append", choices=TRACKERS, default=[],
                   help="also log to an experiment tracker: mlflow (store: $MLFLOW_TRACKING_URI, else "
                        "sqlite:///REPORTS/mlflow.db); a suite's `tracking:` section turns it on too")


def mlflow_settings(args: argparse.Namespace, suite: Path | None, suite_name: str | None = None) -> dict[str, Any] | None:
    """The MLflow settings to log with, or None when neither --track nor the suite asks for it.
    Without a suite file (compare reads only runs) only --track turns tracking on."""
    spec = None
    if suite is not None:
        from harness.suite.load import load_suite

        loaded = load_suite(suite)
        spec = loaded.suite.tracking.mlflow if loaded.suite.tracking else None
        suite_name = loaded.suite.name
    if "mlflow" not in (getattr(args, "track", None) or []) and spec is None:
        return None
    return {"experiment": (spec.experiment if spec else None) or suite_name or "harness",
            "tracking_uri": spec.tracking_uri if spec else None}


def track(args: argparse.Namespace, suite: Path | None, code: int, log: Callable[[Any], str], what: str,
          suite_name: str | None = None) -> int:
    """Run ``log(tracker)`` if tracking is on; print where it went. Returns the command's exit code."""
    settings = mlflow_settings(args, suite, suite_name)
    if settings is None:
        return code
    from harness.tracking.mlflow import MlflowTracker, default_uri

    uri = settings["tracking_uri"] or default_uri(args.reports)
    try:
        tracker = MlflowTracker(settings["experiment"], args.reports, settings["tracking_uri"])
        run_id = log(tracker)
    except Exception as e:  # a tracker down must not hide the finished work
        from harness.core.errors import HarnessError

        if isinstance(e, HarnessError):  # mlflow missing, a bad setting: the user's to fix
            raise
        print(f"error: mlflow tracking failed ({uri}): {type(e).__name__}: {e}; {what} is kept on disk", file=sys.stderr)
        return code or EXIT_ENVIRONMENT
    print(f"mlflow: logged {what} as run {run_id} in experiment {settings['experiment']!r} ({uri})")
    return code
