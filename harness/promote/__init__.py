"""The promotion step in one call: compare baseline and candidate runs, decide on the suite's gates
(harness.gating, pure) and write every report format together."""
