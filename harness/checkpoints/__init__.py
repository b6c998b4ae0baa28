"""Checkpoints chosen by what they do: find adapter checkpoints (``find``), evaluate each on a
suite's split over one loaded base (``rank``), choose by the suite's primary gate metric with the
validation loss breaking ties (``choose``), and write the table (``table``). Used by the loop for
each local training run and by ``harness checkpoints DIR``."""
