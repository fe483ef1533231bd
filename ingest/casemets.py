"""CAP CASEMETS XML: a court opinion with the reporter's own metadata.

The Caselaw Access Project (Harvard Law School Library) publishes its whole
bulk archive of US case law as one METS file per case: a ``case`` record
(court, case name, docket, official and parallel citations, decision date)
and the ``casebody``: parties, judges, attorneys, the reporter's summary and
headnotes, and the opinions typed ``majority``, ``concurrence``, ``dissent``,
``rehearing``, ... each with its ``author``. Every text element carries a
``pgmap``: the physical page it is on, or, for one that runs over a page
break, how many words lie on each page (``"14(130) 15(120)"``; words are split
at whitespace and soft hyphens); the METS ``structMap`` gives each physical
page its printed reporter page number.

What :func:`load_casemets_pages` makes of it:

- **Pages are reporter pages**, in print order. Each page's text begins with
  the reporter's page number on a line of its own (as the print shows it at
  the top of the page; it is no block, so it is never chunked), then the
  page's elements in reading order (by CAP's ``b<page>-<n>`` block ids), one
  paragraph each (whitespace collapsed), separated by blank lines. An element
  that runs over a page break is cut at the word where the next page begins.
- **Parts** (:class:`~knowledge_base.citation_graph.OpinionPart`) come from
  the elements, not from cue phrases: caption elements (parties, court,
  docket, citation, dates, attorneys, judges) -> ``Caption``; the reporter's
  headnotes -> ``Headnotes`` and summary -> ``Summary`` (part ``syllabus``:
  the reporter's, not the court's); each opinion -> ``Opinion of the Court
  (author)``, ``Dissent (author)``, ``Concurrence (author)``, ``Opinion on
  Rehearing (author)``; a partial concurrence and dissent is part ``dissent``.
- **Metadata** is the XML's own (:func:`casemets_profile`): case name, court
  (normalised with courts-db exactly as the text path does), decision date,
  docket, own citations, author, judges, parties, attorneys. A field whose
  element the file lacks is detected from the text instead; the disposition
  always is (CASEMETS has no element for it). ``profile.sources`` says which,
  per field: ``"document metadata"`` or ``"detected from text"``.

The XML is parsed with the standard library's expat, refusing any document
type declaration (so no DTD, no entity definitions, no external entities: no
entity-expansion or XXE attack reaches the parser's tree builder). Anything
that is not CASEMETS is refused with the file's name and the reason.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from core.errors import DocumentParseError, EmptyDocumentError, UnsupportedFormatError
from core.types import Block, Document, Page
from ingest.citations import normalise_authority
from ingest.opinions import court_name, normalise_court
from knowledge_base.citation_graph import DocumentProfile, OpinionPart

__all__ = [
    "CASEMETS_MIME",
    "PROFILE_KEY",
    "SOURCE_METADATA",
    "SOURCE_TEXT",
    "casemets_profile",
    "load_casemets_pages",
    "parse_xml",
    "text_sources",
]

log = logging.getLogger(__name__)

CASEMETS_MIME = "application/mets+xml"
SOURCE_METADATA = "document metadata"
SOURCE_TEXT = "detected from text"
#: The Document.metadata key holding the XML's own profile (JSON).
PROFILE_KEY = "casemets_profile"

METS_NS = "http://www.loc.gov/METS/"
_CAP_NS = "http://nrs.harvard.edu/urn-3:HLS.Libr.US_Case_Law.Schema."
_CASE_NS = _CAP_NS + "Case:"  # + version, "v1"
_BODY_NS = _CAP_NS + "Case_Body:"

_PROFILE_FIELDS = (
    "case_name", "court_id", "court_name", "decided", "docket", "author",
    "judges", "parties", "attorneys", "disposition", "own_citations",
)  # fmt: skip
_WORD = re.compile(r"[^\s\xad]+")
_PGMAP = re.compile(r"(\d+)(?:\((\d+)\))?")
_BLOCK_ID = re.compile(r"b(\d+)-(\d+)")
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")
_CAPTION_TAGS = {"parties", "docketnumber", "court", "citation", "decisiondate", "otherdate",
                 "attorneys", "judges"}  # fmt: skip


class _Refused(Exception):
    """Raised from inside expat to stop at a construct we do not parse."""


# -- safe parsing ---------------------------------------------------------------------
def _qname(name: str) -> str:
    """expat's "uri}local" -> ElementTree's "{uri}local"."""
    return "{" + name if "}" in name else name


def parse_xml(path: Path, data: bytes) -> Element:
    """The XML tree of ``data``. Refuses a document type declaration (DTDs,
    entity definitions, external entities: UnsupportedFormatError) and
    malformed XML (DocumentParseError), naming ``path``."""
    builder = TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*_: object) -> None:
        raise _Refused("XML with a document type declaration (DTD or entities) is refused")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = lambda name, attrs: builder.start(
        _qname(name), {_qname(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_qname(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise UnsupportedFormatError(path, f"unsupported format: {exc}") from exc
    except expat.ExpatError as exc:
        raise DocumentParseError(path, f"not well-formed XML: {exc}") from exc
    return builder.close()


def _ns(el: Element) -> str:
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def _local(el: Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


def _text(el: Element) -> str:
    return " ".join("".join(el.itertext()).split())


def _find(root: Element, ns_prefix: str, local: str) -> Element | None:
    return next(
        (e for e in root.iter() if _local(e) == local and _ns(e).startswith(ns_prefix)), None
    )


# -- pages ----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Part:
    part: str
    label: str
    author: str | None = None


@dataclass
class _Piece:
    """One element's words on one physical page."""

    order: int  # physical page (METS ORDER)
    key: tuple[int, int, int]  # reading order on that page
    text: str
    part: _Part


