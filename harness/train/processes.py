"""Which process we are under ``accelerate launch`` / ``torchrun``: a leaf every trainer may import
(starting workers lives in harness/train/launch.py, which imports the trainers)."""

from __future__ import annotations

import os


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    return rank() == 0


def launched() -> bool:
    """True inside a worker started by accelerate launch / torchrun (even a world of one)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ
