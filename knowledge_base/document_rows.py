"""What the per-document stores beside the catalog share: the precedent layer
(:mod:`knowledge_base.citation_graph`) and the reports' tables
(:mod:`knowledge_base.report_tables`) keep rows that belong to one document.

Such a table references ``documents.id`` with ``ON DELETE CASCADE``
(:func:`document_fk`), so deleting a document removes its rows in the same
transaction; a store replaces a document's rows in one transaction after
checking, in SQL, that the document is the tenant's (:meth:`DocumentRowsStore.
_replace`): another tenant's document id behaves like a missing one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Column, Connection, ForeignKey, String, Table, delete, select
from sqlalchemy.dialects.postgresql import JSONB

from core.errors import NotFoundError
from knowledge_base.catalog_models import documents

if TYPE_CHECKING:  # catalog.py imports the stores' tables to register them
    from knowledge_base.catalog import Catalog

__all__ = ["JSON_TYPE", "DocumentRowsStore", "document_fk"]

#: JSON on SQLite, JSONB on PostgreSQL.
JSON_TYPE = JSON().with_variant(JSONB(), "postgresql")


def document_fk(*, primary_key: bool = False) -> Column[Any]:
    """The ``document_id`` column: the document's rows go when it goes."""
    return Column(
        "document_id",
        String(32),
        ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


class DocumentRowsStore:
    """Base of a store of per-document rows on one catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def _tx(self, action: str, *, write: bool = False) -> Any:
        # Same package: the catalog's transaction helper (error translation,
        # SQLite BEGIN IMMEDIATE for writes) is reused rather than copied.
        return self.catalog._tx(action, write=write)

    @staticmethod
    def _replace(conn: Connection, tenant: str, document_id: str, tables: Iterable[Table]) -> None:
        """Inside a write transaction: raise ``NotFoundError`` unless the
        document is the tenant's, then delete its rows from ``tables``."""
        found = conn.execute(
            select(documents.c.id).where(
                documents.c.tenant == tenant, documents.c.id == document_id
            )
        ).first()
        if found is None:
            raise NotFoundError(f"document {document_id} not found")
        for table in tables:
            conn.execute(delete(table).where(table.c.document_id == document_id))
