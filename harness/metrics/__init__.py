"""Metrics: registered by name, each declaring its scores' direction, range and level."""

from harness.metrics.base import METRICS, Failure, Item, Metric, ScoreSpec, build_metric, metric

__all__ = ["METRICS", "Failure", "Item", "Metric", "ScoreSpec", "build_metric", "metric"]
