"""Answers about court opinions, in citation form.

A passage of a document of kind ``opinion`` is cited the way a court cites
it: ``Deal v. Huddleston, 288 Ark. 96, 98 (1986)`` (the form and where each
part comes from: :mod:`agent.opinion_cites`). Nothing is guessed: every part
comes from the opinion's profile (read from the text at ingest) or from the
page the quote is on.

:class:`OpinionCitationChecker` adds the ``cite`` to every verified citation
of an opinion; :meth:`OpinionCiter.known` lists the citation-form strings that
:class:`OpinionClaimChecker` takes as facts of the passage (checked against
the profile, not the quote); :func:`cite_opinion_quotes` restates the lead
quotes of an answer in citation form ("In Deal v. Huddleston, 288 Ark. 96, 97
(1986), the Arkansas Supreme Court wrote: ..."; a dissent is "the dissenting
opinion", never the court's holding), each checked like any claim.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pymupdf

from agent.answering import LEAD_QUOTES
from agent.citations import CitationChecker
from agent.claims import MIN_SIMILARITY, Claim, ClaimChecker, Support
from agent.opinion_cites import (
    STAR_PAGE,
    OpinionCite,
    Pinpoint,
    case_short_name,
    court_abbreviation,
    names_court,
    pinpoint,
)
from core.errors import DossierError
from core.types import Citation
from knowledge_base.citation_graph import CitationGraph, DocumentProfile
from knowledge_base.protocols import Embedder
from knowledge_base.service import KnowledgeBase
from tools.retrieval import Evidence, EvidenceLedger

__all__ = [
    "OpinionCitationChecker",
    "OpinionCite",
    "OpinionCiter",
    "OpinionClaimChecker",
    "Pinpoint",
    "case_short_name",
    "cite_opinion_quotes",
    "claim_checker",
    "pinpoint",
]


class OpinionCiter:
    """Citation forms of one tenant's opinions; profiles and pages cached."""

    def __init__(self, kb: KnowledgeBase, tenant: str) -> None:
        self.kb = kb
        self.tenant = tenant
        self._graph = CitationGraph(kb.catalog)
        self._profiles: dict[str, DocumentProfile | None] = {}
        #: Stored page texts by (document, page); as printed by (document, -page).
        self._pages: dict[tuple[str, int], str] = {}
        self._counts: dict[str, int] = {}

    def profile(self, document_id: str) -> DocumentProfile | None:
        """The opinion's profile; None for another kind of document."""
        if document_id not in self._profiles:
            try:
                found = self._graph.profile(self.tenant, document_id)
            except DossierError:
                found = None
            self._profiles[document_id] = found if found and found.kind == "opinion" else None
        return self._profiles[document_id]

    def _page(self, document_id: str, page: int) -> str:
        key = (document_id, page)
        if key not in self._pages:
            try:
                self._pages[key] = self.kb.page_text(self.tenant, document_id, page)
            except DossierError:
                self._pages[key] = ""
        return self._pages[key]

    def _printed(self, document_id: str, page: int) -> tuple[int, str | None]:
        """The file's page count and, for a PDF, ``page`` as printed."""
        if (document_id, -page) not in self._pages:
            count, printed = self._read_printed(document_id, page)
            self._pages[(document_id, -page)] = printed or ""
            self._counts[document_id] = count
        return self._counts[document_id], self._pages[(document_id, -page)] or None

    def _read_printed(self, document_id: str, page: int) -> tuple[int, str | None]:
        try:
            record = self.kb.get_document(self.tenant, document_id)
            if record.mime != "application/pdf":
                return record.pages, None
            with pymupdf.open(self.kb.catalog.file_path(self.tenant, document_id)) as pdf:
                return record.pages, str(pdf[page - 1].get_text())
        except (DossierError, RuntimeError, IndexError, ValueError):
            return 1, None

    def cite(
        self, document_id: str, document: str, page: int, start: int, end: int
    ) -> OpinionCite | None:
        """``page``'s ``[start:end]`` of an opinion in citation form; None if
        the document is not an opinion."""
        profile = self.profile(document_id)
        if profile is None:
            return None
        text, count, printed = self._page(document_id, page), *self._printed(document_id, page)
        own = sorted(profile.own_citations, key=lambda c: not names_court(c))
        chosen, pin = own[0] if own else None, None
        for cite in own:  # the citation the text's page numbers belong to
            found = pinpoint(cite, text, start, end, count, printed)
            if found.first is not None:
                chosen, pin = cite, found
                break
        return OpinionCite(
            case_name=case_short_name(profile.case_name),
            citation=chosen,
            pin=pin or Pinpoint(None, None, "unknown"),
            year=profile.decided[:4] if profile.decided else None,
            court=profile.court_name,
            court_abbreviation=court_abbreviation(profile.court_id) if profile.court_id else None,
            part=profile.part_at(page, start),
            file_page=page,
            document=document,
        )

    def for_evidence(self, item: Evidence, quote: str | None = None) -> OpinionCite | None:
        at = item.quote.find(quote) if quote else -1
        start = item.start + max(at, 0)
        end = start + len(quote) if quote and at >= 0 else item.end
        return self.cite(item.document_id, item.document, item.page, start, end)

    def known(self, item: Evidence) -> list[str]:
        """Citation-form strings a claim may state about ``item`` (for the
        claim check): the whole citation and each of its parts."""
        found = self.for_evidence(item)
        if found is None:
            return []
        # Any page of the passage: the pinpoint of a window inside it may differ.
        out = set(found.known())
        for pin in self._passage_pins(item, found):
            out |= set(pin.known())
        return sorted(out, key=len, reverse=True)

    def _passage_pins(self, item: Evidence, found: OpinionCite) -> list[OpinionCite]:
        if found.pin.source != "star":
            return []
        starts = [item.start, *(item.start + m.end() for m in STAR_PAGE.finditer(item.quote))]
        cites = [self.cite(item.document_id, item.document, item.page, s, s + 1) for s in starts]
        return [c for c in cites if c is not None]

    def quotes_answer(self, ledger: EvidenceLedger, tool_calls: Sequence[dict[str, Any]]) -> bool:
        """With no model: whether the answer is the lead passages quoted in
        citation form (they are opinions, and the question was not the
        citator's: its own evidence answers that)."""
        if any(call.get("name") == "citator" for call in tool_calls):
            return False
        return any(self.profile(i.document_id) is not None for i in ledger.items[:LEAD_QUOTES])

    def lead(self, item: Evidence, quote: str, checker: ClaimChecker) -> Claim | None:
        """The lead claim quoting ``quote`` of opinion passage ``item`` in
        citation form, checked like any claim; None when ``item`` is not an
        opinion or the sentence does not pass the check."""
        found = self.for_evidence(item, quote)
        if found is None:
            return None
        sentence = found.sentence(quote)
        support, _reason = checker.support(sentence, item)
        if support is None:
            return None
        return Claim(sentence, True, [item.n], "quotes the opinion", Support(item, quote, 1.0))


