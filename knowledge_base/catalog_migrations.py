"""Upgrades of an older catalog schema, one step per version, in the
transaction that opens the catalog (so a failed upgrade changes nothing).

- 1 → 2: ``documents.lineage`` and ``documents.source``. Version 1 chained
  versions by name, so each existing document's lineage becomes the id of the
  first version of its (tenant, name): the old chains stay chains, and only
  new uploads follow the new rule (a version only when asked for).
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection, text

from knowledge_base.catalog_models import documents

__all__ = ["upgrade_schema"]

logger = logging.getLogger(__name__)


def _to_2(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE documents ADD COLUMN lineage VARCHAR(32)"))
    conn.execute(text("ALTER TABLE documents ADD COLUMN source VARCHAR(64)"))
    conn.execute(
        text(
            "UPDATE documents SET lineage = ("
            " SELECT d1.id FROM documents AS d1"
            " WHERE d1.tenant = documents.tenant AND d1.name = documents.name"
            " ORDER BY d1.version, d1.created_at, d1.id LIMIT 1)"
        )
    )
    for index in documents.indexes:
        if index.name in {"ix_documents_tenant_lineage", "ix_documents_tenant_source"}:
            index.create(conn, checkfirst=True)


_STEPS = {1: _to_2}


def upgrade_schema(conn: Connection, version: int, target: int) -> int:
    """Run the steps from ``version`` up to ``target``; returns the version
    reached (``version`` itself when no step applies)."""
    while version < target and version in _STEPS:
        logger.info("catalog.schema_upgrade from=%d to=%d", version, version + 1)
        _STEPS[version](conn)
        version += 1
    return version
