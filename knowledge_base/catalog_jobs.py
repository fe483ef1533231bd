"""The job queue half of :class:`~knowledge_base.catalog.Catalog` (a mixin:
it uses the catalog's ``_tx`` transactions and ``_dialect``).

Ownership (fencing): a claimed job belongs to the ``worker_id`` that claimed
it. :meth:`JobQueue.heartbeat` and :meth:`JobQueue.update_job` called with
``worker_id`` only touch the row while it is RUNNING *and* still that worker's;
otherwise they raise :class:`~core.errors.JobLostError` and change nothing. So
a worker that stalled past ``stale_after_s`` and lost its job to another
worker cannot overwrite the new owner's progress or result.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update
from sqlalchemy.engine import Row

from core.errors import JobLostError, NotFoundError
from core.types import JobRecord, JobStatus
from knowledge_base.catalog_models import (
    JOB_UPDATABLE,
    check_tenant,
    clip_error,
    jobs,
    json_object,
    utcnow,
)

__all__ = ["DEFAULT_STALE_AFTER_S", "JobQueue"]

logger = logging.getLogger(__name__)

#: Default for ``claim_job(stale_after_s=...)``; workers pass ``settings.worker``.
DEFAULT_STALE_AFTER_S = 600.0

_JOB_COLUMNS = [jobs.c[name] for name in JobRecord.model_fields if name in jobs.c]


def _job(row: Row[Any]) -> JobRecord:
    return JobRecord.model_validate(dict(row._mapping))


class JobQueue:
    """Jobs: create, read, claim, heartbeat, update (see the module docstring)."""

    _dialect: str

    def _tx(self, action: str, *, write: bool = False) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # provided by Catalog

    def create_job(
        self, tenant: str, kind: str, payload: dict[str, Any], file_name: str | None = None
    ) -> JobRecord:
        """A QUEUED job of ``kind`` ("ingest", "review", "summary", ...) carrying
        the JSON ``payload`` the worker needs (see :meth:`job_payload`)."""
        check_tenant(tenant)
        if not kind or len(kind) > 32:
            raise ValueError(f"invalid job kind {kind!r}")
        now = utcnow()
        job_id = uuid.uuid4().hex
        values = {
            "id": job_id,
            "tenant": tenant,
            "kind": kind,
            "status": JobStatus.QUEUED.value,
            "file_name": file_name,
            "payload": json_object(payload, "job payload"),
            "attempts": 0,
            "pages": 0,
            "chunks": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self._tx(f"create a {kind} job", write=True) as conn:
            conn.execute(insert(jobs).values(**values))
            row = conn.execute(select(*_JOB_COLUMNS).where(jobs.c.id == job_id)).one()
        logger.info("catalog.job_created job=%s kind=%s tenant=%s", job_id, kind, tenant)
        return _job(row)

    def get_job(self, tenant: str, job_id: str) -> JobRecord:
        stmt = select(*_JOB_COLUMNS).where(jobs.c.tenant == tenant, jobs.c.id == job_id)
        with self._tx(f"read job {job_id}") as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return _job(row)

    def job_payload(self, job_id: str) -> dict[str, Any]:
        """The payload given to :meth:`create_job` (for the worker; not tenant-scoped)."""
        with self._tx(f"read job {job_id}") as conn:
            row = conn.execute(select(jobs.c.payload).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found")
        return dict(row.payload)

    def update_job(self, job_id: str, *, worker_id: str | None = None, **fields: Any) -> JobRecord:
        """Change ``status``, ``document_id``, ``pages``, ``chunks``, ``error`` or
        ``result`` (a JSON object) and return the job. DONE/FAILED stamp
        ``finished_at``. Other field names: TypeError. Unknown job: NotFoundError.

        With ``worker_id`` (what a worker must pass) the row changes only while
        the job is RUNNING and claimed by that worker; else
        :class:`~core.errors.JobLostError` and nothing is written."""
        unknown = set(fields) - JOB_UPDATABLE
        if unknown:
            raise TypeError(
                f"update_job cannot set {sorted(unknown)}; allowed: {sorted(JOB_UPDATABLE)}"
            )
        now = utcnow()
        values: dict[str, Any] = {**fields, "updated_at": now}
        if "status" in fields:
            status = JobStatus(fields["status"])
            values["status"] = status.value
            if status in (JobStatus.DONE, JobStatus.FAILED):
                values["finished_at"] = now
        if fields.get("error") is not None:
            values["error"] = clip_error(str(fields["error"]))
        if fields.get("result") is not None:
            json_object(fields["result"], "job result")
        stmt = update(jobs).where(jobs.c.id == job_id)
        if worker_id is not None:
            stmt = stmt.where(
                jobs.c.worker_id == worker_id, jobs.c.status == JobStatus.RUNNING.value
            )
        with self._tx(f"update job {job_id}", write=True) as conn:
            if conn.execute(stmt.values(**values)).rowcount == 0:
                self._raise_missing_or_lost(conn, job_id, worker_id)
            row = conn.execute(select(*_JOB_COLUMNS).where(jobs.c.id == job_id)).one()
        return _job(row)

    @staticmethod
    def _raise_missing_or_lost(conn: Connection, job_id: str, worker_id: str | None) -> None:
        found = conn.execute(
            select(jobs.c.status, jobs.c.worker_id).where(jobs.c.id == job_id)
        ).first()
        if found is None:
            raise NotFoundError(f"job {job_id} not found")
        if worker_id is not None and found.worker_id != worker_id:
            raise JobLostError(
                f"job {job_id} is not running for worker {worker_id}: "
                f"claimed by {found.worker_id or 'nobody'} ({found.status})"
            )
        raise JobLostError(f"job {job_id} is not running ({found.status})")

    def list_jobs(
        self, tenant: str | None = None, statuses: Collection[JobStatus] | None = None
    ) -> list[JobRecord]:
        """Jobs (of one tenant, or all), newest first, optionally only these statuses."""
        stmt = select(*_JOB_COLUMNS)
        if tenant is not None:
            stmt = stmt.where(jobs.c.tenant == tenant)
        if statuses is not None:
            stmt = stmt.where(jobs.c.status.in_([JobStatus(s).value for s in statuses]))
        with self._tx("list jobs") as conn:
            rows = conn.execute(stmt.order_by(jobs.c.created_at.desc(), jobs.c.id)).all()
        return [_job(r) for r in rows]

    def claim_job(
        self,
        worker_id: str,
        kinds: Collection[str] | None = None,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        max_attempts: int = 3,
    ) -> JobRecord | None:
        """Atomically give ``worker_id`` the oldest claimable job, now RUNNING, or None.

        Claimable: QUEUED, or RUNNING with a heartbeat older than
        ``stale_after_s`` (its worker died; workers take it from
        ``settings.worker.stale_after_s``). A stale job already claimed
        ``max_attempts`` times is marked FAILED instead (it keeps killing
        workers). No job is ever handed to two live claimers: PostgreSQL locks
        the row with ``FOR UPDATE SKIP LOCKED``; SQLite holds the write lock
        (``BEGIN IMMEDIATE``) across the select and the conditional update.
        """
        now = utcnow()
        stale = and_(
            jobs.c.status == JobStatus.RUNNING.value,
            or_(
                jobs.c.heartbeat_at.is_(None),
                jobs.c.heartbeat_at < now - timedelta(seconds=stale_after_s),
            ),
        )
        claimable = or_(jobs.c.status == JobStatus.QUEUED.value, stale)
        if kinds is not None:
            claimable = and_(claimable, jobs.c.kind.in_(list(kinds)))
        pick = (
            select(jobs.c.id, jobs.c.status, jobs.c.attempts)
            .where(claimable)
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(1)
        )
        if self._dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        with self._tx("claim a job", write=True) as conn:
            while (candidate := conn.execute(pick).first()) is not None:
                if (
                    candidate.status == JobStatus.RUNNING.value
                    and candidate.attempts >= max_attempts
                ):
                    conn.execute(
                        update(jobs)
                        .where(jobs.c.id == candidate.id)
                        .values(
                            status=JobStatus.FAILED.value,
                            finished_at=now,
                            updated_at=now,
                            error=f"abandoned: its worker stopped responding {candidate.attempts} times",
                        )
                    )
                    logger.warning(
                        "catalog.job_abandoned job=%s attempts=%d", candidate.id, candidate.attempts
                    )
                    continue
                claimed = conn.execute(
                    update(jobs)
                    .where(jobs.c.id == candidate.id, claimable)
                    .values(
                        status=JobStatus.RUNNING.value,
                        worker_id=worker_id,
                        attempts=jobs.c.attempts + 1,
                        heartbeat_at=now,
                        started_at=now,
                        updated_at=now,
                    )
                )
                if claimed.rowcount != 1:  # cannot happen under the lock; be safe
                    return None
                row = conn.execute(select(*_JOB_COLUMNS).where(jobs.c.id == candidate.id)).one()
                job = _job(row)
                break
            else:
                return None
        if candidate.status == JobStatus.RUNNING.value:
            logger.warning("catalog.job_reclaimed job=%s worker=%s", job.id, worker_id)
        logger.info("catalog.job_claimed job=%s kind=%s worker=%s", job.id, job.kind, worker_id)
        return job

    def heartbeat(self, job_id: str, worker_id: str | None = None) -> None:
        """Record that the job's worker is alive. :class:`~core.errors.JobLostError`
        (a NotFoundError) if the job is not RUNNING (or, with ``worker_id``, no
        longer this worker's): stop working on it; NotFoundError if unknown."""
        stmt = update(jobs).where(jobs.c.id == job_id, jobs.c.status == JobStatus.RUNNING.value)
        if worker_id is not None:
            stmt = stmt.where(jobs.c.worker_id == worker_id)
        with self._tx(f"heartbeat job {job_id}", write=True) as conn:
            if conn.execute(stmt.values(heartbeat_at=utcnow())).rowcount == 0:
                self._raise_missing_or_lost(conn, job_id, worker_id)

    def live_job_tenants(self, fresh_within_s: float, kind: str = "ingest") -> set[str]:
        """Tenants with a RUNNING ``kind`` job whose heartbeat is at most
        ``fresh_within_s`` old: a live worker may be indexing for them now."""
        since = utcnow() - timedelta(seconds=fresh_within_s)
        stmt = (
            select(jobs.c.tenant)
            .distinct()
            .where(
                jobs.c.status == JobStatus.RUNNING.value,
                jobs.c.kind == kind,
                jobs.c.heartbeat_at >= since,
            )
        )
        with self._tx("list live jobs") as conn:
            return set(conn.execute(stmt).scalars())

    def requeue_running_jobs(self) -> int:
        """RUNNING -> QUEUED for every job (single-process start-up after a crash).
        Returns how many. Do not call while other workers share the catalog."""
        stmt = (
            update(jobs)
            .where(jobs.c.status == JobStatus.RUNNING.value)
            .values(
                status=JobStatus.QUEUED.value,
                worker_id=None,
                heartbeat_at=None,
                updated_at=utcnow(),
            )
        )
        with self._tx("requeue running jobs", write=True) as conn:
            count = conn.execute(stmt).rowcount
        if count:
            logger.warning("catalog.jobs_requeued count=%d", count)
        return count
