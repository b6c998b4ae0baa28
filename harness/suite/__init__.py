"""Declarative evaluation suites: schema, loading and validation."""

from harness.suite.load import load_suite
from harness.suite.schema import Suite

__all__ = ["Suite", "load_suite"]
