"""Integrations with other tools' entry points (the pytest plugin)."""
