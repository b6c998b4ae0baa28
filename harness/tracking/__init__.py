"""Experiment tracking (`--track mlflow`; a suite's `tracking: {mlflow: {experiment: NAME}}` names
the experiment).

Only the person running the command turns tracking on and chooses the store (`--tracking-uri`, else
$MLFLOW_TRACKING_URI, else sqlite:///REPORTS/mlflow.db): a suite may come from a pull request, and
MLFLOW_TRACKING_TOKEN goes wherever the store is. A file store must lie inside the project root or
the reports folder. Commands call :func:`track` after their work is written; a tracker that fails
never loses that work: one line is printed and the command exits 4 (environment failure) if it
would have exited 0, within seconds (harness.tracking.mlflow probes the store first).
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
                   help="also log to an experiment tracker: mlflow (store: --tracking-uri, else $MLFLOW_TRACKING_URI, "
                        "else sqlite:///REPORTS/mlflow.db); a suite's `tracking: {mlflow: {experiment: NAME}}` names "
                        "the experiment")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="the MLflow store or server for --track mlflow (default $MLFLOW_TRACKING_URI); a file store "
                        "must be inside the project root or the reports folder")


def mlflow_settings(args: argparse.Namespace, suite: Path | None, suite_name: str | None = None) -> dict[str, Any] | None:
    """The MLflow settings to log with, or None without --track mlflow (a suite never turns it on).
    The suite may name the experiment; the store comes from the command line or the environment."""
    if "mlflow" not in (getattr(args, "track", None) or []):
        return None
    spec = None
    if suite is not None:
        from harness.suite.load import load_suite

        loaded = load_suite(suite)
        spec = loaded.suite.tracking.mlflow if loaded.suite.tracking else None
        suite_name = loaded.suite.name
    flag = getattr(args, "tracking_uri", None)
    return {"experiment": (spec.experiment if spec else None) or suite_name or "harness",
            "tracking_uri": flag, "source": "--tracking-uri" if flag else None}


def track(args: argparse.Namespace, suite: Path | None, code: int, log: Callable[[Any], str], what: str,
          suite_name: str | None = None) -> int:
    """Run ``log(tracker)`` if tracking is on; print where it went. Returns the command's exit code."""
    settings = mlflow_settings(args, suite, suite_name)
    if settings is None:
        return code
    from harness.tracking.mlflow import MlflowTracker, StoreUnavailable, confine_store, fail_fast, store_uri

    uri, source = store_uri(settings["tracking_uri"], args.reports)
    confine_store(uri, source or settings["source"], suite, args.reports)  # HarnessError (exit 2) before anything is written
    try:
        with fail_fast():
            tracker = MlflowTracker(settings["experiment"], args.reports, uri)
            run_id = log(tracker)
    except Exception as e:  # a tracker down must not hide the finished work
        from harness.core.errors import HarnessError

        if isinstance(e, HarnessError):  # mlflow missing, a bad setting: the user's to fix
            raise
        reason = str(e) if isinstance(e, StoreUnavailable) else f"{type(e).__name__}: {e}"
        reason = " ".join(reason.split())[:300]  # one line, whatever MLflow's message holds
        print(f"error: mlflow tracking failed ({uri}): {reason}; {what} is kept on disk", file=sys.stderr)
        return code or EXIT_ENVIRONMENT
    print(f"mlflow: logged {what} as run {run_id} in experiment {settings['experiment']!r} ({uri})")
    return code
