"""Options shared by commands that run a model."""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable
from pathlib import Path

from harness.core.executor import ExecutorSpec
from harness.core.trust import TrustPolicy
from harness.core.options import CONCURRENCY, LIMIT, SEED
from harness.providers.base import ModelSpec


def add_model_options(p: argparse.ArgumentParser, prefix: str = "", required: bool = True) -> None:
    flag = f"--{prefix}model" if prefix else "--model"
    p.add_argument(flag, required=required, metavar="MODEL",
                   help="PROVIDER[:NAME][?key=value&...] or a model YAML file, e.g. local, "
                        "local:smollm2?adapter=out/adapter, openai:gpt-4o-mini, "
                        "'openai:my-model?base_url=http://127.0.0.1:8080/v1&concurrency=64'")
    p.add_argument(f"--{prefix}adapter", metavar="DIR", help="LoRA adapter folder for a local model")
    p.add_argument(f"--{prefix}base-url", metavar="URL", help="OpenAI-compatible endpoint")
    p.add_argument(f"--{prefix}concurrency", type=CONCURRENCY, metavar="N",
                   help=f"requests in flight (API providers; {CONCURRENCY.range})")


def model_from_args(args: argparse.Namespace, prefix: str = "") -> ModelSpec | None:
    key = prefix.replace("-", "_")
    text = getattr(args, f"{key}model")
    if text is None:
        return None
    return ModelSpec.parse(text, adapter=getattr(args, f"{key}adapter"), base_url=getattr(args, f"{key}base_url"),
                           concurrency=getattr(args, f"{key}concurrency"))


def add_executor_options(p: argparse.ArgumentParser) -> None:
    from harness.core.executor import EXECUTORS

    p.add_argument("--executor", choices=EXECUTORS, help="where the model's uncached requests are generated: "
                                                         "inprocess (default) or ray (a pool of Ray actors, each holding "
                                                         "the model once; needs the [ray] extra; docs/distributed.md); "
                                                         "over a model file's executor:")
    p.add_argument("--ray-address", metavar="ADDR", help="Ray cluster to join (HOST:6379 or ray://HOST:10001; "
                                                         "default: the local one, started if none runs)")
    p.add_argument("--ray-actors", type=CONCURRENCY, metavar="N", help="Ray actors (default 2)")
    p.add_argument("--ray-gpus", type=float, metavar="G", help="GPUs per Ray actor (default 0; 0.5 puts two on one GPU)")


def executor_from_args(args: argparse.Namespace) -> ExecutorSpec | None:
    """The command line's executor (None: the model's own ``executor:``, else in-process)."""
    ray_flags = {k: v for k, v in (("address", args.ray_address), ("actors", args.ray_actors),
                                   ("num_gpus", args.ray_gpus)) if v is not None}
    if args.executor is None and not ray_flags:
        return None
    if args.executor == "inprocess" and ray_flags:
        from harness.core.errors import HarnessError

        raise HarnessError("--ray-address/--ray-actors/--ray-gpus go with --executor ray, not --executor inprocess")
    return ExecutorSpec(kind=args.executor or "ray", **ray_flags)


def add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reports", type=Path, default=Path(os.environ.get("HARNESS_REPORTS", "reports")),
                   help="folder for run directories and the response cache (default: reports)")
    p.add_argument("--cache", type=Path, help="SQLite response cache (default: REPORTS/cache.sqlite)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


positive_int = LIMIT  # argparse type for counts such as --limit (harness.core.options has every range)


def add_selection_options(p: argparse.ArgumentParser, prefix: str = "", what: str = "examples") -> None:
    """--limit N (the first N), --sample N and --seed S (a seeded stratified sample: harness.data.sample);
    ``prefix`` e.g. "eval-" gives --eval-limit, --eval-sample, --eval-seed."""
    p.add_argument(f"--{prefix}limit", type=LIMIT, metavar="N",
                   help=f"only the first N {what} of the split, in file order: not a sample (the first rows are often "
                        f"one category); see --{prefix}sample ({LIMIT.range})")
    p.add_argument(f"--{prefix}sample", type=LIMIT, metavar="N",
                   help=f"a random sample of N {what}, stratified by the suite's category field where it has one "
                        "(proportional, at least one per category where N allows), kept in the split's order; the "
                        f"drawn ids are recorded. Not with --{prefix}limit ({LIMIT.range})")
    p.add_argument(f"--{prefix}seed", type=SEED, metavar="S",
                   help=f"the seed of --{prefix}sample (default 0): the same seed draws the same {what} ({SEED.range})")


def selection_from_args(args: argparse.Namespace, prefix: str = "") -> dict[str, int | None]:
    """RunConfig's limit, sample and sample_seed; --limit with --sample is refused here, naming both."""
    from harness.data.sample import check_selection

    key = prefix.replace("-", "_")
    limit, sample, seed = (getattr(args, key + k) for k in ("limit", "sample", "seed"))
    check_selection(limit, sample)
    if seed is not None and sample is None:
        from harness.core.errors import HarnessError

        raise HarnessError(f"--{prefix}seed {seed} without --{prefix}sample: the seed picks a sample; add --{prefix}sample N")
    return {"limit": limit, "sample": sample, "sample_seed": seed}


def print_selection(sel: dict[str, int | None]) -> None:
    """The line a --limit run prints (it takes the first N, not a sample)."""
    if sel["limit"] is not None:
        from harness.data.sample import limit_note

        print(limit_note(sel["limit"]))


def add_trust_options(p: argparse.ArgumentParser, keys: bool = True, data: bool = True) -> None:
    """What the person running the command (never a suite) decides: which hosts may receive an
    API key (``keys``), and the folder a suite's data and adapter paths must stay inside (``data``)."""
    if keys:
        p.add_argument("--allow-key-host", action="append", default=[], metavar="HOST",
                       help="also send the API key to HOST (or HOST:PORT); by default only api.openai.com receives it. "
                            "Repeatable; adds to $HARNESS_KEY_HOSTS (comma-separated)")
    if not data:
        return
    p.add_argument("--data-root", type=Path, metavar="DIR",
                   help="folder a suite's dataset and adapter paths must stay inside (default: the top of the suite's "
                        "git repository, or the suite's folder outside one); also $HARNESS_DATA_ROOT")


def trust_from_args(args: argparse.Namespace) -> TrustPolicy:
    """The command's trust policy: $HARNESS_KEY_HOSTS / $HARNESS_DATA_ROOT, read once here, widened
    by --allow-key-host and replaced by --data-root."""
    return TrustPolicy.from_env().widened(getattr(args, "allow_key_host", None) or (), getattr(args, "data_root", None))


def with_trust(main: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Run a command's ``main`` with ``args.trust``: the policy it passes to what it calls (a run's,
    a loop's or a training's config, the suite loader, the gate), so one command in a process never
    widens the next one's trust. Nothing here or below writes it into ``os.environ``."""

    @functools.wraps(main)
    def run(args: argparse.Namespace) -> int:
        args.trust = trust_from_args(args)
        return main(args)

    return run
