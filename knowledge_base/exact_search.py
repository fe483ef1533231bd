"""Exact cosine ranking of a small filtered set of stored vectors.

Milvus' filtered approximate (HNSW) search loses rows when the filter keeps
a small part of a segment: on 10 CUAD contracts, ``dense`` search restricted
to a 5-chunk document returned 1 chunk, and to a 358-chunk document 193 of
k=200. When a search is restricted to few rows, the store reads those rows'
vectors with a filtered query and ranks them here, which loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["EXACT_MAX_ROWS", "rank_cosine"]

#: Filtered sets up to this many rows are ranked exactly (a query of 8,192
#: rows of 384 floats moves ~13 MB; larger sets use the index with a raised ef).
EXACT_MAX_ROWS = 8192


def rank_cosine(
    query: Sequence[float], rows: Sequence[dict[str, Any]], limit: int
) -> list[tuple[str, float]]:
    """The ``limit`` best ``(id, cosine similarity)`` of ``rows`` (each with
    ``id`` and ``dense``), best first; ties keep the lower id first."""
    if not rows or limit <= 0:
        return []
    ids = [str(row["id"]) for row in rows]
    matrix = np.asarray([row["dense"] for row in rows], dtype=np.float32)
    vector = np.asarray(query, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1) * max(float(np.linalg.norm(vector)), 1e-12)
    scores = (matrix @ vector) / np.maximum(norms, 1e-12)
    order = sorted(range(len(ids)), key=lambda i: (-float(scores[i]), ids[i]))[:limit]
    return [(ids[i], float(scores[i])) for i in order]
