"""`harness models` and the retiring-model warning, through the real SDK against the fake server."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.migrate.retiring import (
    ModelInfo,
    fine_tune_base,
    list_account,
    shutdown_warning,
)
from fakes.fake_openai import FakeOpenAI

pytestmark = pytest.mark.timeout(60)

SOON = (dt.date.today() + dt.timedelta(days=30)).isoformat()
LATER = (dt.date.today() + dt.timedelta(days=200)).isoformat()
MODELS = [{"id": "gpt-4o-mini-2024-07-18", "owned_by": "system", "shutdown_date": SOON},
          {"id": "gpt-5-mini", "owned_by": "system"},
          {"id": "gpt-4.1-2025-04-14", "owned_by": "system", "shutdown_date": LATER},
          {"id": "ft:gpt-4o-mini-2024-07-18:acme:support:abc123", "owned_by": "acme"}]
JOBS = [{"object": "fine_tuning.job", "id": "ftjob-1", "model": "gpt-4o-mini-2024-07-18", "created_at": 1,
         "fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:acme:support:abc123", "status": "succeeded",
         "organization_id": "org", "result_files": [], "seed": 0, "training_file": "file-1", "validation_file": None,
         "hyperparameters": {"n_epochs": 3}, "error": None, "finished_at": 2, "trained_tokens": 10}]


def test_listing_has_shutdown_dates_bases_and_jobs() -> None:
    with FakeOpenAI(models=MODELS, jobs=JOBS) as srv:
        listing = list_account(srv.url)
        paths = [r.path for r in srv.requests]
    by_id = listing.by_id()
    assert by_id["gpt-4o-mini-2024-07-18"].shutdown_date == SOON and by_id["gpt-5-mini"].shutdown_date is None
    ft = by_id["ft:gpt-4o-mini-2024-07-18:acme:support:abc123"]
    assert ft.base == "gpt-4o-mini-2024-07-18" and ft.shutdown_date is None and ft.effective_shutdown(by_id) == SOON
    assert listing.jobs == [{"id": "ftjob-1", "model": "gpt-4o-mini-2024-07-18", "status": "succeeded", "created_at": 1,
                             "fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:acme:support:abc123"}]
    assert paths == ["/v1/models", "/v1/fine_tuning/jobs"]


def test_models_command_table_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(models=MODELS) as srv:  # no jobs: that route is a 404, said in one line
        assert main(["models", "--base-url", srv.url]) == 0
        table = capsys.readouterr().out
        assert main(["models", "--base-url", srv.url, "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
    lines = table.splitlines()
    assert lines[2].startswith("ft:gpt-4o-mini-2024-07-18:acme:support:abc123") and f"{SOON} (base)" in lines[2]
    assert "gpt-5-mini" in lines[5] and "fine-tuning jobs: this server has no fine-tuning jobs endpoint" in table
    assert {m["id"]: m["shutdown_date"] for m in data["models"]}["gpt-4.1-2025-04-14"] == LATER


def test_models_command_endpoint_down_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    srv = FakeOpenAI().start()
    url = srv.url
    srv.stop()
    assert main(["models", "--base-url", url]) == 4
    assert "cannot reach" in capsys.readouterr().err


def test_old_single_model_listing_still_served() -> None:
    with FakeOpenAI(model="m1") as srv:
        listing = list_account(srv.url)
    assert [(m.id, m.owned_by, m.shutdown_date) for m in listing.models] == [("m1", "fake-openai", None)]


def test_warning_rules() -> None:
    today = dt.date(2026, 12, 1)
    models = [ModelInfo("gpt-4o-mini-2024-07-18", "system", "2027-01-14"), ModelInfo("gpt-4.1", "system", "2027-06-30")]
    line = shutdown_warning("gpt-4o-mini-2024-07-18", models, today)
    assert line is not None and "shuts down on 2027-01-14, in 44 days" in line
    ft = shutdown_warning("ft:gpt-4o-mini-2024-07-18:acme::x", models, today)  # not listed itself: its base decides
    assert ft is not None and "its base gpt-4o-mini-2024-07-18 does" in ft
    assert shutdown_warning("gpt-4.1", models, today) is None  # 211 days away
    assert shutdown_warning("gpt-5", models, today) is None
    assert "3 days ago" in (shutdown_warning("gpt-4o-mini-2024-07-18", models, dt.date(2027, 1, 17)) or "")
    assert fine_tune_base("ft:gpt-4o-mini-2024-07-18:acme::x") == "gpt-4o-mini-2024-07-18" and fine_tune_base("gpt-4o") is None


def test_run_and_record_print_one_warning_line(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(models=MODELS, answer=lambda b: "order_status") as srv:
        model = f"openai:gpt-4o-mini-2024-07-18?base_url={srv.url}"
        main(["run", str(tiny_suite), "--model", model, "--reports", str(tiny_suite.parent / "r"), "--no-progress"])
        err = capsys.readouterr().err
        assert err.count("warning: model gpt-4o-mini-2024-07-18 shuts down") == 1
        main(["record", str(tiny_suite), "--model", model, "--out", str(tiny_suite.parent / "rec"),
              "--cache", str(tiny_suite.parent / "c.sqlite"), "--no-progress"])
        assert capsys.readouterr().err.count("shuts down on") == 1
        model5 = f"openai:gpt-5-mini?base_url={srv.url}"
        main(["run", str(tiny_suite), "--model", model5, "--reports", str(tiny_suite.parent / "r"), "--no-progress"])
        assert "shuts down" not in capsys.readouterr().err
        assert sum(r.path == "/v1/models" for r in srv.requests) == 3  # one GET a command


def test_warning_is_silent_when_models_cannot_be_fetched(tiny_suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(answer=lambda b: "order_status") as srv:
        srv_models = srv._model_list
        srv._model_list = lambda: (_ for _ in ()).throw(RuntimeError("boom"))  # type: ignore[method-assign]
        try:
            code = main(["run", str(tiny_suite), "--model", f"openai:gpt-4o-mini?base_url={srv.url}",
                         "--reports", str(tiny_suite.parent / "r"), "--no-progress"])
        finally:
            srv._model_list = srv_models  # type: ignore[method-assign]
    assert code == 0 and "warning" not in capsys.readouterr().err


def test_the_runs_warning_sends_a_key_only_where_keys_may_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """The warning's GET /v1/models obeys harness.providers.keys like every request: a loopback server
    not named by --allow-key-host / HARNESS_KEY_HOSTS gets the placeholder, an allowed one the key."""
    from harness.providers.base import ModelSpec
    from harness.migrate.retiring import warn_if_retiring

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test")
    monkeypatch.delenv("HARNESS_KEY_HOSTS", raising=False)
    with FakeOpenAI(models=MODELS) as srv:
        spec = ModelSpec.parse(f"openai:gpt-4o-mini-2024-07-18?base_url={srv.url}")
        assert warn_if_retiring(spec) is not None  # the listing was read
        sent = [r.headers.get("authorization") for r in srv.requests if r.path.endswith("/models")]
        assert sent and all("sk-secret-test" not in (h or "") for h in sent)
        monkeypatch.setenv("HARNESS_KEY_HOSTS", "127.0.0.1")
        warn_if_retiring(spec)
        sent = [r.headers.get("authorization") for r in srv.requests if r.path.endswith("/models")]
        assert sent[-1] == "Bearer sk-secret-test"
