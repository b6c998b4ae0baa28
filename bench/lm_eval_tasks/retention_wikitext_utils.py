"""Glue for retention_wikitext: lm-eval's own wikitext word/byte counts, imported, not copied."""
from __future__ import annotations

from typing import Any

from lm_eval.tasks.wikitext import preprocess_wikitext


def process_results(doc: dict[str, Any], results: Any) -> dict[str, Any]:
    """lm-eval's wikitext process_results, read from our `text` field (theirs is `page`)."""
    return preprocess_wikitext.process_results({"page": doc["text"]}, results)
