"""The document catalog: documents, page text, stored originals, the job queue,
API keys and the audit log, in one SQL database.

Semantics every caller may rely on:

- **Tenancy.** Every method that takes a ``tenant`` filters by it inside the
  SQL statement. Another tenant's id behaves exactly like an id that does not
  exist: :class:`~core.errors.NotFoundError`, never a different error.
- **Errors.** Database failures become :class:`~core.errors.KnowledgeBaseError`
  (``raise ... from exc``); messages never contain statement parameters, so
  no document text leaks into logs. Missing rows are ``NotFoundError``.
- **Concurrency.** One :class:`Catalog` may be shared by a web server's worker
  threads, and several processes may open the same SQLite file: SQLite runs in
  WAL mode with a busy timeout and every write transaction starts with
  ``BEGIN IMMEDIATE``; PostgreSQL claims jobs with ``FOR UPDATE SKIP LOCKED``.
- **Time.** All timestamps are timezone-aware UTC.
- **Files.** Originals live at ``files_dir/<tenant>/<sha256>``, written
  atomically (temporary file + ``os.replace``) and shared by every document of
  that tenant with the same bytes.
- **Text.** PostgreSQL cannot store NUL characters in text, so page text is
  stored with ``"\\x00"`` replaced by ``"\\ufffd"`` on every backend (same
  length, so character offsets into the page stay valid).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError

from core.errors import ConfigurationError, KnowledgeBaseError, NotFoundError
from core.types import DocumentRecord, DocumentStatus, Page
from knowledge_base.catalog_jobs import JobQueue
from knowledge_base.catalog_migrations import upgrade_schema
from knowledge_base.catalog_models import (
    KEY_PREFIX,
    ROLES,
    SCHEMA_VERSION,
    ApiKeyRecord,
    AuditEntry,
    api_keys,
    audit_log,
    catalog_meta,
    check_sha256,
    check_tenant,
    clip_error,
    copy_verified,
    create_catalog_engine,
    documents,
    fsync_dir,
    json_object,
    metadata,
    schema_version,
    utcnow,
)
from knowledge_base.catalog_models import pages as pages_t

# Registers the precedent tables (document profiles, citations) on the same
# metadata, so create_all makes them too; rows cascade with their document.
import knowledge_base.citation_tables  # noqa: F401  isort: skip
from knowledge_base import report_tables as _report_tables  # noqa: F401  isort: skip

__all__ = ["ROLES", "ApiKeyRecord", "AuditEntry", "Catalog"]

logger = logging.getLogger(__name__)

#: How long search keeps hiding a superseded version by id (defence in depth:
#: its chunks are deleted before it is marked, see ``unready_document_ids``).
SUPERSEDED_HIDDEN_S = 600

_PEPPER_KEY = "api_key_pepper"
_SCHEMA_LOCK = 0x0D0551E2  # PostgreSQL advisory lock id for table creation


def _document(row: Row[Any]) -> DocumentRecord:
    return DocumentRecord.model_validate(dict(row._mapping))


class Catalog(JobQueue):
    """The SQL side of the knowledge base (see the module docstring for the
    guarantees). ``url`` is a SQLAlchemy URL (``sqlite:///…/catalog.db`` or
    ``postgresql://…``); ``files_dir`` holds the stored originals. Tables are
    created on first use; a database written by a newer schema is refused
    with :class:`~core.errors.ConfigurationError`."""

    def __init__(self, url: str, files_dir: Path) -> None:
        self._engine = create_catalog_engine(url)
        self._dialect = self._engine.dialect.name
        self._where = self._engine.url.render_as_string(hide_password=True)
        self.files_dir = Path(files_dir)
        try:
            self._pepper = self._init_schema()
        except BaseException:
            self._engine.dispose()
            raise

    def close(self) -> None:
        """Close every pooled connection. The catalog must not be used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _tx(self, action: str, *, write: bool = False) -> Iterator[Connection]:
        """One transaction; SQLAlchemy errors become KnowledgeBaseError naming ``action``."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(dossier_write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise KnowledgeBaseError(f"catalog ({self._where}) could not {action}: {exc}") from exc

    def _init_schema(self) -> bytes:
        with self._tx("create its tables", write=True) as conn:
            if self._dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            metadata.create_all(conn)
            version = conn.execute(
                select(schema_version.c.version).where(schema_version.c.id == 1)
            ).scalar_one_or_none()
            if version is None:
                conn.execute(
                    insert(schema_version).values(id=1, version=SCHEMA_VERSION, updated_at=utcnow())
                )
            elif version < SCHEMA_VERSION:
                version = upgrade_schema(conn, version, SCHEMA_VERSION)
                conn.execute(
                    update(schema_version)
                    .where(schema_version.c.id == 1)
                    .values(version=version, updated_at=utcnow())
                )
            if version is not None and version != SCHEMA_VERSION:
                raise ConfigurationError(
                    f"catalog ({self._where}) has schema version {version}; this Dossier "
                    f"reads version {SCHEMA_VERSION}"
                    + (": upgrade Dossier" if version > SCHEMA_VERSION else "")
                )
            pepper = conn.execute(
                select(catalog_meta.c.value).where(catalog_meta.c.key == _PEPPER_KEY)
            ).scalar_one_or_none()
            if pepper is None:
                pepper = secrets.token_hex(32)
                conn.execute(insert(catalog_meta).values(key=_PEPPER_KEY, value=pepper))
        return bytes.fromhex(pepper)

    def _lock_file(self, conn: Connection, tenant: str, sha256: str) -> None:
        """Serialise store_file/delete_document on one stored file. SQLite's
        BEGIN IMMEDIATE already serialises every writer; PostgreSQL takes a
        transaction-scoped advisory lock on (tenant, sha256)."""
        if self._dialect == "postgresql":
            digest = hashlib.sha256(f"{tenant}/{sha256}".encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})

    @staticmethod
    def _doc_row(conn: Connection, tenant: str, document_id: str) -> Row[Any]:
        row = conn.execute(
            select(documents).where(documents.c.tenant == tenant, documents.c.id == document_id)
        ).first()
        if row is None:
            raise NotFoundError(f"document {document_id} not found")
        return row

    # ------------------------------------------------------------------ documents

    @staticmethod
    def _by_sha(tenant: str, sha256: str) -> Any:
        ready_first = case((documents.c.status == DocumentStatus.READY.value, 0), else_=1)
        return (
            select(documents)
            .where(
                documents.c.tenant == tenant,
                documents.c.sha256 == sha256,
                documents.c.status.in_([DocumentStatus.READY, DocumentStatus.INDEXING]),
            )
            .order_by(ready_first, documents.c.version.desc(), documents.c.created_at.desc())
            .limit(1)
        )

    def find_by_sha(self, tenant: str, sha256: str) -> DocumentRecord | None:
        """The tenant's READY (preferred) or INDEXING document with these bytes, else None."""
        with self._tx("look up a document by hash") as conn:
            row = conn.execute(self._by_sha(tenant, sha256)).first()
        return None if row is None else _document(row)

    def latest_by_name(self, tenant: str, name: str) -> DocumentRecord | None:
        """The tenant's highest version of ``name`` in any status but FAILED, else None."""
        stmt = (
            select(documents)
            .where(
                documents.c.tenant == tenant,
                documents.c.name == name,
                documents.c.status != DocumentStatus.FAILED.value,
            )
            .order_by(documents.c.version.desc(), documents.c.created_at.desc())
            .limit(1)
        )
        with self._tx("look up a document by name") as conn:
            row = conn.execute(stmt).first()
        return None if row is None else _document(row)

    def replaced_versions(
        self, tenant: str | None = None, lineage: str | None = None
    ) -> list[DocumentRecord]:
        """READY documents that a READY document of the same tenant and lineage
        with a higher version replaces (of one tenant and/or lineage, or all).
        Normally none: an ingest supersedes the older version right after
        the new one is READY; a crash in between leaves both visible."""
        newer = documents.alias("newer")
        stmt = select(documents).where(
            documents.c.status == DocumentStatus.READY.value,
            select(newer.c.id)
            .where(
                newer.c.tenant == documents.c.tenant,
                newer.c.lineage == documents.c.lineage,
                newer.c.status == DocumentStatus.READY.value,
                newer.c.version > documents.c.version,
            )
            .exists(),
        )
        if tenant is not None:
            stmt = stmt.where(documents.c.tenant == tenant)
        if lineage is not None:
            stmt = stmt.where(documents.c.lineage == lineage)
        with self._tx("list replaced versions") as conn:
            return [_document(r) for r in conn.execute(stmt.order_by(documents.c.version))]

    @staticmethod
    def _new_document(
        tenant: str, name: str, sha256: str, mime: str, version: int, lineage: str | None = None
    ) -> DocumentRecord:
        check_tenant(tenant)
        check_sha256(sha256, name)
        if not name or version < 1:
            raise ValueError(f"invalid document name {name!r} or version {version}")
        now = utcnow()
        doc_id = uuid.uuid4().hex
        return DocumentRecord(
            id=doc_id,
            tenant=tenant,
            name=name,
            sha256=sha256,
            mime=mime,
            version=version,
            lineage=lineage or doc_id,
            status=DocumentStatus.INDEXING,
            created_at=now,
            updated_at=now,
        )

    def create_document(
        self,
        tenant: str,
        name: str,
        sha256: str,
        mime: str,
        version: int = 1,
        *,
        lineage: str | None = None,
    ) -> DocumentRecord:
        """A new INDEXING document (id: uuid4 hex). ``sha256`` is lower-case hex;
        ``lineage`` (default: the new id) is the first version's id."""
        record = self._new_document(tenant, name, sha256, mime, version, lineage)
        with self._tx(f"create document {name!r}", write=True) as conn:
            conn.execute(insert(documents).values(**record.model_dump()))
        logger.debug("catalog.document_created doc=%s tenant=%s", record.id, tenant)
        return record

    def create_or_get_document(
        self,
        tenant: str,
        name: str,
        sha256: str,
        mime: str,
        *,
        replaces: str | None = None,
        source: str | None = None,
    ) -> tuple[DocumentRecord, bool]:
        """A new INDEXING document, unless the tenant already has a READY or
        INDEXING document with these bytes: then that one and ``False`` (nothing
        is written). Check and insert are one transaction serialised per
        (tenant, sha256) — SQLite's write lock, a PostgreSQL advisory lock — so
        two workers ingesting the same bytes at once create one document.

        The new document is the next version of another only when the caller
        says so: ``replaces`` (a document id of the tenant; NotFoundError if
        there is none), or ``source`` (an opaque key of where the bytes came
        from, e.g. a hash of a CLI path) equal to an earlier document's.
        Otherwise it is version 1 of its own lineage, whatever its name."""
        record = self._new_document(tenant, name, sha256, mime, 1)
        with self._tx(f"create document {name!r}", write=True) as conn:
            self._lock_file(conn, tenant, sha256)
            row = conn.execute(self._by_sha(tenant, sha256)).first()
            if row is not None:
                existing = _document(row)
                logger.info(
                    "catalog.document_exists doc=%s tenant=%s status=%s",
                    existing.id, tenant, existing.status.value,
                )  # fmt: skip
                return existing, False
            previous = self._predecessor(conn, tenant, replaces, source)
            if previous is not None:
                lineage = previous.lineage or previous.id
                self._lock_file(conn, tenant, f"lineage:{lineage}")
                latest = conn.execute(
                    select(func.max(documents.c.version)).where(
                        documents.c.tenant == tenant, documents.c.lineage == lineage
                    )
                ).scalar_one()
                record = record.model_copy(
                    update={"lineage": lineage, "version": int(latest or previous.version) + 1}
                )
            conn.execute(insert(documents).values(**record.model_dump(), source=source))
        logger.debug(
            "catalog.document_created doc=%s tenant=%s version=%d",
            record.id,
            tenant,
            record.version,
        )
        return record, True

    def _predecessor(
        self, conn: Connection, tenant: str, replaces: str | None, source: str | None
    ) -> DocumentRecord | None:
        """The document a new one replaces: ``replaces`` itself, else the
        latest non-FAILED document from ``source``, else None."""
        if replaces is not None:
            return _document(self._doc_row(conn, tenant, replaces))
        if source is None:
            return None
        row = conn.execute(
            select(documents)
            .where(
                documents.c.tenant == tenant,
                documents.c.source == source,
                documents.c.status != DocumentStatus.FAILED.value,
            )
            .order_by(documents.c.version.desc(), documents.c.created_at.desc())
            .limit(1)
        ).first()
        return None if row is None else _document(row)

    def _file_target(self, tenant: str, sha256: str) -> Path:
        check_tenant(tenant)
        return self.files_dir / tenant / sha256

    def store_file(self, tenant: str, document_id: str, source: Path) -> Path:
        """Copy ``source`` to ``files_dir/<tenant>/<sha256>`` and return that path.

        The bytes are hashed while copying and must match the document's
        sha256 (else KnowledgeBaseError, nothing stored). The copy goes to a
        temporary file in the same folder and is renamed into place, so a
        reader never sees a partial file. If the file is already there (another
        document with the same bytes), nothing is copied.
        """
        record = self.get_document(tenant, document_id)
        target = self._file_target(tenant, record.sha256)
        tmp: Path | None = None
        try:
            if not target.exists():
                tmp = copy_verified(Path(source), target.parent, record.sha256)
            with self._tx(f"store the file of document {document_id}", write=True) as conn:
                self._lock_file(conn, tenant, record.sha256)
                self._doc_row(conn, tenant, document_id)  # deleted meanwhile -> NotFoundError
                if not target.exists():
                    if tmp is None:  # removed between our check and the lock
                        tmp = copy_verified(Path(source), target.parent, record.sha256)
                    os.replace(tmp, target)
                    tmp = None
                    fsync_dir(target.parent)
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
        return target

    def file_path(self, tenant: str, document_id: str) -> Path:
        """Where the document's original bytes are; NotFoundError if none were stored."""
        record = self.get_document(tenant, document_id)
        target = self._file_target(tenant, record.sha256)
        if not target.is_file():
            raise NotFoundError(f"document {document_id} ({record.name}): no stored original file")
        return target

    def save_pages(self, tenant: str, document_id: str, pages: Sequence[Page]) -> None:
        """Store each page's number, text and OCR flag, replacing any stored before.
        Blocks and sizes are not kept."""
        numbers = [p.number for p in pages]
        if len(set(numbers)) != len(numbers) or any(n < 1 for n in numbers):
            raise ValueError(f"document {document_id}: page numbers must be unique and >= 1")
        rows = [
            {
                "document_id": document_id,
                "number": p.number,
                "text": p.text.replace("\x00", "\ufffd"),
                "ocr": p.ocr,
            }
            for p in pages
        ]
        with self._tx(f"save the pages of document {document_id}", write=True) as conn:
            self._doc_row(conn, tenant, document_id)
            conn.execute(delete(pages_t).where(pages_t.c.document_id == document_id))
            if rows:
                conn.execute(insert(pages_t), rows)

    def page_text(self, tenant: str, document_id: str, page: int) -> str:
        """The text of 1-based ``page``; NotFoundError for a missing document or page."""
        stmt = (
            select(pages_t.c.text)
            .join(documents, documents.c.id == pages_t.c.document_id)
            .where(
                documents.c.tenant == tenant,
                documents.c.id == document_id,
                pages_t.c.number == page,
            )
        )
        with self._tx(f"read page {page} of document {document_id}") as conn:
            found = conn.execute(stmt).scalar_one_or_none()
            if found is None:
                record = self._doc_row(conn, tenant, document_id)
                raise NotFoundError(f"document {document_id} ({record.name}) has no page {page}")
        return str(found)

    def pages(self, tenant: str, document_id: str) -> list[Page]:
        """Every stored page in page order (number, text, ocr; no blocks)."""
        stmt = (
            select(pages_t.c.number, pages_t.c.text, pages_t.c.ocr)
            .join(documents, documents.c.id == pages_t.c.document_id)
            .where(documents.c.tenant == tenant, documents.c.id == document_id)
            .order_by(pages_t.c.number)
        )
        with self._tx(f"read the pages of document {document_id}") as conn:
            rows = conn.execute(stmt).all()
            if not rows:
                self._doc_row(conn, tenant, document_id)
        return [Page(number=r.number, text=r.text, ocr=bool(r.ocr)) for r in rows]

    def _set_document(self, tenant: str, document_id: str, action: str, **values: Any) -> None:
        stmt = (
            update(documents)
            .where(documents.c.tenant == tenant, documents.c.id == document_id)
            .values(updated_at=utcnow(), **values)
        )
        with self._tx(f"{action} document {document_id}", write=True) as conn:
            if conn.execute(stmt).rowcount == 0:
                raise NotFoundError(f"document {document_id} not found")
        logger.debug("catalog.document_%s doc=%s tenant=%s", action, document_id, tenant)

    def mark_ready(self, tenant: str, document_id: str, pages: int, chunks: int) -> None:
        """READY: visible to search, with its page and chunk counts; clears any error."""
        self._set_document(
            tenant,
            document_id,
            "ready",
            status=DocumentStatus.READY.value,
            pages=pages,
            chunks=chunks,
            error=None,
        )

    def mark_failed(self, tenant: str, document_id: str, error: str) -> None:
        """FAILED with ``error`` (clipped to 4000 characters)."""
        self._set_document(
            tenant, document_id, "fail", status=DocumentStatus.FAILED.value, error=clip_error(error)
        )

    def mark_superseded(self, tenant: str, document_id: str) -> None:
        """SUPERSEDED: an older version of a changed file; hidden from search."""
        self._set_document(tenant, document_id, "supersede", status=DocumentStatus.SUPERSEDED.value)

    def get_document(self, tenant: str, document_id: str) -> DocumentRecord:
        with self._tx(f"read document {document_id}") as conn:
            return _document(self._doc_row(conn, tenant, document_id))

    def list_documents(
        self, tenant: str, statuses: Collection[DocumentStatus] | None = None
    ) -> list[DocumentRecord]:
        """The tenant's documents, newest first, optionally only these statuses."""
        stmt = select(documents).where(documents.c.tenant == tenant)
        if statuses is not None:
            stmt = stmt.where(documents.c.status.in_([DocumentStatus(s).value for s in statuses]))
        stmt = stmt.order_by(documents.c.created_at.desc(), documents.c.version.desc())
        with self._tx("list documents") as conn:
            return [_document(r) for r in conn.execute(stmt)]

    def unready_document_ids(self, tenant: str) -> list[str]:
        """Ids of the tenant's INDEXING documents and of those SUPERSEDED in the
        last :data:`SUPERSEDED_HIDDEN_S` seconds: the ones that may still have
        chunks in the store, which search must hide.

        A document is marked SUPERSEDED only after its chunks were deleted
        (the collection is strongly consistent), so older SUPERSEDED rows hold
        nothing and are left out: the store's ``not in`` filter stays as short
        as the ingests in flight, however many versions a tenant uploads.
        FAILED rows never keep chunks either (deleted before failing)."""
        recent = utcnow() - timedelta(seconds=SUPERSEDED_HIDDEN_S)
        stmt = select(documents.c.id).where(
            documents.c.tenant == tenant,
            (documents.c.status == DocumentStatus.INDEXING.value)
            | (
                (documents.c.status == DocumentStatus.SUPERSEDED.value)
                & (documents.c.updated_at >= recent)
            ),
        )
        with self._tx("list unready documents") as conn:
            return list(conn.execute(stmt).scalars())

    def incomplete_documents(self, tenant: str | None = None) -> list[DocumentRecord]:
        """INDEXING documents (of one tenant, or all): leftovers of a crashed ingest."""
        stmt = select(documents).where(documents.c.status == DocumentStatus.INDEXING.value)
        if tenant is not None:
            stmt = stmt.where(documents.c.tenant == tenant)
        with self._tx("list incomplete documents") as conn:
            return [_document(r) for r in conn.execute(stmt.order_by(documents.c.created_at))]

    def delete_document(self, tenant: str, document_id: str) -> None:
        """Delete the row, its pages, and the stored file unless another document
        of the tenant has the same bytes. NotFoundError if it is not there."""
        with self._tx(f"delete document {document_id}", write=True) as conn:
            record = _document(self._doc_row(conn, tenant, document_id))
            self._lock_file(conn, tenant, record.sha256)
            conn.execute(delete(pages_t).where(pages_t.c.document_id == document_id))
            conn.execute(delete(documents).where(documents.c.id == document_id))
            sharing = conn.execute(
                select(func.count())
                .select_from(documents)
                .where(documents.c.tenant == tenant, documents.c.sha256 == record.sha256)
            ).scalar_one()
            if sharing == 0:
                self._file_target(tenant, record.sha256).unlink(missing_ok=True)
        logger.info("catalog.document_deleted doc=%s tenant=%s", document_id, tenant)

    # ------------------------------------------------------------------ API keys

    def _hash_key(self, key: str) -> str:
        return hmac.new(self._pepper, key.encode(), hashlib.sha256).hexdigest()

    def create_api_key(
        self, tenant: str, role: str, name: str | None = None
    ) -> tuple[str, ApiKeyRecord]:
        """A new key for ``tenant`` with ``role`` (admin, member or reader).
        Returns the plaintext key (``dsk_`` + 32 random bytes, URL-safe base64),
        which is not stored and cannot be shown again, and its record."""
        check_tenant(tenant)
        if role not in ROLES:
            raise ValueError(f"invalid role {role!r}: use one of {', '.join(ROLES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = ApiKeyRecord(
            id=uuid.uuid4().hex,
            tenant=tenant,
            role=role,
            name=name,
            prefix=key[:12],
            created_at=utcnow(),
        )
        with self._tx("create an API key", write=True) as conn:
            conn.execute(
                insert(api_keys).values(**record.model_dump(), key_hash=self._hash_key(key))
            )
        logger.info("catalog.api_key_created key=%s tenant=%s role=%s", record.id, tenant, role)
        return key, record

    def verify_api_key(self, key: str) -> ApiKeyRecord | None:
        """The record of a valid key; None if unknown, malformed or revoked."""
        if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 128:
            return None
        digest = self._hash_key(key)
        with self._tx("verify an API key") as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at:
            return None
        return ApiKeyRecord.model_validate(dict(row._mapping))

    def list_api_keys(self, tenant: str | None = None) -> list[ApiKeyRecord]:
        """Keys (of one tenant, or all), oldest first, revoked ones included."""
        stmt = select(*[c for c in api_keys.c if c.name != "key_hash"])
        if tenant is not None:
            stmt = stmt.where(api_keys.c.tenant == tenant)
        with self._tx("list API keys") as conn:
            rows = conn.execute(stmt.order_by(api_keys.c.created_at, api_keys.c.id)).all()
        return [ApiKeyRecord.model_validate(dict(r._mapping)) for r in rows]

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key for good (revoking twice is a no-op). NotFoundError if unknown."""
        with self._tx(f"revoke API key {key_id}", write=True) as conn:
            found = conn.execute(
                select(api_keys.c.revoked_at).where(api_keys.c.id == key_id)
            ).first()
            if found is None:
                raise NotFoundError(f"API key {key_id} not found")
            if found.revoked_at is None:
                conn.execute(
                    update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=utcnow())
                )
        logger.info("catalog.api_key_revoked key=%s", key_id)

    # ------------------------------------------------------------------ audit log

    def audit(self, tenant: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        """Append one audit entry. ``detail`` is a JSON object: ids and counts,
        never document text or keys."""
        values = {
            "tenant": tenant,
            "actor": actor,
            "action": action,
            "detail": json_object(detail, "audit detail"),
            "created_at": utcnow(),
        }
        with self._tx(f"write audit entry {action!r}", write=True) as conn:
            conn.execute(insert(audit_log).values(**values))

    def audit_entries(
        self, tenant: str | None = None, since: datetime | None = None, limit: int = 1000
    ) -> list[AuditEntry]:
        """Entries (of one tenant, or all) at or after ``since`` (aware datetime),
        oldest first, at most ``limit``: page on by passing the last entry's time."""
        stmt = select(audit_log)
        if tenant is not None:
            stmt = stmt.where(audit_log.c.tenant == tenant)
        if since is not None:
            if since.tzinfo is None:
                raise ValueError("audit_entries: since must be timezone-aware")
            stmt = stmt.where(audit_log.c.created_at >= since)
        stmt = stmt.order_by(audit_log.c.created_at, audit_log.c.id).limit(limit)
        with self._tx("read the audit log") as conn:
            return [AuditEntry.model_validate(dict(r._mapping)) for r in conn.execute(stmt)]
