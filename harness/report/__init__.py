"""Reports of a comparison or a gate: HTML (one self-contained file), CSV, JUnit XML, Markdown."""