_SEPARATE = {
    "majority": ("majority", "Opinion of the Court"),
    "rehearing": ("majority", "Opinion on Rehearing"),
    "dissent": ("dissent", "Dissent"),
    "concurrence": ("concurrence", "Concurrence"),
    "concurring-in-part-and-dissenting-in-part": (
        "dissent",
        "Concurrence in Part and Dissent in Part",
    ),
}


def _author(text: str) -> str | None:
    """'Mr. Chief Justice English,' -> 'English'; 'Jack Holt, Jr., Chief
    Justice.' -> 'Jack Holt, Jr.'; 'Per Curiam.' -> None."""
    who = text.strip(" ,.")
    if re.fullmatch(r"(?i)per curiam", who):
        return None
    who = re.sub(r"^(?:Hon\.|Mr\.|Mi\*\.|Judge)\s*", "", who)
    title = r"(?:Special\s+)?(?:Chief\s+)?(?:Justice|Judge)"
    who = re.sub(rf"^{title}\s*", "", who)
    who = re.sub(rf",?\s*{title}\W*$", "", who)
    return who.strip(" ,.") or None


def _opinion_part(opinion: Element) -> _Part:
    kind = (opinion.get("type") or "majority").strip().lower()
    part, label = _SEPARATE.get(kind, ("majority", kind.replace("-", " ").title()))
    found = next((e for e in opinion if _local(e) == "author"), None)
    author = _author(_text(found)) if found is not None else None
    return _Part(part, f"{label} ({author})" if author else label, author)


def _element_part(el: Element) -> _Part:
    tag = _local(el)
    if tag == "headnotes":
        return _Part("syllabus", "Headnotes")
    if tag == "summary":
        return _Part("syllabus", "Summary")
    return _Part("caption", "Caption")


def _blocks(casebody: Element) -> list[tuple[Element, _Part]]:
    """Every element with a ``pgmap``, in document order, with its part."""
    out: list[tuple[Element, _Part]] = []

    def walk(el: Element, part: _Part) -> None:
        for child in el:
            if child.get("pgmap") is not None:
                out.append((child, part))
            else:
                walk(child, _opinion_part(child) if _local(child) == "opinion" else part)

    for child in casebody:
        if child.get("pgmap") is not None:
            out.append((child, _element_part(child)))
        elif _local(child) == "opinion":
            walk(child, _opinion_part(child))
        else:  # a footnote or other container outside the opinions
            walk(child, _Part("caption", "Caption"))
    return out


def _split(text: str, pgmap: str) -> list[tuple[int, str]]:
    """(physical page, text) pieces of one element by its pgmap word counts;
    a page break inside a word moves to the word's start."""
    spans = [(int(p), int(n) if n else None) for p, n in _PGMAP.findall(pgmap)]
    if not spans:
        return []
    words = list(_WORD.finditer(text))
    counts = [n for _, n in spans]
    if len(spans) == 1 or None in counts or sum(counts) != len(words):  # type: ignore[arg-type]
        return [(spans[0][0], text)]
    pieces, start, seen = [], 0, 0
    for page, n in spans[:-1]:
        seen += n or 0
        cut = words[seen].start() if seen < len(words) else len(text)
        while cut > start and not text[cut - 1].isspace():
            cut -= 1
        pieces.append((page, text[start:cut].strip()))
        start = cut
    pieces.append((spans[-1][0], text[start:].strip()))
    return [(p, t) for p, t in pieces if t]


