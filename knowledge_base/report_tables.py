"""Reports in the catalog: each report's profile (issuer, form, fiscal
period, period end) and its tables, beside the documents.

Like the precedent tables (:mod:`knowledge_base.citation_tables`) they live on
the catalog's metadata, so ``Catalog`` creates them (``create_all`` adds them
to an existing database: no schema-version change) and they reference
``documents.id`` with ``ON DELETE CASCADE``. Every read filters by tenant in
SQL; another tenant's document id behaves like a missing one.
:meth:`ReportStore.save` replaces what is stored for the document in one
transaction, so saving the same analysis twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Column, Index, Integer, String, Table, Text, insert, select

from core.reports import ReportProfile, ReportTable
from knowledge_base.catalog_models import metadata
from knowledge_base.document_rows import JSON_TYPE, DocumentRowsStore, document_fk

__all__ = ["ReportStore", "report_profiles", "report_tables"]

log = logging.getLogger(__name__)

report_profiles = Table(
    "report_profiles",
    metadata,
    document_fk(primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("issuer", String(255), nullable=True),
    Column("form", String(32), nullable=True),
    Column("fiscal_period", String(16), nullable=True),
    Column("period_end", String(10), nullable=True),
    Index("ix_report_profiles_tenant", "tenant"),
)

report_tables = Table(
    "report_tables",
    metadata,
    document_fk(),
    Column("tenant", String(64), nullable=False),
    Column("page", Integer, nullable=False),
    Column("idx", Integer, nullable=False),  # n-th table on the page
    Column("statement", String(32), nullable=True),
    Column("caption", Text, nullable=False),
    Column("data", JSON_TYPE, nullable=False),  # ReportTable.to_json()
    Index("ix_report_tables_document", "document_id", "page", "idx"),
    Index("ix_report_tables_tenant_statement", "tenant", "statement"),
)


class ReportStore(DocumentRowsStore):
    """Report profiles and tables of one catalog (see the module docstring)."""

    def save(
        self,
        tenant: str,
        document_id: str,
        profile: ReportProfile | None,
        tables: Sequence[ReportTable],
    ) -> None:
        """Replace the document's profile (None: none) and tables."""
        rows = [
            {
                "document_id": document_id,
                "tenant": tenant,
                "page": t.page,
                "idx": t.index,
                "statement": t.statement,
                "caption": t.caption,
                "data": t.to_json(),
            }
            for t in tables
        ]
        with self._tx(f"save the tables of document {document_id}", write=True) as conn:
            self._replace(conn, tenant, document_id, (report_tables, report_profiles))
            if profile is not None:
                conn.execute(
                    insert(report_profiles).values(
                        document_id=document_id, tenant=tenant, **profile.to_json()
                    )
                )
            if rows:
                conn.execute(insert(report_tables), rows)
        log.info("reports.saved doc=%s tenant=%s tables=%d", document_id, tenant, len(rows))

    def profile(self, tenant: str, document_id: str) -> ReportProfile | None:
        stmt = select(report_profiles).where(
            report_profiles.c.tenant == tenant, report_profiles.c.document_id == document_id
        )
        with self._tx(f"read the report profile of document {document_id}") as conn:
            row = conn.execute(stmt).first()
        return None if row is None else ReportProfile.from_json(dict(row._mapping))

    def profiles(self, tenant: str) -> dict[str, ReportProfile]:
        """Profiles of the tenant's reports, by document id."""
        stmt = select(report_profiles).where(report_profiles.c.tenant == tenant)
        with self._tx("read report profiles") as conn:
            return {
                r.document_id: ReportProfile.from_json(dict(r._mapping)) for r in conn.execute(stmt)
            }

    def tables(
        self,
        tenant: str,
        document_id: str,
        page: int | None = None,
        statement: str | None = None,
    ) -> list[ReportTable]:
        """The document's tables in page order (only page ``page``, only
        statements of kind ``statement``, when given)."""
        where = [report_tables.c.tenant == tenant, report_tables.c.document_id == document_id]
        if page is not None:
            where.append(report_tables.c.page == page)
        if statement is not None:
            where.append(report_tables.c.statement == statement)
        stmt = (
            select(report_tables.c.data)
            .where(*where)
            .order_by(report_tables.c.page, report_tables.c.idx)
        )
        with self._tx(f"read the tables of document {document_id}") as conn:
            return [ReportTable.from_json(r.data) for r in conn.execute(stmt)]
