"""Answers about court opinions, in citation form.

A passage of a document of kind ``opinion`` is cited the way a court cites
it: ``Deal v. Huddleston, 288 Ark. 96, 98 (1986)``. Every part comes from the
opinion's profile (:class:`~knowledge_base.citation_graph.DocumentProfile`,
read from the text at ingest) or from the page the quote is on; nothing is
guessed:

- **case name**: the profile's, shortened to the first party of each side
  (``John R. DEAL and William T. DEAL v. Martha Deal HUDDLESTON`` ->
  ``Deal v. Huddleston``);
- **reporter citation**: one of the opinion's own citations, the official
  reporter first (a reporter that names its court: ``Ark.``, ``U.S.``);
- **pinpoint**: the reporter page the quote is on (:func:`pinpoint`): from
  star paging in the text (``*97``, ``[*97]``: the page that begins there, as
  CAP, CourtListener and the commercial services mark it), else from the page
  number a reporter print shows in its running head or foot. With neither, no
  pinpoint is given and the citation says where the quote is instead
  ("reporter page not known; page 1 of the file");
- **court**: in the parenthetical only when the reporter does not name the
  court (``702 S.W.2d 404 (Ark. 1986)``, courts-db's citation string); the
  lead sentence names it in full;
- **year**: of the decision date;
- **part**: a quote from a dissent or concurrence carries
  ``(Hickman, J., dissenting)`` and its sentence never says the court held it;
  a headnote is the reporter's, not the court's.

:class:`OpinionCitationChecker` adds the ``cite`` to every verified citation
of an opinion; :meth:`OpinionCiter.known` lists the citation-form strings that
:class:`~agent.claims.ClaimChecker` takes as facts of the passage (checked
against the profile, not the quote); :meth:`OpinionCiter.lead` writes the
lead sentence of an answer quoting an opinion and checks it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pymupdf

from agent.answering import LEAD_QUOTES
from agent.citations import CitationChecker
from agent.claims import MIN_SIMILARITY, Claim, ClaimChecker, Support
from core.errors import DossierError
from core.types import Citation
from knowledge_base.citation_graph import CitationGraph, DocumentProfile, OpinionPart
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

#: Star paging: ``*97`` (not ``**97``, a parallel reporter's page) or ``[*97]``.
_STAR = re.compile(r"\[\*(\d{1,5})\]|(?<![*\w])\*(\d{1,5})\b")
_CITE = re.compile(r"^(\d{1,5}) (.+?) (\d{1,5})$")
#: Reporters whose name says the court (besides courts-db's "state" reporters).
_COURT_REPORTERS = ("U.S.", "S. Ct.", "L. Ed.", "L. Ed. 2d")
#: Lines at the top and bottom of a page searched for its printed number.
_EDGE_LINES = 3
#: A page number alone, or beside a running head in capitals ("18 CRUZ v. ARIZONA").
_RUNNING_HEAD = re.compile(
    r"(\d{1,5})(?:\s+[A-Z][A-Z .,'’&v\-]{2,80})?|[A-Z][A-Z .,'’&v\-]{2,80}\s(\d{1,5})"
)


@dataclass(frozen=True)
class Pinpoint:
    """The reporter pages a quote is on; ``source``: star, header, or unknown."""

    first: int | None
    last: int | None
    source: str

    @property
    def text(self) -> str | None:
        if self.first is None:
            return None
        if self.last is None or self.last == self.first:
            return str(self.first)
        return f"{self.first}–{self.last}"


def _first_page(cite: str) -> int | None:
    m = _CITE.match(cite)
    return int(m.group(3)) if m else None


def _star_pages(text: str, first: int) -> list[tuple[int, int]]:
    """(offset, page) of each star-paging mark after ``first``, pages rising."""
    out: list[tuple[int, int]] = []
    for m in _STAR.finditer(text):
        page = int(m.group(1) or m.group(2))
        last = out[-1][1] if out else first
        if last < page <= last + 2:  # the next page (a blank page may be skipped)
            out.append((m.start(), page))
    return out


def _printed_page(text: str, first: int, limit: int) -> int | None:
    """The page number a reporter print shows in its head or foot."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for line in [*lines[:_EDGE_LINES], *lines[-_EDGE_LINES:]]:
        m = _RUNNING_HEAD.fullmatch(line)
        if m:
            page = int(m.group(1) or m.group(2))
            if first <= page <= first + limit:
                return page
    return None


