"""Lexical normalisation for BM25: lowercase word tokens, English stop words
removed, Porter stems.

Milvus Lite's analyzer has no stemmer (its ``stemmer`` filter is accepted and
ignored), so "Which law governs …" would miss "shall be governed by the laws of".
Dossier therefore indexes, and queries with, a pre-stemmed copy of the text;
the same function runs on both sides, so any Milvus (Lite or server) gives the
same BM25 behaviour.
"""

from __future__ import annotations

import re
from functools import lru_cache

from nltk.stem import PorterStemmer

__all__ = ["STOP_WORDS", "bm25_terms"]

#: Lucene's English stop words less "no" and "not" (negation matters in contracts).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_stemmer = PorterStemmer()


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stem(word) if word.isalpha() else word


def bm25_terms(text: str) -> str:
    """The space-joined BM25 terms of ``text`` (empty when nothing is left)."""
    return " ".join(_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS)
