"""The executor choice as written (model file, model string, command line) and as recorded; no Ray needed."""

from __future__ import annotations

import argparse
import asyncio

import pytest

from harness.cli.common import add_executor_options, executor_from_args
from harness.core.errors import HarnessError
from harness.core.executor import ExecutorSpec
from harness.core.types import GenerationSettings, Request
from harness.distributed import with_executor
from harness.engine import Engine
from harness.providers.base import ModelSpec
from harness.providers.scripted import ScriptedProvider


def test_a_model_file_says_executor_ray_as_a_word_or_a_mapping(tmp_path) -> None:
    f = tmp_path / "model.yaml"
    f.write_text("provider: openai\nname: m\nbase_url: http://127.0.0.1:9/v1\nexecutor: {kind: ray, actors: 4, num_gpus: 0.5}\n")
    spec = ModelSpec.parse(str(f))
    assert spec.executor == ExecutorSpec(kind="ray", actors=4, num_gpus=0.5)
    assert ModelSpec.parse("scripted:x.jsonl?executor=ray").executor == ExecutorSpec(kind="ray")
    assert ModelSpec.model_validate(spec.model_dump(mode="json")) == spec  # recorded and read back the same


def test_a_spec_without_an_executor_is_recorded_as_before() -> None:
    assert "executor" not in ModelSpec.parse("scripted:x.jsonl").model_dump(mode="json")


def test_a_wrong_executor_key_names_the_model_and_the_field(tmp_path) -> None:
    f = tmp_path / "model.yaml"
    f.write_text("provider: scripted\nname: x.jsonl\nexecutor: {kind: ray, actor: 2}\n")
    with pytest.raises(HarnessError, match=r"model file .*model.yaml: executor.actor: unknown key; allowed: kind, address, actors, "):
        ModelSpec.parse(str(f))
    with pytest.raises(HarnessError, match=r"executor.kind: Input should be 'inprocess' or 'ray'"):
        ModelSpec.parse("scripted:x.jsonl?executor=slurm")


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_executor_options(p)
    return p.parse_args(list(argv))


def test_the_command_line_executor_goes_over_the_model_files() -> None:
    assert executor_from_args(_args()) is None
    ray = executor_from_args(_args("--executor", "ray", "--ray-address", "10.0.0.1:6379", "--ray-actors", "8"))
    assert ray == ExecutorSpec(kind="ray", address="10.0.0.1:6379", actors=8)
    assert executor_from_args(_args("--ray-address", "h:6379")).kind == "ray"  # an address means ray
    with pytest.raises(HarnessError, match="go with --executor ray"):
        executor_from_args(_args("--executor", "inprocess", "--ray-actors", "2"))
    model = ModelSpec.parse("scripted:x.jsonl?executor=ray")
    assert with_executor(model, executor_from_args(_args("--executor", "inprocess"))).executor is None
    assert with_executor(model, None) == model


def test_an_engine_built_without_executors_refuses_a_ray_model_in_one_line() -> None:
    spec = ModelSpec.parse("scripted:x?executor=ray")
    provider = ScriptedProvider(spec, script={"a": "x"})
    req = Request((("user", "hi"),), GenerationSettings(), "a")

    async def go():
        async with Engine() as engine:
            await engine.generate(provider, [req])

    with pytest.raises(HarnessError, match="generates in-process only"):
        asyncio.run(go())
