"""Job execution, in one place for the API server and ``dossier worker``.

Jobs live in the catalog (``create_job`` → QUEUED). :func:`work_loop` claims
them one at a time with ``catalog.claim_job`` (atomic; PostgreSQL uses
``FOR UPDATE SKIP LOCKED``, so several worker processes can share one catalog),
heartbeats while a job runs and hands it to :meth:`JobExecutor.run`:

- ``ingest``: payload ``{"upload": path, "name": name, "replaces"?: id, "kind"?: kind}`` →
  ``pipeline.ingest_file``;
  the job gets ``document_id``, ``pages``, ``chunks`` (or ``error``) and ends
  DONE or FAILED; the upload file is removed afterwards. Re-running an ingest
  job after a crash is safe: the pipeline is idempotent on sha256.
- ``review``: payload ``{"document_id", "playbook"?}`` → ``result`` = the review report.
- ``summary``: payload ``{"document_ids", "method"?}`` → ``result`` =
  ``{"documents": {id: summary}, "failed": {...}, "progress": {...}, "digest": ...}``;
  each finished document is saved into ``result`` at once, so a job resumed
  after a crash does not redo it.

Timing comes from ``settings.worker``: a job whose heartbeat is older than
``stale_after_s`` is re-claimed by another worker; heartbeats are written every
``heartbeat_s`` (at most a quarter of ``stale_after_s``).

Fencing: every write a worker makes to its job goes through a :class:`JobFence`
(``update_job(..., worker_id=...)``), which writes only while the job is still
RUNNING for that worker. A worker that stalled, lost its job to another worker
and wakes up again learns it from the heartbeat or from its next write
(:class:`~core.errors.JobLostError`): it stops at the next step, logs
``jobs.abandoned``, and neither marks the job done nor removes its upload.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from core.errors import DossierError, JobLostError, NotFoundError
from core.types import JobRecord, JobStatus

__all__ = ["JOB_KINDS", "JobExecutor", "JobFence", "LoopBeat", "work_loop"]

log = logging.getLogger(__name__)

JOB_KINDS = ("ingest", "review", "summary")
#: Flush the index after this many ingest jobs even if the queue is not empty.
FLUSH_EVERY = 10


class LoopBeat:
    """When the worker loop last showed it is alive: each idle poll, each
    claim, and each successful job heartbeat while a job runs (for ``/readyz``)."""

    def __init__(self) -> None:
        self._at: float | None = None

    def beat(self) -> None:
        self._at = time.monotonic()

    def age(self) -> float | None:
        """Seconds since the last beat; None before the first."""
        return None if self._at is None else time.monotonic() - self._at


class JobFence:
    """A worker's hold on one claimed job: every write is conditional on the job
    still being RUNNING for ``job.worker_id``; ``lost`` is set by the heartbeat
    thread (or by a refused write) when another worker has taken the job over;
    ``finished`` once this worker wrote DONE or FAILED."""

    def __init__(self, catalog: Any, job: JobRecord) -> None:
        self.catalog = catalog
        self.job_id = job.id
        self.worker_id = job.worker_id
        self.lost = threading.Event()
        self.finished = threading.Event()

    def check(self) -> None:
        """Raise JobLostError if the job was taken over: stop working on it."""
        if self.lost.is_set():
            raise JobLostError(f"job {self.job_id} was claimed by another worker")

    def update(self, **fields: Any) -> JobRecord:
        self.check()
        try:
            done = self.catalog.update_job(self.job_id, worker_id=self.worker_id, **fields)
        except JobLostError:
            self.lost.set()
            raise
        if done.status in (JobStatus.DONE, JobStatus.FAILED):
            self.finished.set()
        return done


class JobExecutor:
    """Runs one claimed job to DONE or FAILED. ``container`` is an
    ``api.container.Container``; ``metrics`` an optional ``api.metrics.ApiMetrics``;
    ``llm_base_url`` a callable giving the LLM URL for summaries (None: extractive)."""

    def __init__(
        self,
        container: Any,
        *,
        metrics: Any = None,
        llm_base_url: Callable[[], str | None] | None = None,
    ) -> None:
        self.container = container
        self.metrics = metrics
        self.llm_base_url = llm_base_url or (lambda: None)
        self._clause_model: Any = None
        self._lock = threading.Lock()

    @property
    def catalog(self) -> Any:
        return self.container.catalog

    def run(self, job: JobRecord, fence: JobFence | None = None) -> JobRecord | None:
        """Run a job claimed by ``job.worker_id``. None if it was lost to another
        worker on the way (``fence.lost`` set by the heartbeat thread, or a write
        refused): abandoned, the new owner's row untouched."""
        t0 = time.perf_counter()
        fence = fence or JobFence(self.catalog, job)
        try:
            done = self._run(job, fence)
        except JobLostError as exc:
            log.warning("jobs.abandoned job=%s kind=%s worker=%s reason=%s",
                        job.id, job.kind, job.worker_id, exc)  # fmt: skip
            return None
        log.info("jobs.finished job=%s kind=%s status=%s s=%.2f", job.id, job.kind, done.status,
                 time.perf_counter() - t0)  # fmt: skip
        return done

    def _run(self, job: JobRecord, fence: JobFence) -> JobRecord:
        handler = {"ingest": self._ingest, "review": self._review, "summary": self._summary}.get(
            job.kind
        )
        try:
            if handler is None:
                raise DossierError(f"unknown job kind {job.kind!r}")
            fence.check()
            return handler(job, self.catalog.job_payload(job.id), fence)
        except JobLostError:
            raise
        except DossierError as exc:
            log.info("jobs.failed job=%s kind=%s error=%s", job.id, job.kind, type(exc).__name__)
            return fence.update(status=JobStatus.FAILED, error=str(exc))
        except Exception as exc:
            log.exception("jobs.crashed job=%s kind=%s", job.id, job.kind)
            return fence.update(
                status=JobStatus.FAILED, error=f"internal error: {type(exc).__name__}"
            )

    # -- kinds -----------------------------------------------------------------
    def _ingest(self, job: JobRecord, payload: dict[str, Any], fence: JobFence) -> JobRecord:
        from ingest.pipeline import IngestEvent

        upload = Path(payload["upload"])
        name = payload.get("name") or upload.name

        def on_event(event: IngestEvent) -> None:
            if event.stage in ("parsed", "embedded"):
                # Raises JobLostError if the job was taken over: the pipeline
                # stops here and leaves its INDEXING row to the new owner.
                fence.update(pages=event.pages, chunks=event.chunks)

        if not upload.is_file():
            # Already processed before a crash? The document with these bytes
            # may exist; without the file we cannot tell which: fail clearly.
            return fence.update(
                status=JobStatus.FAILED,
                error=f"{name}: the uploaded file is gone (stored uploads were removed)",
            )
        result = self.container.pipeline.ingest_file(
            upload,
            job.tenant,
            name=name,
            replaces=payload.get("replaces"),
            on_event=on_event,
            kind=payload.get("kind"),
        )
        if self.metrics is not None:
            self.metrics.observe_ingest(result.status, result.pages, result.chunks)
        if result.status == "failed":
            done = fence.update(status=JobStatus.FAILED, error=result.error or "ingest failed")
        else:
            done = fence.update(
                status=JobStatus.DONE, document_id=result.document_id,
                pages=result.pages, chunks=result.chunks,
            )  # fmt: skip
        from api.services.uploads import UploadService

        UploadService.remove(upload)  # only after the job row says how it ended
        return done

    def clause_model(self) -> Any:
        with self._lock:
            if self._clause_model is None:
                from tools.clauses import ClauseModel

                self._clause_model = ClauseModel.load()
            return self._clause_model

    def review(
        self, tenant: str, document_id: str, playbook: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The review report of a READY document (also used synchronously by the API)."""
        from tools.clauses import load_playbook, review_stored_document

        book = load_playbook(playbook)
        t0 = time.perf_counter()
        report = asyncio.run(
            review_stored_document(
                self.container.kb, tenant, document_id, model=self.clause_model(), playbook=book
            )
        )
        report.seconds = round(time.perf_counter() - t0, 3)
        return dict(report.to_json())

    def _review(self, job: JobRecord, payload: dict[str, Any], fence: JobFence) -> JobRecord:
        document_id = payload["document_id"]
        fence.update(document_id=document_id)
        result = self.review(job.tenant, document_id, payload.get("playbook"))
        return fence.update(status=JobStatus.DONE, result=result)

    def _summary(self, job: JobRecord, payload: dict[str, Any], fence: JobFence) -> JobRecord:
        from api.services.summaries import SummaryService

        service = SummaryService(self.container.kb, llm_base_url=self.llm_base_url(),
                                 llm_settings=self.container.settings.llm)  # fmt: skip
        ids: list[str] = list(payload["document_ids"])
        method = payload.get("method", "auto")
        result: dict[str, Any] = dict(job.result or {})
        result.setdefault("documents", {})
        result.setdefault("failed", {})
        for doc_id in ids:
            if doc_id in result["documents"]:
                continue  # finished before a restart: not redone
            fence.check()
            try:
                result["documents"][doc_id] = service.summarize_document(
                    job.tenant, doc_id, method=method
                )
                result["failed"].pop(doc_id, None)
            except NotFoundError:
                result["failed"][doc_id] = f"document {doc_id} not found or not ready"
            done_n = len(result["documents"]) + len(result["failed"])
            result["progress"] = {"done": done_n, "total": len(ids)}
            fence.update(result=result)
        ordered = [result["documents"][i] for i in ids if i in result["documents"]]
        result["digest"] = service.digest(ordered)
        result["progress"] = {"done": len(ids), "total": len(ids)}
        return fence.update(status=JobStatus.DONE, result=result)


def _heartbeat_loop(
    catalog: Any, fence: JobFence, period_s: float, stop: threading.Event, beat: LoopBeat
) -> None:
    while not stop.wait(period_s):
        try:
            catalog.heartbeat(fence.job_id, fence.worker_id)
        except NotFoundError:  # JobLostError: not RUNNING for this worker any more
            if fence.finished.is_set() or stop.is_set():
                return  # it just finished here: nothing was lost
            log.warning("jobs.lost job=%s worker=%s: abandoning it at the next step",
                        fence.job_id, fence.worker_id)  # fmt: skip
            fence.lost.set()
            return
        except DossierError:
            log.warning("jobs.heartbeat_failed job=%s", fence.job_id)
        else:
            beat.beat()


def work_loop(
    container: Any,
    worker_id: str,
    kinds: Collection[str] | None,
    stop_event: threading.Event,
    poll_s: float = 1.0,
    *,
    executor: JobExecutor | None = None,
    wake: threading.Event | None = None,
    once: bool = False,
    beat: LoopBeat | None = None,
) -> int:
    """Claim and run jobs until ``stop_event`` is set (or, with ``once``, until
    the queue is empty). ``wake`` (set by the API after queueing a job) cuts the
    idle wait short; ``beat`` records that the loop is alive (worker /readyz).
    Stale timeout and heartbeat period: ``container.settings.worker``.
    Returns the number of jobs run."""
    executor = executor or JobExecutor(container)
    catalog = container.catalog
    timing = container.settings.worker
    beat = beat or LoopBeat()
    kinds = list(kinds) if kinds is not None else None
    ran = 0
    unflushed = 0  # ingest jobs since the last flush
    log.info("jobs.worker_started worker=%s kinds=%s stale_after_s=%s heartbeat_s=%s",
             worker_id, kinds or "all", timing.stale_after_s,
             timing.effective_heartbeat_s)  # fmt: skip
    while not stop_event.is_set():
        beat.beat()
        try:
            job = catalog.claim_job(worker_id, kinds, stale_after_s=timing.stale_after_s)
        except DossierError as exc:
            log.warning("jobs.claim_failed worker=%s error=%s", worker_id, type(exc).__name__)
            job = None
        if job is None:
            if unflushed:
                container.kb.flush()  # the queue is drained: index what was written
                unflushed = 0
            if once:
                break
            if wake is not None:
                wake.wait(poll_s)
                wake.clear()
            else:
                stop_event.wait(poll_s)
            continue
        fence, beat_stop = JobFence(catalog, job), threading.Event()
        heart = threading.Thread(
            target=_heartbeat_loop,
            args=(catalog, fence, timing.effective_heartbeat_s, beat_stop, beat),
            name=f"heartbeat-{job.id[:8]}", daemon=True,
        )  # fmt: skip
        heart.start()
        try:
            executor.run(job, fence)
        finally:
            beat_stop.set()
            heart.join(timeout=5)
        ran += 1
        if job.kind == "ingest":
            unflushed += 1
            if unflushed >= FLUSH_EVERY:  # a long queue: do not wait for it to drain
                container.kb.flush()
                unflushed = 0
    log.info("jobs.worker_stopped worker=%s ran=%d", worker_id, ran)
    return ran
