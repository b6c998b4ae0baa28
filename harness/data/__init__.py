"""Datasets: reading examples, and (later) preparing fine-tuning data."""