def pinpoint(
    cite: str, page_text: str, start: int, end: int, pages: int = 1, printed: str | None = None
) -> Pinpoint:
    """The pages of reporter citation ``cite`` that ``page_text[start:end]`` is on.

    ``pages``: how many pages the file has (bounds a printed page number);
    ``printed``: the page as printed, running head and foot included (the
    PDF loader keeps them out of the stored text); default ``page_text``."""
    first = _first_page(cite)
    if first is None:
        return Pinpoint(None, None, "unknown")
    stars = _star_pages(page_text, first)
    if stars:
        before = [p for at, p in stars if at <= start]
        inside = [p for at, p in stars if start < at < end]
        begin = before[-1] if before else first
        return Pinpoint(begin, inside[-1] if inside else begin, "star")
    number = _printed_page(printed or page_text, first, max(pages, 1) + 2)
    if number is not None:
        return Pinpoint(number, number, "header")
    return Pinpoint(None, None, "unknown")


_CAPS = re.compile(r"\b(?:Mc)?[A-Z][A-Z'’]+(?:[- ](?:Mc)?[A-Z][A-Z'’]+\b)*")
#: Bluebook T6 words a short name abbreviates.
_T6 = {"Company": "Co.", "Corporation": "Corp.", "Association": "Ass'n", "And": "&", "Of": "of"}


def _party(side: str) -> str:
    """A side's first party as it is cited: its surname (in capitals in CAP's
    captions) or its full name (a company, the State)."""
    side = re.sub(r",?\s+(?:et al|ET AL|et ux)\.?.*$", "", side)
    relator = re.match(r"State,? use (?:of )?([A-Z][\w'’]+)", side)  # 1860: "State, use of X"
    if relator:
        return f"State ex rel. {relator.group(1)}"
    side = re.split(r"[,;]", side)[0].strip()
    side = re.sub(r"^(?:The|THE)\s+|\s+(?:as|ad\.|ex\.|surv\.|use of)\s.*$", "", side)
    first = re.split(r"\s+and\s+", side)[0]
    if first.isupper():
        found = re.sub(r"^(?:[A-Z]\.\s?)+", "", first)  # "A. L. LOCKHART"
    else:
        caps = _CAPS.search(first) or _CAPS.search(side)
        found = caps.group(0) if caps else first
    return found.strip() or side.strip()


def _title(name: str) -> str:
    if not name.isupper() and not re.search(r"[a-z][A-Z]{2}", name):
        return name
    name = re.sub(r"[A-Za-z][A-Za-z’']*", lambda m: m.group(0).capitalize(), name)
    name = re.sub(r"\bMc([a-z])", lambda m: "Mc" + m.group(1).upper(), name)
    return " ".join(_T6.get(w, w) for w in name.split())


def case_short_name(name: str | None) -> str | None:
    """The first party of each side: 'John R. DEAL and William T. DEAL v. Martha
    Deal HUDDLESTON, Executrix, et al.' -> 'Deal v. Huddleston' (CAP prints the
    parties' surnames in capitals); 'Williams et al. vs. Perkins' -> 'Williams
    v. Perkins'; 'OTIS ELEVATOR COMPANY v. Terry FAULKNER' -> 'Otis Elevator Co.
    v. Faulkner'."""
    if not name:
        return None
    sides = re.split(r"\s+vs?\.\s+", name, maxsplit=1)
    return " v. ".join(_title(_party(side)) for side in sides)


