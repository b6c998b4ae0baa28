"""Model providers. Each lives in its own module, imported only when named."""

from harness.core.types import Request, Response
from harness.providers.base import (
    PROVIDERS,
    ModelSpec,
    Provider,
    build_provider,
    provider,
)

__all__ = ["PROVIDERS", "ModelSpec", "Provider", "Request", "Response", "build_provider", "provider"]