def _page_labels(root: Element) -> dict[int, str]:
    """Physical page (METS ORDER) -> printed page number (ORDERLABEL)."""
    labels = {}
    for div in root.iter(f"{{{METS_NS}}}div"):
        order, label = div.get("ORDER"), div.get("ORDERLABEL")
        if div.get("TYPE") == "page" and order and order.isdigit() and label:
            labels[int(order)] = label.strip()
    return labels


def _pieces(casebody: Element) -> list[_Piece]:
    pieces: list[_Piece] = []
    prev: tuple[int, int, int] | None = None
    for index, (el, part) in enumerate(_blocks(casebody)):
        text = _text(el)
        split = _split(text, el.get("pgmap") or "")
        if not split:
            continue
        first = split[0][0]
        m = _BLOCK_ID.fullmatch(el.get("id") or "")
        if m and int(m.group(1)) == first:
            key = (first, int(m.group(2)), 0)
        elif prev is not None and prev[0] == first:  # an id without a place: after the last
            key = (first, prev[1], prev[2] + 1)
        else:
            key = (first, 1 << 30, index)
        prev = key
        pieces.append(_Piece(first, key, split[0][1], part))
        for page, rest in split[1:]:  # continued at the top of the next pages
            pieces.append(_Piece(page, (page, -1, index), rest, part))
    return sorted(pieces, key=lambda p: p.key)


def _build_pages(
    pieces: list[_Piece], labels: dict[int, str], first_label: str | None
) -> tuple[list[Page], list[OpinionPart]]:
    orders = sorted({p.order for p in pieces})
    pages: list[Page] = []
    parts: list[OpinionPart] = []
    current: _Part | None = None
    for order in orders:
        label = labels.get(order)
        if label is None and first_label and first_label.isdigit():
            label = str(int(first_label) + order - orders[0])
        text = f"{label}\n\n" if label else ""
        blocks = []
        for piece in (p for p in pieces if p.order == order):
            if blocks:
                text += "\n\n"
            start = len(text)
            text += piece.text
            blocks.append(Block(text=piece.text, start=start, end=len(text)))
            if piece.part != current:
                current = piece.part
                parts.append(
                    OpinionPart(
                        part=current.part,
                        label=current.label,
                        page=len(pages) + 1,
                        start=start,
                        author=current.author,
                    )
                )
        pages.append(Page(number=len(pages) + 1, text=text, blocks=blocks))
    return pages, parts


# -- metadata -------------------------------------------------------------------------
def _judge_names(lines: list[str]) -> list[str]:
    """Surnames in CAP's judges lines: 'Hickman, J., dissents.' -> 'Hickman';
    'Absent, Mr. Justice Rector.' -> 'Rector'."""
    names = []
    for line in lines:
        names += re.findall(
            r"\b([A-Z][A-Za-z'’\-]+(?: [A-Z][A-Za-z'’\-]+)?), (?:C\. ?)?JJ?\.", line
        )
        names += re.findall(r"\bJustices? ([A-Z][A-Za-z'’\-]+)", line)
    return names


