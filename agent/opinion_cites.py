"""A passage of a court opinion in citation form.

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

:class:`OpinionCite` holds the parts; :func:`pinpoint` finds the reporter page.
Reading profiles and pages, and the checks, are in :mod:`agent.opinion_answers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from knowledge_base.citation_graph import OpinionPart

__all__ = [
    "STAR_PAGE",
    "OpinionCite",
    "Pinpoint",
    "case_short_name",
    "court_abbreviation",
    "names_court",
    "pinpoint",
]

#: Star paging: ``*97`` (not ``**97``, a parallel reporter's page) or ``[*97]``.
STAR_PAGE = re.compile(r"\[\*(\d{1,5})\]|(?<![*\w])\*(\d{1,5})\b")
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
    for m in STAR_PAGE.finditer(text):
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


def names_court(cite: str) -> bool:
    known = _reporter(cite)
    return known is not None and (known[1] == "state" or known[0] in _COURT_REPORTERS)


@lru_cache(maxsize=256)
def court_abbreviation(court_id: str) -> str | None:
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
            self.court_abbreviation if self.citation and not names_court(self.citation) else None
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
