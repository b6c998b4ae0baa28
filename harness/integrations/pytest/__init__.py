"""The pytest plugin (plugin.py, cheap to load) and what it does with a suite (runs.py)."""
