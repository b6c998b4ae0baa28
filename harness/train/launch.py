"""Past one process: training in workers under ``accelerate launch``, and knowing our rank.

``harness train/iterate --num-processes N`` (or ``--accelerate-config FILE``, DeepSpeed or FSDP
included) has the local trainer write its TrainConfig to OUT/launch/config.json and start
``accelerate launch -m harness.train.launch CONFIG`` : N data-parallel workers that each train on
their share of the batches. Data preparation and evaluation stay in the calling process. A
command started by ``accelerate launch`` or ``torchrun`` itself finds ``WORLD_SIZE``/``RANK`` in its
environment and trains as one of the workers. Only the main process (rank 0) writes adapters,
metrics.csv and records.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.trust import DATA_ROOT_ENV, HOSTS_ENV
from harness.train.processes import is_main_process, launched, rank, world_size  # noqa: F401  (the rank helpers, re-exported)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(config_json: Path, num_processes: int | None, config_file: Path | None) -> list[str]:
    """The ``accelerate launch`` command line that trains ``config_json`` in worker processes."""
    import importlib.util

    if importlib.util.find_spec("accelerate") is None:
        raise HarnessError("num_processes/accelerate_config need HF accelerate: pip install accelerate")
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    if config_file is not None:
        if not config_file.is_file():
            raise HarnessError(f"accelerate_config {config_file}: no such file; write one with `accelerate config`")
        cmd += ["--config_file", str(config_file)]
    else:
        # No config: data-parallel over the machine's GPUs, or over CPU processes (gloo) without one.
        # accelerate's --cpu would start a single process; --multi_gpu goes through torchrun either way.
        cmd += ["--multi_gpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(_free_port())]
    if num_processes is not None:
        cmd += ["--num_processes", str(num_processes)]
    return [*cmd, "-m", "harness.train.launch", str(config_json)]


def train_in_workers(config: Any, num_processes: int | None, config_file: Path | None) -> Any:
    """Run ``config`` as data-parallel workers under accelerate launch; the main worker's TrainResult."""
    from harness.train.base import TrainingFailed, TrainResult

    if num_processes is not None and num_processes < 1:
        raise HarnessError(f"num_processes {num_processes}: expected 1 or more")
    folder = config.out_dir / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.json"
    path.write_text(json.dumps(config.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8")
    cmd = launch_command(path, num_processes, config_file)
    # The workers' trust policy is the caller's (TrainConfig.trust is not in config.json): stated in
    # their environment, the one place a policy goes through it (a child process's TrustPolicy.from_env).
    env = {k: v for k, v in os.environ.items() if k not in (HOSTS_ENV, DATA_ROOT_ENV)} | config.trust.env()
    # Split the cores between the workers instead of each taking them all.
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, num_processes or 1))))
    print(f"harness: training in {num_processes or 'the configured'} processes: accelerate launch "
          + " ".join(cmd[3:]), file=sys.stderr, flush=True)
    result_file = config.out_dir / "train_result.json"
    result_file.unlink(missing_ok=True)
    rc = subprocess.call(cmd, env=env)
    if rc != 0 or not result_file.is_file():
        raise TrainingFailed(f"the training workers failed (accelerate launch exited with {rc}); see their output above")
    from harness.records.train_result import read_train_result

    return TrainResult.from_json(read_train_result(result_file).result)


def wants_relaunch(num_processes: int | None, config_file: Path | None) -> bool:
    """Several processes were asked for and we are not already one of them."""
    if launched():
        return False
    return config_file is not None or (num_processes is not None and num_processes > 1)


def main(argv: Sequence[str] | None = None) -> int:
    """A worker: ``python -m harness.train.launch CONFIG.json`` under accelerate launch or torchrun."""
    from harness.core.errors import HarnessError as _HE
    from harness.train.base import TrainConfig, run_training

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m harness.train.launch CONFIG.json", file=sys.stderr)
        return 2
    config = TrainConfig.model_validate(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    try:
        run_training(config, log=(lambda m: print(m, flush=True)) if is_main_process() else (lambda m: None))
    except _HE as e:
        print(f"harness: rank {rank()}: {e}", file=sys.stderr, flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
