"""Serving a local model (with a LoRA adapter) as an OpenAI-compatible endpoint on loopback."""
