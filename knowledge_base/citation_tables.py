"""Catalog tables of the precedent layer: each document's profile (kind and,
for opinions, the opinion's metadata) and every citation it makes.

They live on the catalog's :data:`~knowledge_base.catalog_models.metadata`,
so ``Catalog`` creates them with the others (``create_all`` adds missing
tables to an existing database; no schema-version change). Both reference
``documents.id`` with ``ON DELETE CASCADE`` (SQLite runs with foreign keys
on), so deleting a document removes its profile and its citations in the
same transaction.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from knowledge_base.catalog_models import metadata
from knowledge_base.document_rows import JSON_TYPE, document_fk

__all__ = ["citation_refs", "document_profiles"]

document_profiles = Table(
    "document_profiles",
    metadata,
    document_fk(primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("kind_source", String(16), nullable=False),  # "detected" | "user"
    Column("case_name", Text, nullable=True),
    Column("court_id", String(64), nullable=True),
    Column("court_name", String(255), nullable=True),
    Column("decided", String(10), nullable=True),  # ISO date, or YYYY-MM / YYYY
    Column("docket", String(255), nullable=True),
    Column("author", String(255), nullable=True),
    Column("disposition", String(255), nullable=True),
    Column("own_citations", JSON_TYPE, nullable=False),  # ["288 Ark. 37", ...]
    Column("details", JSON_TYPE, nullable=False),  # judges, parties, parts
    Index("ix_profiles_tenant_kind", "tenant", "kind"),
    Index("ix_profiles_tenant_court", "tenant", "court_id"),
)

citation_refs = Table(
    "citation_refs",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    document_fk(),
    Column("tenant", String(64), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("form", String(16), nullable=False),  # full, short, id, supra, statute, ...
    Column("authority", String(255), nullable=True),  # normalised "volume reporter page"
    Column("parallels", JSON_TYPE, nullable=False),
    Column("page", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("pin", String(64), nullable=True),
    Column("parenthetical", Text, nullable=True),
    Column("case_name", Text, nullable=True),
    Column("year", String(8), nullable=True),
    Column("treatment", String(16), nullable=False),
    Column("sentence", Text, nullable=False),
    Column("part", String(16), nullable=True),
    Index("ix_citation_refs_tenant_authority", "tenant", "authority"),
    Index("ix_citation_refs_document", "document_id"),
)
