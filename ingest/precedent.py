"""One pass over a parsed document for the precedent layer: its kind, for an
opinion its metadata and parts, and the citations it makes (see
:mod:`ingest.opinions` and :mod:`ingest.citations`)."""

from __future__ import annotations

import logging
import time

from core.errors import DossierError
from core.reports import ReportProfile, ReportTable
from core.types import Document
from ingest.casemets import (
    CASEMETS_MIME,
    PROFILE_KEY,
    casemets_profile,
    load_casemets_pages,
    text_sources,
)
from ingest.citations import extract_citations
from ingest.opinions import detect_kind, opinion_parts, opinion_profile
from ingest.reports import report_profile
from ingest.tables import extract_tables
from knowledge_base.citation_graph import (
    DOCUMENT_KINDS,
    CitationGraph,
    CitationRef,
    DocumentProfile,
)
from knowledge_base.report_tables import ReportStore
from knowledge_base.service import KnowledgeBase

__all__ = ["CITING_KINDS", "analyse_document", "analyse_report", "reanalyse_document"]

log = logging.getLogger(__name__)

#: Kinds whose citations are extracted (contracts and financial reports cite
#: no case law worth the time on a 300-page filing).
CITING_KINDS = ("opinion", "brief", "other")


def analyse_document(
    document: Document, kind: str | None = None
) -> tuple[DocumentProfile, list[CitationRef]]:
    """The document's profile and citations. ``kind`` overrides detection
    (ValueError for an unknown kind). A failure inside the parsers is logged
    and leaves an empty profile: it never fails the ingest."""
    if kind is not None and kind not in DOCUMENT_KINDS:
        raise ValueError(f"unknown document kind {kind!r}: use one of {', '.join(DOCUMENT_KINDS)}")
    t0 = time.perf_counter()
    casemets = PROFILE_KEY in document.metadata  # CAP CASEMETS XML: an opinion, its metadata
    final = kind or ("opinion" if casemets else detect_kind(document))
    try:
        profile = DocumentProfile()
        parts = []
        if final == "opinion":
            found = casemets_profile(document, opinion_profile)
            if found is None:
                found = text_sources(opinion_profile(document, opinion_parts(document.pages)))
            profile, parts = found, found.parts
        refs = extract_citations(document.pages, parts) if final in CITING_KINDS else []
    except Exception as exc:  # a parser bug must not cost the document
        log.warning("ingest.precedent_failed doc=%s error=%s", document.name, type(exc).__name__)
        profile, refs = DocumentProfile(), []
    profile.kind = final
    profile.kind_source = "user" if kind else ("metadata" if casemets else "detected")
    own = set(profile.own_citations)
    refs = [r for r in refs if not (r.form == "full" and r.authority in own)]
    log.info(
        "ingest.precedent doc=%s kind=%s citations=%d ms=%.1f",
        document.name, final, len(refs), (time.perf_counter() - t0) * 1000,
    )  # fmt: skip
    return profile, refs


def analyse_report(document: Document, kind: str) -> tuple[ReportProfile | None, list[ReportTable]]:
    """A report's cover-page profile and every table; other kinds: no
    profile and only their TABLE blocks (ruled PDF tables, DOCX tables), as
    flattened text tables are searched for in reports only. A parser failure
    is logged and leaves nothing: it never fails the ingest."""
    t0 = time.perf_counter()
    try:
        is_report = kind == "report"
        profile = (
            report_profile([p.text for p in document.pages], document.name) if is_report else None
        )
        tables = extract_tables(document.pages, text_tables=is_report)
    except Exception as exc:  # a parser bug must not cost the document
        log.warning("ingest.report_failed doc=%s error=%s", document.name, type(exc).__name__)
        return None, []
    log.info(
        "ingest.report doc=%s kind=%s tables=%d ms=%.1f",
        document.name, kind, len(tables), (time.perf_counter() - t0) * 1000,
    )  # fmt: skip
    return profile, tables


def reanalyse_document(
    kb: KnowledgeBase, tenant: str, document_id: str, kind: str
) -> DocumentProfile:
    """Set a stored document's kind (the user knows better than the cue
    words) and re-read its profile and citations from the stored page text.
    The chunks keep their labels; the profile's parts label them on reads."""
    record = kb.get_document(tenant, document_id)
    document = Document(name=record.name, mime=record.mime, pages=kb.pages(tenant, document_id))
    if record.mime == CASEMETS_MIME:  # its metadata is in the stored original, not the pages
        try:
            path = kb.catalog.file_path(tenant, document_id)
            document.metadata = load_casemets_pages(path, path.read_bytes())[1]
        except (OSError, DossierError) as exc:  # original gone: the text path it is
            log.warning(
                "ingest.casemets_reread_failed doc=%s error=%s", document_id, type(exc).__name__
            )
    profile, refs = analyse_document(document, kind)
    CitationGraph(kb.catalog).save(tenant, document_id, profile, refs)
    ReportStore(kb.catalog).save(tenant, document_id, *analyse_report(document, profile.kind))
    return profile
