"""Document routing: send a query that names a contract to that contract.

Used by ``KnowledgeBase.search`` whenever the caller did not restrict the
search to given documents. Legal questions usually name the
agreement they are about ("Consider the Distributor Agreement between Acme
and Beta; what is the notice period?"). Searching the whole corpus lets
near-identical boilerplate of *other* contracts crowd out the right one.

Rule: every document is represented by its *opening* — its name plus the
first :data:`HEADER_CHARS` characters of its text, where titles, parties and
dates are — and scored against the query with BM25. If the best document
beats the runner-up by at least ``min_ratio`` (the query clearly names one
contract), the search is restricted to the top ``m`` documents; otherwise
(a generic question such as "which contracts have uncapped liability?") the
whole corpus is searched as before. On the CUAD dev queries the top-1 route
is the right contract for every query, and generic questions score a ratio
below ~1.4, hence the default ``min_ratio=1.5``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping

__all__ = ["HEADER_CHARS", "DocumentRouter", "split_reference"]

HEADER_CHARS = 1500
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "any",
        "are",
        "as",
        "be",
        "by",
        "consider",
        "for",
        "in",
        "is",
        "of",
        "on",
        "or",
        "s",
        "the",
        "this",
        "to",
        "what",
        "which",
        "with",
        "agreement",
        "contract",
        "inc",
        "corp",
        "corporation",
        "llc",
        "ltd",
        "co",
    ]
)


# "<reference to a document>; <question>" or "<reference>: <question>" — e.g.
# "Consider the Distributor Agreement between A and B; what is the term?" or
# "In the Acme NDA: how long does confidentiality last?"
_REFERENCE = re.compile(
    r"^\s*(?:consider|in|under|regarding|for|about|re)\b.*[;:]\s*(?P<question>[^;:]+)$",
    re.IGNORECASE | re.DOTALL,
)


def split_reference(query: str) -> tuple[str, str]:
    """``(document reference, question)`` of a query shaped like
    "Consider the <agreement> (<parties>); <question>"; otherwise
    ``("", query)``. Once a query is routed to its document, the reference
    words carry no information *within* that document and only pull the
    preamble up, so the in-document search uses the question alone."""
    match = _REFERENCE.match(query)
    if match is None or not match.group("question").strip():
        return "", query
    question = match.group("question").strip()
    return query[: match.start("question")].rstrip().rstrip(";"), question


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOP]


class DocumentRouter:
    """BM25 (k1=1.2, b=0.75) over document openings; see the module docstring."""

    def __init__(self, openings: Mapping[str, str], *, min_ratio: float = 1.5) -> None:
        self.min_ratio = min_ratio
        self._docs = {doc: Counter(_tokens(text)) for doc, text in openings.items()}
        self._lengths = {doc: sum(c.values()) for doc, c in self._docs.items()}
        n = len(self._docs)
        self._avg_len = (sum(self._lengths.values()) / n) if n else 0.0
        df: Counter[str] = Counter(t for c in self._docs.values() for t in c)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[tuple[str, float]]:
        """Every document with its score, best first."""
        terms = set(_tokens(query))
        out: list[tuple[str, float]] = []
        for doc, counts in self._docs.items():
            norm = 1.2 * (0.25 + 0.75 * self._lengths[doc] / (self._avg_len or 1.0))
            score = sum(
                self._idf[t] * counts[t] * 2.2 / (counts[t] + norm) for t in terms if t in counts
            )
            out.append((doc, score))
        out.sort(key=lambda item: (-item[1], item[0]))
        return out

    def route(self, query: str, m: int = 1) -> list[str] | None:
        """The top ``m`` documents if the query clearly names one, else None."""
        ranked = self.scores(query)
        if not ranked or ranked[0][1] <= 0:
            return None
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if runner_up > 0 and ranked[0][1] / runner_up < self.min_ratio:
            return None
        return [doc for doc, _ in ranked[:m]]
