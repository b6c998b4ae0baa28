"""Test and benchmark helpers that ship with the harness (stdlib only).

``tests.fakes.fake_openai``: a scripted OpenAI-compatible HTTP server. Import it from there;
this package imports nothing so ``python -m tests.fakes.fake_openai`` runs cleanly.
"""
