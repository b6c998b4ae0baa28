"""Per-provider parameters: ModelSpec's common keys, each provider's own Params model, the string,
file and mapping forms, strict errors, the suite's key rule, and unchanged cache fingerprints."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.core.hashing import canonical_json
from harness.judge.params import suite_model_spec
from harness.providers.base import ModelSpec, build_provider
from harness.providers.local import LocalParams
from harness.providers.openai import OpenAIParams
from harness.providers.scripted import ScriptedParams


def fp_sha(text: str) -> str:
    return hashlib.sha256(canonical_json(build_provider(ModelSpec.parse(text)).fingerprint()).encode()).hexdigest()


# sha256 of each fingerprint as computed by the code before this change (main at d2906c3): cached
# responses stay valid. Common keys (concurrency, timeouts, retries) never enter a fingerprint.
def test_fingerprints_are_those_of_the_previous_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("X_KEY", "y")
    assert fp_sha("openai:gpt-4o-mini?concurrency=3") == "0f7901f4f8e2f64ef4ca4fe08f11141cc45a39e6801db3a351cba374c1cd28ad"
    assert fp_sha("openai:ft:gpt-4o-mini:org::id?base_url=http://127.0.0.1:9/v1/&api_key_env=X_KEY&timeout_s=5") == \
        "a29e1d53d75885b525c595c9ea77c4669416f39503ae23eb7862c0a3efd30efb"
    monkeypatch.chdir(tmp_path)
    Path("out.jsonl").write_text('{"id": "a", "output": "yes"}\n')
    assert fp_sha("scripted:out.jsonl?max_retries=1") == "c16a269d750413d0d9e7d777fdbcf91c025f233040c9cb21fb297bae4819b64b"


def test_local_fingerprint_is_that_of_the_previous_release() -> None:
    assert fp_sha("local?device=cpu&batch_size=4") == "c5bd7eada287f8478cf012e508160b00326293e4b56e0d49fd7727d4c191c499"


def test_each_provider_owns_its_keys() -> None:
    o = ModelSpec.parse("openai:m?base_url=http://127.0.0.1:9/v1&api_key_env=K&concurrency=4")
    assert isinstance(o.params, OpenAIParams) and (o.params.base_url, o.params.api_key_env, o.concurrency) == \
        ("http://127.0.0.1:9/v1", "K", 4)
    loc = ModelSpec.parse("local?device=cpu&batch_size=2")
    assert isinstance(loc.params, LocalParams) and (loc.params.device, loc.params.adapter, loc.batch_size) == ("cpu", None, 2)
    assert isinstance(ModelSpec.parse("scripted:x.jsonl").params, ScriptedParams)
    assert not hasattr(o, "base_url") and not hasattr(loc, "device")
    # recorded specs stay flat (summary.json keeps its shape) and read back to the same spec
    flat = o.model_dump(mode="json")
    assert flat["base_url"] == "http://127.0.0.1:9/v1" and "params" not in flat
    assert ModelSpec.model_validate(flat) == o and ModelSpec.parse(flat) == o


def test_unknown_or_misplaced_keys_name_the_model_and_the_key() -> None:
    with pytest.raises(HarnessError) as e:
        ModelSpec.parse("openai:x?devise=cpu")
    assert str(e.value).startswith("model 'openai:x?devise=cpu': devise: unknown key; allowed: provider, name, label, "
                                   "concurrency, batch_size, timeout_s, max_retries, retry_base_s, max_connection_errors, executor, "
                                   "base_url, api_key_env")
    with pytest.raises(HarnessError, match=r"^model 'local\?base_url=http://h': base_url: unknown key; allowed: .*adapter, device$"):
        ModelSpec.parse("local?base_url=http://h")  # another provider's key
    with pytest.raises(HarnessError, match=r"^model 'scripted:f\?adapter=a': adapter: unknown key"):
        ModelSpec.parse("scripted:f?adapter=a")
    with pytest.raises(HarnessError) as e:
        ModelSpec.parse("openai:x?concurrency=0&devise=1")
    assert str(e.value).splitlines()[0].startswith("model 'openai:x?concurrency=0&devise=1': concurrency: Input should be")
    assert str(e.value).splitlines()[1].startswith("model 'openai:x?concurrency=0&devise=1': devise: unknown key")


def test_model_files_and_mappings(tmp_path: Path) -> None:
    f = tmp_path / "judge.yaml"
    f.write_text("provider: openai\nname: gpt-4o-mini\nbase_url: http://127.0.0.1:9/v1\nconcurrency: 2\n")
    spec = ModelSpec.parse(str(f))
    assert ModelSpec.parse({"provider": "openai", "name": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1",
                            "concurrency": 2}) == spec == ModelSpec.parse("openai:gpt-4o-mini?base_url=http://127.0.0.1:9/v1&concurrency=2")
    f.write_text("provider: openai\nname: g\ndevise: cpu\n")
    with pytest.raises(HarnessError, match=rf"^model file {f}: devise: unknown key"):
        ModelSpec.parse(str(f))
    with pytest.raises(HarnessError, match=r"model: write the model id as `name:`"):
        ModelSpec.parse({"provider": "openai", "model": "gpt-4o-mini"})
    with pytest.raises(HarnessError, match=r"provider: required"):
        ModelSpec.parse({"name": "gpt-4o-mini"})


def test_a_suite_cannot_name_the_key_variable_in_either_form() -> None:
    for ref in ("openai:j?base_url=http://127.0.0.1:9/v1&api_key_env=AWS_SECRET_ACCESS_KEY",
                {"provider": "openai", "name": "j", "base_url": "http://127.0.0.1:9/v1", "api_key_env": "AWS_SECRET_ACCESS_KEY"}):
        with pytest.raises(ValueError, match="a suite cannot choose the API key's environment variable"):
            suite_model_spec(ref)
        assert suite_model_spec(ref, trusted=True).params.api_key_env == "AWS_SECRET_ACCESS_KEY"
    # the default is not "given": a mapping without api_key_env passes
    assert suite_model_spec({"provider": "openai", "name": "j", "base_url": "http://127.0.0.1:9/v1"}).params.api_key_env == "OPENAI_API_KEY"
