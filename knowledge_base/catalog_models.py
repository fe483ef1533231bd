"""Tables, record models and engine set-up of the document catalog.

The catalog is SQLAlchemy Core over SQLite (default, one file) or PostgreSQL
(by URL). Everything dialect-specific lives in :func:`create_catalog_engine`
and in the few ``dialect.name`` checks of :mod:`knowledge_base.catalog`; the
tables themselves are portable.

Timestamps are stored as UTC. On PostgreSQL they are ``timestamptz``; SQLite
has no time-zone type, so :class:`UTCDateTime` stores naive UTC there (fixed
width, so text comparison is time order) and hands back aware UTC values on
both dialects.
"""

from __future__ import annotations

import os
import weakref
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.types import TypeDecorator

from core.errors import ConfigurationError

__all__ = [
    "SCHEMA_VERSION",
    "ApiKeyRecord",
    "AuditEntry",
    "Role",
    "UTCDateTime",
    "api_keys",
    "audit_log",
    "catalog_meta",
    "create_catalog_engine",
    "documents",
    "jobs",
    "metadata",
    "pages",
    "schema_version",
    "utcnow",
]

#: Bump when the tables change; :class:`~knowledge_base.catalog.Catalog`
#: refuses a database written by a newer schema.
SCHEMA_VERSION = 1

#: SQLite waits this long for another writer (thread or process) before
#: failing with "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC ``datetime`` on every dialect; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("catalog timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_Json = JSON().with_variant(JSONB(), "postgresql")

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

#: Install-wide key/value settings (the API-key pepper lives here).
catalog_meta = Table(
    "catalog_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

documents = Table(
    "documents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("mime", String(255), nullable=False),
    Column("pages", Integer, nullable=False, default=0),
    Column("chunks", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False),
    Column("version", Integer, nullable=False, default=1),
    Column("error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_documents_tenant_sha", "tenant", "sha256"),
    Index("ix_documents_tenant_name_version", "tenant", "name", "version"),
    Index("ix_documents_tenant_status", "tenant", "status"),
    Index("ix_documents_tenant_created", "tenant", "created_at"),
)

pages = Table(
    "pages",
    metadata,
    Column(
        "document_id",
        String(32),
        ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("ocr", Boolean, nullable=False, default=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("file_name", String(1024), nullable=True),
    # No foreign key: a job outlives the document it produced (deleted later).
    Column("document_id", String(32), nullable=True),
    Column("pages", Integer, nullable=False, default=0),
    Column("chunks", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("payload", _Json, nullable=False),
    Column("result", _Json, nullable=True),
    Column("worker_id", String(255), nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_jobs_status_created", "status", "created_at"),
    Index("ix_jobs_tenant_created", "tenant", "created_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(255), nullable=True),
    Column("prefix", String(16), nullable=False),
    # HMAC-SHA256(pepper, key), hex. The key itself is never stored.
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_api_keys_tenant", "tenant"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("tenant", String(64), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(64), nullable=False),
    Column("detail", _Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_audit_tenant_created", "tenant", "created_at"),
    Index("ix_audit_created", "created_at"),
)


# --------------------------------------------------------------------------- records

Role = str  # one of ROLES in knowledge_base.catalog: "admin", "member", "reader"


class ApiKeyRecord(BaseModel):
    """An API key as the catalog knows it: never the key, only its ``prefix``
    (``"dsk_"`` and the first characters, for telling keys apart in a list)."""

    id: str
    tenant: str
    role: Role
    name: str | None = None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class AuditEntry(BaseModel):
    """One audit-log line: who (``actor``) did what (``action``) in ``tenant``."""

    id: int
    tenant: str
    actor: str
    action: str
    detail: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime


# --------------------------------------------------------------------------- engine


def _normalise_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"catalog URL is not a database URL: {exc}") from exc
    if parsed.drivername in {"postgresql", "postgres"}:
        # Plain postgresql:// would pick psycopg2, which Dossier does not ship.
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise ConfigurationError(
            f"catalog URL uses {parsed.drivername!r}: only sqlite:/// files and "
            "postgresql:// are supported"
        )
    if backend == "sqlite" and parsed.database in {None, "", ":memory:"}:
        raise ConfigurationError(
            "catalog URL is an in-memory SQLite database: use a file (sqlite:///path/catalog.db) "
            "so that every thread and process sees the same catalog"
        )
    return parsed


def create_catalog_engine(url: str) -> Engine:
    """An engine configured for concurrent use from threads and processes.

    SQLite: WAL journal, a 30 s busy timeout, foreign keys on, and SQLAlchemy
    (not the ``sqlite3`` module) emits ``BEGIN``; a connection whose execution
    options carry ``dossier_write=True`` begins with ``BEGIN IMMEDIATE`` so
    read-modify-write transactions take the write lock up front instead of
    failing to upgrade it later. PostgreSQL: pre-ping for dropped connections.
    Statement parameters are never put into error messages (they can hold
    document text).
    """
    parsed = _normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        if not parsed.database.startswith("file:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            hide_parameters=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    else:
        engine = create_engine(parsed, hide_parameters=True, pool_pre_ping=True)
    _dispose_in_forked_children(engine)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    immediate = conn.get_execution_options().get("dossier_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _dispose_in_forked_children(engine: Engine) -> None:
    """A forked child must not reuse the parent's pooled connections."""
    ref = weakref.ref(engine)

    def _after_fork() -> None:
        child_engine = ref()
        if child_engine is not None:
            child_engine.dispose(close=False)

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork)
