"""Fakes of OpenAI's APIs for tests and benchmarks (not shipped in the wheel).

``server``: the one core (routes, records, key, injected errors, files) on ``harness.serve.server``;
``fake_openai`` (chat completions), ``fake_batch_api``, ``fake_finetune_api``: routes on it;
``contract``: request bodies checked with the openai SDK's own request types. This package imports
nothing itself, so ``python -m tests.fakes.fake_openai`` runs cleanly.
"""