@lru_cache(maxsize=256)
def _reporter(cite: str) -> tuple[str, str] | None:
    """(reporter, cite_type) of a citation, from reporters-db via eyecite."""
    from eyecite import get_citations

    found = get_citations(cite)
    if not found or not found[0].all_editions:
        return None
    edition = found[0].edition_guess or found[0].all_editions[0]
    return edition.reporter.short_name, edition.reporter.cite_type


def _names_court(cite: str) -> bool:
    known = _reporter(cite)
    return known is not None and (known[1] == "state" or known[0] in _COURT_REPORTERS)


@lru_cache(maxsize=256)
def _court_abbreviation(court_id: str) -> str | None:
    from courts_db import find_court_by_id

    found = find_court_by_id(court_id)
    return str(found[0].get("citation_string") or "") or None if found else None


@dataclass(frozen=True)
class OpinionCite:
    """A passage of an opinion in citation form (see the module docstring)."""

    case_name: str | None
    citation: str | None
    pin: Pinpoint
    year: str | None
    court: str | None
    court_abbreviation: str | None
    part: OpinionPart | None
    file_page: int
    document: str

    @property
    def separate(self) -> str | None:
        """'dissenting' / 'concurring' for a separate opinion, else None."""
        kind = self.part.part if self.part else None
        return {"dissent": "dissenting", "concurrence": "concurring"}.get(kind or "")

    @property
    def parenthetical(self) -> str | None:
        """'(Hickman, J., dissenting)' for a separate opinion."""
        if self.separate is None or self.part is None:
            return None
        surname = self.part.author.split()[-1] if self.part.author else None
        who = f"{surname}, J., " if surname else ""
        return f"({who}{self.separate})"

    @property
    def core(self) -> str:
        """'Deal v. Huddleston, 288 Ark. 96, 98 (1986)' from what is known."""
        parts = [p for p in (self.case_name, self.citation) if p]
        text = ", ".join(parts) or self.document
        if self.citation and self.pin.text:
            text += f", {self.pin.text}"
        court = (
            self.court_abbreviation if self.citation and not _names_court(self.citation) else None
        )
        year = " ".join(p for p in (court, self.year) if p)
        return f"{text} ({year})" if year else text

    @property
    def text(self) -> str:
        """The citation as a reader sees it, with the part and, when the
        reporter page is not known, where the quote is instead."""
        out = self.core
        if self.parenthetical:
            out += f" {self.parenthetical}"
        if self.citation and self.pin.first is None:
            out += (
                f" (reporter page not known; quoted from page {self.file_page} of {self.document})"
            )
        elif not self.citation:
            out += f" (no reporter citation in the text; page {self.file_page} of {self.document})"
        return out

    def known(self) -> list[str]:
        """Strings of this citation that are facts of the profile, longest first."""
        items = [self.text, self.core, self.case_name, self.court, self.parenthetical]
        if self.citation:
            items.append(self.citation)
            if self.pin.text:
                items.append(f"{self.citation}, {self.pin.text}")
        if self.year:  # never the bare year: "in 1986 ..." is a claim about the facts
            items.append(f"({self.year})")
        return sorted({i for i in items if i}, key=len, reverse=True)

    def sentence(self, quote: str) -> str:
        """The lead sentence quoting ``quote`` from this passage."""
        shown = " ".join(quote.split())
        kind = self.part.part if self.part else "majority"
        if self.separate:
            return (
                f'In {self.core} {self.parenthetical}, the {self.separate} opinion says: "{shown}"'
            )
        if kind == "syllabus":
            return (
                f'The reporter\'s headnote to {self.core}, not part of the opinion, says: "{shown}"'
            )
        if kind == "caption":
            return f'The caption of {self.core} reads: "{shown}"'
        court = f"the {self.court}" if self.court else "the court"
        court = court.replace("the The ", "the ")
        return f'In {self.core}, {court} wrote: "{shown}"'


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
        own = sorted(profile.own_citations, key=lambda c: not _names_court(c))
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
            court_abbreviation=_court_abbreviation(profile.court_id) if profile.court_id else None,
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
        starts = [item.start, *(item.start + m.end() for m in _STAR.finditer(item.quote))]
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
