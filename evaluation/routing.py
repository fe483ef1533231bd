"""Document routing: send a query that names a contract to that contract.

A prototype for the lead's ``KnowledgeBase.search`` (a proposal, used by
``dossier eval retrieval --route``): legal questions usually name the
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
from collections.abc import Mapping, Sequence
from typing import Protocol

from core.types import DocumentRecord, DocumentStatus, Hit, SearchMode

__all__ = [
    "HEADER_CHARS",
    "DocumentRouter",
    "RoutedKnowledgeBase",
    "build_router",
    "split_reference",
]

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


_REFERENCE = re.compile(r"^\s*consider\b.*;\s*(?P<question>[^;]+)$", re.IGNORECASE | re.DOTALL)


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


class _KnowledgeBase(Protocol):
    def list_documents(self, tenant: str) -> list[DocumentRecord]: ...

    def page_text(self, tenant: str, document_id: str, page: int) -> str: ...

    def search(
        self,
        tenant: str,
        query: str,
        *,
        k: int = 8,
        mode: SearchMode = "hybrid",
        document_ids: Sequence[str] | None = None,
    ) -> list[Hit]: ...


def build_router(kb: _KnowledgeBase, tenant: str, *, min_ratio: float = 1.5) -> DocumentRouter:
    """A router over the tenant's READY documents, keyed by document id."""
    openings: dict[str, str] = {}
    for record in kb.list_documents(tenant):
        if record.status is not DocumentStatus.READY:
            continue
        text = ""
        page = 1
        while len(text) < HEADER_CHARS and page <= max(record.pages, 1):
            text += "\n" + kb.page_text(tenant, record.id, page)
            page += 1
        openings[record.id] = f"{record.name}\n{text[:HEADER_CHARS]}"
    return DocumentRouter(openings, min_ratio=min_ratio)


class RoutedKnowledgeBase:
    """A knowledge base whose ``search`` applies a :class:`DocumentRouter` first.

    Same ``search`` signature as ``KnowledgeBase.search``, so it plugs into
    :func:`evaluation.retrieval.knowledge_base_search`. An explicit
    ``document_ids`` is respected and never re-routed. A routed query is
    searched without its document reference (:func:`split_reference`) when
    ``strip_reference``. ``stats`` counts
    ``routed`` and ``unrouted`` calls.
    """

    def __init__(
        self,
        kb: _KnowledgeBase,
        router: DocumentRouter,
        *,
        m: int = 1,
        strip_reference: bool = True,
    ) -> None:
        self.kb, self.router, self.m = kb, router, m
        self.strip_reference = strip_reference
        self.stats: dict[str, int] = {"routed": 0, "unrouted": 0}

    def search(
        self,
        tenant: str,
        query: str,
        *,
        k: int = 8,
        mode: SearchMode = "hybrid",
        document_ids: Sequence[str] | None = None,
    ) -> list[Hit]:
        if document_ids is not None:
            return self.kb.search(tenant, query, k=k, mode=mode, document_ids=document_ids)
        ids = self.router.route(query, self.m)
        self.stats["routed" if ids is not None else "unrouted"] += 1
        if ids is None:
            return self.kb.search(tenant, query, k=k, mode=mode)
        question = split_reference(query)[1] if self.strip_reference else query
        return self.kb.search(tenant, question, k=k, mode=mode, document_ids=ids)