class OpinionCitationChecker(CitationChecker):
    """A :class:`CitationChecker` whose citations of opinions carry ``cite``."""

    def __init__(self, kb: KnowledgeBase, tenant: str) -> None:
        super().__init__(kb, tenant)
        self.opinions = OpinionCiter(kb, tenant)

    def check(self, citation: Citation) -> tuple[Citation, str | None]:
        checked, reason = super().check(citation)
        if citation.start is None or citation.end is None:
            return checked, reason
        found = self.opinions.cite(
            citation.document_id, citation.document, citation.page, citation.start, citation.end
        )
        if found is not None:
            checked = checked.model_copy(update={"cite": found.text})
        return checked, reason


class OpinionClaimChecker(ClaimChecker):
    """A :class:`ClaimChecker` that checks what a sentence says in citation
    form about an opinion passage against the opinion's profile, and the rest
    (the quote, the paraphrase) against the passage, as for any claim.

    The citation-form strings of :meth:`OpinionCiter.known` are taken out of
    the sentence before the passage check: a right case name, citation,
    pinpoint, court and year pass; a wrong year or page stays in the sentence
    and fails the check like any fact the passage does not state."""

    def __init__(
        self, embedder: Embedder, opinions: OpinionCiter, min_similarity: float = MIN_SIMILARITY
    ) -> None:
        super().__init__(embedder, min_similarity)
        self.opinions = opinions

    def support(
        self, sentence: str, item: Evidence, min_similarity: float | None = None
    ) -> tuple[Support | None, str]:
        rest = sentence
        for known in self.opinions.known(item):
            pattern = r"\s+".join(re.escape(w) for w in known.split())
            rest = re.sub(pattern, " ", rest)
        return super().support(" ".join(rest.split()), item, min_similarity)


def claim_checker(embedder: Embedder, citations: CitationChecker) -> ClaimChecker:
    """The turn's claim checker: aware of opinions when ``citations`` is."""
    if isinstance(citations, OpinionCitationChecker):
        return OpinionClaimChecker(embedder, citations.opinions)
    return ClaimChecker(embedder)


def cite_opinion_quotes(
    claims: Sequence[Claim], opinions: OpinionCiter, checker: ClaimChecker
) -> list[Claim]:
    """``claims`` with each lead quote of an opinion passage ("The documents
    say: ...") restated in citation form; others unchanged."""
    out = []
    for claim in claims:
        support = claim.support
        if claim.reason == "quotes the document" and support is not None:
            restated = opinions.lead(support.item, support.quote, checker)
            if restated is not None:
                claim = restated
        out.append(claim)
    return out
