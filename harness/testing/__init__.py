"""Test and benchmark helpers that ship with the harness (stdlib only).

``harness.testing.fake_openai``: a scripted OpenAI-compatible HTTP server. Import it from there;
this package imports nothing so ``python -m harness.testing.fake_openai`` runs cleanly.
"""
