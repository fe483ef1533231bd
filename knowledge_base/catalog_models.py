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

import hashlib
import json
import os
import re
import tempfile
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

from core.errors import ConfigurationError, KnowledgeBaseError

__all__ = [
    "JOB_UPDATABLE",
    "KEY_PREFIX",
    "MAX_ERROR_CHARS",
    "ROLES",
    "SCHEMA_VERSION",
    "ApiKeyRecord",
    "AuditEntry",
    "Role",
    "UTCDateTime",
    "api_keys",
    "audit_log",
    "catalog_meta",
    "check_sha256",
    "check_tenant",
    "clip_error",
    "copy_verified",
    "create_catalog_engine",
    "documents",
    "fsync_dir",
    "jobs",
    "json_object",
    "metadata",
    "pages",
    "schema_version",
    "utcnow",
]

#: Bump when the tables change; :class:`~knowledge_base.catalog.Catalog`
#: refuses a database written by a newer schema and upgrades an older one
#: (:mod:`knowledge_base.catalog_migrations`).
#: 2: ``documents.lineage`` and ``documents.source`` (versions by explicit
#: replacement, not by name).
SCHEMA_VERSION = 2

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
    # The versions of one document share a lineage: the id of its first
    # version. A new document starts its own; it joins another's only when
    # it replaces it explicitly (API ``replaces``) or comes from the same
    # ``source`` (a hash of the absolute path a CLI ingest read; NULL for
    # uploads).
    Column("lineage", String(32), nullable=True),
    Column("source", String(64), nullable=True),
    Index("ix_documents_tenant_sha", "tenant", "sha256"),
    Index("ix_documents_tenant_lineage", "tenant", "lineage", "version"),
    Index("ix_documents_tenant_source", "tenant", "source"),
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
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
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
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(
                    f"cannot create the catalog folder {folder}: {exc.strerror or exc}"
                ) from exc
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


# --------------------------------------------------------------------------- helpers

#: Roles an API key can have, most to least privileged.
ROLES = ("admin", "member", "reader")
#: Every API key starts with this, so leaked keys are easy to scan for.
KEY_PREFIX = "dsk_"
#: The job fields :meth:`Catalog.update_job` may change.
JOB_UPDATABLE = frozenset({"status", "document_id", "pages", "chunks", "error", "result"})
MAX_ERROR_CHARS = 4000

_TENANT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_COPY_BUFFER = 1024 * 1024


def check_tenant(tenant: str) -> None:
    """Tenants name folders under ``files_dir``: 1-64 letters, digits or ``_.-``,
    starting with a letter or digit (so never ``..`` or a path)."""
    if not isinstance(tenant, str) or not _TENANT_RE.fullmatch(tenant):
        raise ValueError(
            f"invalid tenant {tenant!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


def check_sha256(sha256: str, name: str) -> None:
    if not isinstance(sha256, str) or not _SHA256_RE.fullmatch(sha256):
        raise ValueError(f"{name}: sha256 must be 64 lower-case hex digits, got {sha256!r}")


def clip_error(error: str) -> str:
    """An error message cut to :data:`MAX_ERROR_CHARS` characters."""
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


def json_object(value: dict[str, Any], what: str) -> dict[str, Any]:
    """``value`` if it is a dict that serialises to JSON, else TypeError naming ``what``."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a JSON object (dict), not {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} is not JSON-serialisable: {exc}") from exc
    return value


def copy_verified(source: Path, folder: Path, sha256: str) -> Path:
    """Copy ``source`` to a new hidden temporary file in ``folder`` (created if
    needed), fsync it, and check its sha256. Returns the temporary path; the
    caller renames it into place. KnowledgeBaseError names the file on a read
    or write failure or a hash mismatch (the temporary file is removed)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{sha256[:16]}.", suffix=".tmp")
    except OSError as exc:
        raise KnowledgeBaseError(
            f"cannot write to file store {folder}: {exc.strerror or exc}"
        ) from exc
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    try:
        with open(fd, "wb") as out, open(source, "rb") as src:
            while block := src.read(_COPY_BUFFER):
                digest.update(block)
                out.write(block)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise KnowledgeBaseError(f"{source}: cannot copy into the file store: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != sha256:
        tmp.unlink(missing_ok=True)
        raise KnowledgeBaseError(
            f"{source}: content sha256 {digest.hexdigest()} does not match the "
            f"document's {sha256} (file changed since it was hashed?)"
        )
    return tmp


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort; not every OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
