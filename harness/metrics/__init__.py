"""Metrics: registered by name, each declaring its scores' direction, range and level."""

from harness.core.types import Failure, Item
from harness.metrics.base import METRICS, Metric, ScoreSpec, build_metric, metric

__all__ = ["METRICS", "Failure", "Item", "Metric", "ScoreSpec", "build_metric", "metric"]
