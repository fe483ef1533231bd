"""The citation graph: document profiles (kind, opinion metadata) and the
citations each document makes, kept in the catalog beside the documents.

Semantics:

- **Tenancy.** Every query filters by tenant in SQL; another tenant's document
  id behaves like a missing one.
- **Visibility.** Only READY documents count: an INDEXING, FAILED or
  SUPERSEDED version's citations are never returned (a new version of a file
  replaces the old one's edges as soon as it is READY).
- **Idempotence.** :meth:`CitationGraph.save` replaces everything stored for
  the document in one transaction; saving the same analysis twice changes
  nothing. Deleting the document removes its rows (``ON DELETE CASCADE``).
- **Edges.** A citation's ``authority`` is the normalised "volume reporter
  page" of the cited case (short forms, ``Id.`` and ``supra`` carry the
  authority they resolve to; statutes their normalised text). An authority
  links to a document when it, or one of its parallel citations, equals one of
  that document's own citations.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import insert, select, update

from core.errors import NotFoundError
from core.types import DocumentStatus
from knowledge_base.catalog_models import documents
from knowledge_base.citation_tables import citation_refs, document_profiles
from knowledge_base.document_rows import DocumentRowsStore

__all__ = [
    "DOCUMENT_KINDS",
    "CitationGraph",
    "CitationRef",
    "DocumentProfile",
    "OpinionPart",
]

log = logging.getLogger(__name__)

DOCUMENT_KINDS = ("opinion", "brief", "contract", "report", "other")


class OpinionPart(BaseModel):
    """Where a part of an opinion begins: ``part`` is syllabus, majority,
    concurrence or dissent; ``label`` what a reader sees ("Dissent (Hickman, J.)")."""

    part: str
    label: str
    page: int
    start: int
    author: str | None = None


class DocumentProfile(BaseModel):
    """What a document is; for an opinion, its metadata as the text states it
    (or, for CAP CASEMETS XML, as the file's own metadata records it).
    ``sources`` names where each field with a value came from: "document
    metadata" or "detected from text"."""

    kind: str = "other"
    kind_source: str = "detected"
    case_name: str | None = None
    court_id: str | None = None
    court_name: str | None = None
    decided: str | None = None
    docket: str | None = None
    author: str | None = None
    judges: list[str] = Field(default_factory=list)
    parties: list[str] = Field(default_factory=list)
    disposition: str | None = None
    own_citations: list[str] = Field(default_factory=list)
    parts: list[OpinionPart] = Field(default_factory=list)
    attorneys: list[str] = Field(default_factory=list)
    sources: dict[str, str] = Field(default_factory=dict)

    def part_at(self, page: int, start: int) -> OpinionPart | None:
        """The part that (page, start) lies in; None before the first or if none."""
        found = None
        for part in self.parts:
            if (part.page, part.start) <= (page, start):
                found = part
        return found


class CitationRef(BaseModel):
    """One citation in a document: ``document.pages[page-1].text[start:end] == text``."""

    form: str  # full, short, id, supra, statute, regulation, journal
    authority: str | None
    parallels: list[str] = Field(default_factory=list)
    page: int
    start: int
    end: int
    text: str
    pin: str | None = None
    parenthetical: str | None = None
    case_name: str | None = None
    year: str | None = None
    treatment: str = "cited"
    sentence: str = ""
    part: str | None = None
    # Filled on reads only:
    document_id: str | None = None
    document: str | None = None
    linked_document_id: str | None = None


def _details(profile: DocumentProfile) -> dict[str, Any]:
    return {
        "judges": profile.judges,
        "parties": profile.parties,
        "parts": [p.model_dump() for p in profile.parts],
        "attorneys": profile.attorneys,
        "sources": profile.sources,
    }


class CitationGraph(DocumentRowsStore):
    """Profiles and citations of one catalog (see the module docstring)."""

    # -- writes ---------------------------------------------------------------
    def save(
        self,
        tenant: str,
        document_id: str,
        profile: DocumentProfile,
        refs: Sequence[CitationRef],
    ) -> None:
        """Replace the document's profile and citations (one transaction)."""
        row = {
            "document_id": document_id,
            "tenant": tenant,
            **profile.model_dump(exclude={"judges", "parties", "parts", "attorneys", "sources"}),
            "details": _details(profile),
        }
        rows = [
            {
                "document_id": document_id,
                "tenant": tenant,
                "ordinal": i,
                **r.model_dump(exclude={"document_id", "document", "linked_document_id"}),
            }
            for i, r in enumerate(refs)
        ]
        with self._tx(f"save the citations of document {document_id}", write=True) as conn:
            self._replace(conn, tenant, document_id, (citation_refs, document_profiles))
            conn.execute(insert(document_profiles).values(**row))
            if rows:
                conn.execute(insert(citation_refs), rows)
        log.info(
            "graph.saved doc=%s tenant=%s kind=%s citations=%d",
            document_id, tenant, profile.kind, len(rows),
        )  # fmt: skip

    def set_kind(self, tenant: str, document_id: str, kind: str) -> None:
        """Override the detected kind (``kind_source`` becomes ``user``)."""
        if kind not in DOCUMENT_KINDS:
            raise ValueError(
                f"unknown document kind {kind!r}: use one of {', '.join(DOCUMENT_KINDS)}"
            )
        stmt = (
            update(document_profiles)
            .where(
                document_profiles.c.tenant == tenant,
                document_profiles.c.document_id == document_id,
            )
            .values(kind=kind, kind_source="user")
        )
        with self._tx(f"set the kind of document {document_id}", write=True) as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFoundError(f"document {document_id} has no profile")

    # -- reads ----------------------------------------------------------------
    @staticmethod
    def _ready(tenant: str) -> Any:
        return (documents.c.tenant == tenant) & (documents.c.status == DocumentStatus.READY.value)

    def profile(self, tenant: str, document_id: str) -> DocumentProfile | None:
        stmt = select(document_profiles).where(
            document_profiles.c.tenant == tenant, document_profiles.c.document_id == document_id
        )
        with self._tx(f"read the profile of document {document_id}") as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _profile(row._mapping)

    def profiles(self, tenant: str) -> dict[str, DocumentProfile]:
        """Profiles of the tenant's READY documents, by document id."""
        stmt = (
            select(document_profiles)
            .join(documents, documents.c.id == document_profiles.c.document_id)
            .where(self._ready(tenant))
        )
        with self._tx("read document profiles") as conn:
            return {r.document_id: _profile(r._mapping) for r in conn.execute(stmt)}

    def own_citation_index(self, tenant: str) -> dict[str, str]:
        """Own citation -> document id over the tenant's READY documents."""
        index: dict[str, str] = {}
        for doc_id, profile in self.profiles(tenant).items():
            for cite in profile.own_citations:
                index.setdefault(cite, doc_id)
        return index

    def _refs(self, tenant: str, *where: Any) -> list[CitationRef]:
        stmt = (
            select(citation_refs, documents.c.name)
            .join(documents, documents.c.id == citation_refs.c.document_id)
            .where(self._ready(tenant), citation_refs.c.tenant == tenant, *where)
            .order_by(documents.c.name, citation_refs.c.ordinal)
        )
        with self._tx("read citations") as conn:
            rows = conn.execute(stmt).all()
        index = self.own_citation_index(tenant)
        refs = []
        for r in rows:
            m = dict(r._mapping)
            ref = CitationRef.model_validate({**m, "document": m["name"]})
            ref.linked_document_id = _link(ref, index)
            refs.append(ref)
        return refs

    def citations(self, tenant: str, document_id: str) -> list[CitationRef]:
        """Every citation the READY document makes, in reading order."""
        self.catalog.get_document(tenant, document_id)  # NotFoundError for others
        return self._refs(tenant, citation_refs.c.document_id == document_id)

    def cited_by(self, tenant: str, authority: str) -> list[CitationRef]:
        """Citations of ``authority`` (or of a case it is a parallel of) in the
        tenant's READY documents, short forms and Id. included."""
        names = self.aliases(tenant, authority)
        return self._refs(tenant, citation_refs.c.authority.in_(sorted(names)))

    def cited_by_name(self, tenant: str, word: str) -> list[CitationRef]:
        """Full citations whose case name contains ``word`` (case-insensitive)."""
        return self._refs(
            tenant,
            citation_refs.c.form == "full",
            citation_refs.c.case_name.ilike(f"%{word}%"),
        )

    def aliases(self, tenant: str, authority: str) -> set[str]:
        """``authority`` with the parallel citations written beside it, and the
        own citations of the document it links to."""
        names = {authority}
        stmt = select(citation_refs.c.authority, citation_refs.c.parallels).where(
            citation_refs.c.tenant == tenant, citation_refs.c.form == "full"
        )
        with self._tx("read parallel citations") as conn:
            for auth, parallels in conn.execute(stmt):
                group = {auth, *(parallels or [])}
                if authority in group:
                    names |= group
        for profile in self.profiles(tenant).values():
            if names & set(profile.own_citations):
                names |= set(profile.own_citations)
        names.discard(None)  # type: ignore[arg-type]
        return names

    def authorities(
        self, tenant: str, *, top: int = 20, court: str | None = None
    ) -> list[dict[str, Any]]:
        """Most-cited case authorities: distinct citing documents per
        authority (parallel citations merged under the first one written)."""
        where = [citation_refs.c.form.in_(["full", "short", "id", "supra"])]
        if court:
            ids = [
                d for d, p in self.profiles(tenant).items() if court in (p.court_id, p.court_name)
            ]
            where.append(citation_refs.c.document_id.in_(ids))
        refs = self._refs(tenant, *where)
        canonical: dict[str, str] = {}  # parallel citation -> the one written first
        for r in refs:
            if r.form == "full" and r.authority:
                key = canonical.setdefault(r.authority, r.authority)
                for alias in r.parallels:
                    canonical.setdefault(alias, key)
        citing: dict[str, set[str]] = defaultdict(set)
        mentions: Counter[str] = Counter()
        sample: dict[str, CitationRef] = {}
        for r in refs:
            if not r.authority:
                continue
            key = canonical.get(r.authority, r.authority)
            citing[key].add(r.document_id or "")
            mentions[key] += 1
            if r.form == "full" and key not in sample:
                sample[key] = r
        ranked = sorted(citing, key=lambda a: (-len(citing[a]), -mentions[a], a))[: max(top, 0)]
        return [
            {
                "authority": a,
                "case_name": sample[a].case_name if a in sample else None,
                "year": sample[a].year if a in sample else None,
                "citing_documents": len(citing[a]),
                "mentions": mentions[a],
                "linked_document_id": sample[a].linked_document_id if a in sample else None,
            }
            for a in ranked
        ]

    def filter_documents(
        self,
        tenant: str,
        *,
        kind: str | None = None,
        court: str | None = None,
        decided_from: str | None = None,
        decided_to: str | None = None,
    ) -> list[str]:
        """Ids of READY documents whose profile matches every given filter
        (court: courts-db id or name, case-insensitive; dates: ISO prefixes,
        inclusive; a document with no date never matches a date filter)."""
        out = []
        for doc_id, p in self.profiles(tenant).items():
            if kind and p.kind != kind:
                continue
            if court and court.lower() not in {
                (p.court_id or "").lower(),
                (p.court_name or "").lower(),
            }:
                continue
            if (decided_from or decided_to) and not p.decided:
                continue
            if decided_from and (p.decided or "") < decided_from:
                continue
            if decided_to and (p.decided or "")[: len(decided_to)] > decided_to:
                continue
            out.append(doc_id)
        return sorted(out)

    def scope(
        self,
        tenant: str,
        document_ids: Sequence[str] | None,
        *,
        kind: str | None = None,
        court: str | None = None,
        decided_from: str | None = None,
        decided_to: str | None = None,
    ) -> list[str] | None:
        """``document_ids`` narrowed by the profile filters (None = no
        restriction when neither ids nor filters are given)."""
        if not (kind or court or decided_from or decided_to):
            return None if document_ids is None else list(document_ids)
        ids = self.filter_documents(
            tenant, kind=kind, court=court, decided_from=decided_from, decided_to=decided_to
        )
        if document_ids is not None:
            ids = sorted(set(ids) & set(document_ids))
        return ids


def _profile(m: Any) -> DocumentProfile:
    details = m["details"] or {}
    keys = set(m.keys())
    data = {k: m[k] for k in DocumentProfile.model_fields if k in keys}
    return DocumentProfile.model_validate({**data, **details})


def _link(ref: CitationRef, index: dict[str, str]) -> str | None:
    for cite in (ref.authority, *ref.parallels):
        if cite and cite in index and index[cite] != ref.document_id:
            return index[cite]
    return None
