"""Evaluation: a suite run end to end (load, generate through the engine, score, aggregate, write),
repeats and their reducers, and judge calibration, the workflow that grades a labelled set."""
