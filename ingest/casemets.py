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

What :func:`load_casemets_pages` makes of it (the layout is in
:mod:`ingest.casemets_pages`):

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
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers import expat

from core.errors import DocumentParseError, EmptyDocumentError, UnsupportedFormatError
from core.types import Document, Page
from ingest.casemets_pages import METS_NS, casebody_pages, flat_text, local_name, namespace
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

_CAP_NS = "http://nrs.harvard.edu/urn-3:HLS.Libr.US_Case_Law.Schema."
_CASE_NS = _CAP_NS + "Case:"  # + version, "v1"
_BODY_NS = _CAP_NS + "Case_Body:"

_PROFILE_FIELDS = (
    "case_name", "court_id", "court_name", "decided", "docket", "author",
    "judges", "parties", "attorneys", "disposition", "own_citations",
)  # fmt: skip
_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2})?)?")


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


def _find(root: Element, ns_prefix: str, local: str) -> Element | None:
    return next(
        (e for e in root.iter() if local_name(e) == local and namespace(e).startswith(ns_prefix)),
        None,
    )


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
        fields = {local_name(e): e for e in case}
        if "name" in fields:
            name = flat_text(fields["name"])
            out["case_name"] = name or None
            out["parties"] = [
                s.strip(" ,.;") for s in re.split(r"\s+(?:v\.|vs\.?)\s+", name) if s.strip()
            ]
        if "court" in fields:
            raw = flat_text(fields["court"])
            court_id = normalise_court(raw) if raw else None
            known = court_name(court_id) if court_id else None
            out["court_id"] = court_id if known else None
            out["court_name"] = known or raw or None
        if "decisiondate" in fields:
            date = flat_text(fields["decisiondate"])
            out["decided"] = date if _DATE.fullmatch(date) else None
        if "docketnumber" in fields:
            out["docket"] = flat_text(fields["docketnumber"]) or None
        cites = [e for e in case if local_name(e) == "citation"]
        if cites:
            cites.sort(key=lambda e: e.get("category") != "official")
            # CAP joins a category's several citations with "; " (an opinion
            # and its rehearing reported in two S.W.2d volumes).
            each = [c.strip() for e in cites for c in flat_text(e).split(";") if c.strip()]
            found = [normalise_authority(c) or c for c in each]
            out["own_citations"] = list(dict.fromkeys(found))
    opinions = [e for e in casebody.iter() if local_name(e) == "opinion"]
    if opinions:
        majority = next((p for p in parts if p.part == "majority"), None)
        out["author"] = majority.author if majority else None
    judges = [flat_text(e) for e in casebody.iter() if local_name(e) == "judges"]
    authors = [p.author for p in parts if p.author]
    if judges or authors:
        surnames = {a.split(",")[0].split()[-1] for a in authors}
        named = [n for n in _judge_names(judges) if n not in surnames]
        out["judges"] = list(dict.fromkeys([*authors, *named]))
    attorneys = [flat_text(e) for e in casebody.iter() if local_name(e) == "attorneys"]
    if attorneys:
        out["attorneys"] = attorneys
    return out


def load_casemets_pages(path: Path, data: bytes) -> tuple[list[Page], dict[str, str]]:
    """Pages of a CASEMETS file and ``{"title", PROFILE_KEY}`` (see the module
    docstring). Raises UnsupportedFormatError for XML that is not CASEMETS,
    DocumentParseError for malformed XML, EmptyDocumentError for a case
    body without text."""
    root = parse_xml(path, data)
    if namespace(root) != METS_NS or local_name(root) != "mets":
        raise UnsupportedFormatError(
            path,
            f"unsupported format: XML whose root element is <{local_name(root)}>"
            f"{f' (namespace {namespace(root)})' if namespace(root) else ''}; only CAP CASEMETS XML "
            "(METS with a case body) is read",
        )
    casebody = _find(root, _BODY_NS, "casebody")
    if casebody is None:
        raise UnsupportedFormatError(
            path, "unsupported format: METS XML without a CAP casebody (not a CASEMETS case file)"
        )
    case = _find(root, _CASE_NS, "case")
    pages, parts = casebody_pages(root, casebody)
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
