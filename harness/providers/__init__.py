"""Model providers. Each lives in its own module, imported only when named."""

from harness.providers.base import PROVIDERS, ModelSpec, Provider, Request, Response, build_provider, provider

__all__ = ["PROVIDERS", "ModelSpec", "Provider", "Request", "Response", "build_provider", "provider"]
