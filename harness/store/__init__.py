"""The SQLite store beside a run: responses keyed by model fingerprint and request, and per-example
scores keyed by response and metric, in one file opened through one connection factory."""
