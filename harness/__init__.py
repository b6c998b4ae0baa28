"""harness: evaluate base and fine-tuned language models on declarative suites."""

__version__ = "0.1.0"