def _metadata(case: Element | None, casebody: Element, parts: list[OpinionPart]) -> dict[str, Any]:
    """The XML's own fields; a key is absent when its element is."""
    out: dict[str, Any] = {}
    if case is not None:
        fields = {_local(e): e for e in case}
        if "name" in fields:
            name = _text(fields["name"])
            out["case_name"] = name or None
            out["parties"] = [
                s.strip(" ,.;") for s in re.split(r"\s+(?:v\.|vs\.?)\s+", name) if s.strip()
            ]
        if "court" in fields:
            raw = _text(fields["court"])
            court_id = normalise_court(raw) if raw else None
            known = court_name(court_id) if court_id else None
            out["court_id"] = court_id if known else None
            out["court_name"] = known or raw or None
        if "decisiondate" in fields:
            date = _text(fields["decisiondate"])
            out["decided"] = date if _DATE.fullmatch(date) else None
        if "docketnumber" in fields:
            out["docket"] = _text(fields["docketnumber"]) or None
        cites = [e for e in case if _local(e) == "citation"]
        if cites:
            cites.sort(key=lambda e: e.get("category") != "official")
            # CAP joins a category's several citations with "; " (an opinion
            # and its rehearing reported in two S.W.2d volumes).
            each = [c.strip() for e in cites for c in _text(e).split(";") if c.strip()]
            found = [normalise_authority(c) or c for c in each]
            out["own_citations"] = list(dict.fromkeys(found))
    opinions = [e for e in casebody.iter() if _local(e) == "opinion"]
    if opinions:
        majority = next((p for p in parts if p.part == "majority"), None)
        out["author"] = majority.author if majority else None
    judges = [_text(e) for e in casebody.iter() if _local(e) == "judges"]
    authors = [p.author for p in parts if p.author]
    if judges or authors:
        surnames = {a.split(",")[0].split()[-1] for a in authors}
        named = [n for n in _judge_names(judges) if n not in surnames]
        out["judges"] = list(dict.fromkeys([*authors, *named]))
    attorneys = [_text(e) for e in casebody.iter() if _local(e) == "attorneys"]
    if attorneys:
        out["attorneys"] = attorneys
    return out


def load_casemets_pages(path: Path, data: bytes) -> tuple[list[Page], dict[str, str]]:
    """Pages of a CASEMETS file and ``{"title", PROFILE_KEY}`` (see the module
    docstring). Raises UnsupportedFormatError for XML that is not CASEMETS,
    DocumentParseError for malformed XML, EmptyDocumentError for a case
    body without text."""
    root = parse_xml(path, data)
    if _ns(root) != METS_NS or _local(root) != "mets":
        raise UnsupportedFormatError(
            path,
            f"unsupported format: XML whose root element is <{_local(root)}>"
            f"{f' (namespace {_ns(root)})' if _ns(root) else ''}; only CAP CASEMETS XML "
            "(METS with a case body) is read",
        )
    casebody = _find(root, _BODY_NS, "casebody")
    if casebody is None:
        raise UnsupportedFormatError(
            path, "unsupported format: METS XML without a CAP casebody (not a CASEMETS case file)"
        )
    case = _find(root, _CASE_NS, "case")
    pages, parts = _build_pages(_pieces(casebody), _page_labels(root), casebody.get("firstpage"))
    if not any(p.blocks for p in pages):
        raise EmptyDocumentError(path, "the CASEMETS case body has no text")
    meta = _metadata(case, casebody, parts)
    name_el = _find(case, _CASE_NS, "name") if case is not None else None
    title = (name_el.get("abbreviation") if name_el is not None else None) or meta.get("case_name")
    profile = {"parts": [p.model_dump() for p in parts], "fields": meta}
    log.info(
        "ingest.casemets file=%s pages=%d parts=%d fields=%d",
        path.name, len(pages), len(parts), len(meta),
    )  # fmt: skip
    return pages, {"title": title or path.stem, PROFILE_KEY: json.dumps(profile)}


# -- profile --------------------------------------------------------------------------
def text_sources(profile: DocumentProfile) -> DocumentProfile:
    """Mark every field the profile has as detected from the text."""
    profile.sources = {f: SOURCE_TEXT for f in _PROFILE_FIELDS if getattr(profile, f)}
    return profile


def casemets_profile(
    document: Document, detect: Callable[[Document, list[OpinionPart]], DocumentProfile]
) -> DocumentProfile | None:
    """The opinion profile of a CASEMETS document from its XML metadata
    (None for any other document). ``detect`` (the text path's
    ``opinion_profile``) fills the fields the XML has no element for."""
    raw = document.metadata.get(PROFILE_KEY)
    if not raw:
        return None
    stored = json.loads(raw)
    parts = [OpinionPart.model_validate(p) for p in stored["parts"]]
    fields: dict[str, Any] = stored["fields"]
    detected = text_sources(detect(document, parts))
    profile = DocumentProfile(kind="opinion", parts=parts)
    sources = {}
    for field in _PROFILE_FIELDS:
        if field in fields:
            value, source = fields[field], SOURCE_METADATA
        else:
            value, source = getattr(detected, field), SOURCE_TEXT
        setattr(profile, field, value)
        if value:
            sources[field] = source
    profile.sources = sources
    return profile
