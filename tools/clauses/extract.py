"""Scoring a document's chunks and picking each category's passages.

The same code serves reviews (:mod:`tools.clauses.review`), the agent tool and
the evaluation, so measured numbers describe what users get.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.types import Chunk
from knowledge_base.protocols import Embedder
from tools.clauses.features import feature_matrix
from tools.clauses.model import ClauseModel

__all__ = ["MIN_PRESENCE_CONFIDENCE", "CategoryScore", "chunk_features", "score_document"]

#: A category is reported only when its calibrated presence confidence reaches
#: this floor as well as its passage threshold. Guards categories with few
#: training examples, whose F1-optimal passage thresholds can be near zero.
MIN_PRESENCE_CONFIDENCE = 0.15


@dataclass
class CategoryScore:
    """One category's result on one document.

    ``passages``: indexes into the chunk list, best first, each with its
    probability, those at or above the category threshold (at most the
    category cap). ``confidence``: calibrated probability that the category is
    present. ``present``: the best passage reaches the threshold and the confidence reaches
    :data:`MIN_PRESENCE_CONFIDENCE`.
    """

    category: str
    present: bool
    confidence: float
    top_probability: float
    passages: list[tuple[int, float]]


def chunk_features(
    chunks: Sequence[Chunk], embedder: Embedder, embeddings: np.ndarray | None = None
) -> np.ndarray:
    """Feature matrix of ``chunks`` (in reading order), embedding them unless given."""
    if embeddings is None:
        embeddings = embedder.embed_batch([c.text for c in chunks])
    ordinals = list(range(len(chunks)))
    return feature_matrix(embeddings, [c.body for c in chunks], ordinals, len(chunks))


def score_document(
    features: np.ndarray, model: ClauseModel, categories: Sequence[str] | None = None
) -> list[CategoryScore]:
    """Score every (or the named) category on one document's feature matrix."""
    names = list(categories) if categories is not None else model.categories
    if features.shape[0] == 0:
        return [CategoryScore(n, False, 0.0, 0.0, []) for n in names]
    probs = model.predict_proba(features)
    out: list[CategoryScore] = []
    for name in names:
        j = model.index(name)
        column = probs[:, j]
        order = np.argsort(-column, kind="stable")
        threshold = float(model.thresholds[j])
        cap = int(model.caps[j])
        top = float(column[order[0]])
        confidence = model.presence_confidence(j, top)
        passages = (
            [(int(i), float(column[i])) for i in order[:cap] if column[i] >= threshold]
            if confidence >= MIN_PRESENCE_CONFIDENCE
            else []
        )
        out.append(
            CategoryScore(
                category=name,
                present=bool(passages),
                confidence=confidence,
                top_probability=top,
                passages=passages,
            )
        )
    return out
