"""Past one process: relaunch a command under ``accelerate launch``, and know our rank when launched.

``harness train --num-processes N`` (or ``--accelerate-config FILE``) runs the same command again as
N data-parallel workers through ``accelerate launch``; a command started by ``accelerate launch``
or ``torchrun`` finds ``WORLD_SIZE``/``RANK`` in its environment and trains as one of them. Every
worker prepares data and trains; only the main process (rank 0) writes adapters, metrics.csv and
records.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError

LAUNCH_FLAGS = ("--num-processes", "--accelerate-config")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def is_main_process() -> bool:
    return rank() == 0


def launched() -> bool:
    """True inside a worker started by accelerate launch / torchrun (even a world of one)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def barrier() -> None:
    """Wait for every worker (no-op in one process). Initialises the process group through accelerate."""
    if world_size() > 1:
        from accelerate import PartialState

        PartialState().wait_for_everyone()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strip_launch_flags(argv: Sequence[str]) -> list[str]:
    """``argv`` without --num-processes/--accelerate-config (and their values), for the workers."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a in LAUNCH_FLAGS:
            skip = True
            continue
        if any(a.startswith(f + "=") for f in LAUNCH_FLAGS):
            continue
        out.append(a)
    return out


def launch_command(argv: Sequence[str], num_processes: int | None, config_file: Path | None) -> list[str]:
    """The ``accelerate launch`` command line that reruns ``harness ARGV`` as workers."""
    import importlib.util

    if importlib.util.find_spec("accelerate") is None:
        raise HarnessError("--num-processes/--accelerate-config need HF accelerate: pip install accelerate")
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file is not None:
        if not config_file.is_file():
            raise HarnessError(f"--accelerate-config {config_file}: no such file; write one with `accelerate config`")
        cmd += ["--config_file", str(config_file)]
    else:
        # No config: data-parallel over the machine's GPUs, or over CPU processes (gloo) without one.
        # accelerate's --cpu would run a single process; --multi_gpu goes through torchrun either way.
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(_free_port())]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    return [*cmd, "-m", "harness.cli", *strip_launch_flags(argv)]


def relaunch(argv: Sequence[str], num_processes: int | None, config_file: Path | None) -> int:
    """Run the workers, wait for them; their exit code (the first failing one's, as torchrun reports)."""
    if num_processes is not None and num_processes < 1:
        raise HarnessError(f"--num-processes {num_processes}: expected 1 or more")
    cmd = launch_command(argv, num_processes, config_file)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, num_processes or 1))))
    print(f"harness: launching {num_processes or 'the configured number of'} worker(s): accelerate launch "
          + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    return subprocess.call(cmd, env=env)


def wants_relaunch(num_processes: int | None, config_file: Path | None) -> bool:
    """A launch was asked for and we are not already a worker."""
    if launched():
        return False
    return config_file is not None or (num_processes is not None and num_processes > 1)
