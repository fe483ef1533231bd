"""A worker that lost its job abandons it (in process, real backends).

The catalog's fencing itself (``update_job(worker_id=...)``, ``heartbeat``) is
tested on SQLite and PostgreSQL in ``tests/knowledge_base/test_catalog.py``.
Here the real ``JobExecutor`` runs on a real container (Milvus Lite, SQLite,
MiniLM) with a job that another worker has re-claimed: it must stop at its
next step, write nothing, keep the upload for the new owner, and the new owner
must finish the job as if nothing had happened.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.services.jobs import JobExecutor, JobFence, LoopBeat, _heartbeat_loop
from core.types import DocumentStatus, JobStatus

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NDA_DOCX = REPO / ".." / "shared" / "data" / "docx" / "bonterms-cc0-1.0" / "bonterms-mutual-nda"
NDA_DOCX = NDA_DOCX / "template.docx"
TENANT = "acme"


def _taken_over(catalog: Any, job_id: str) -> tuple[Any, Any]:
    """("slow"'s claim, "fast"'s claim) of the same job: slow's heartbeat went stale."""
    slow = catalog.claim_job("slow")
    assert slow is not None
    assert slow.id == job_id
    time.sleep(0.05)
    fast = catalog.claim_job("fast", stale_after_s=0.01)
    assert fast is not None
    assert fast.id == job_id
    return slow, fast


def test_lost_ingest_job_is_abandoned_then_finished_by_its_new_owner(
    make_container: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    if not NDA_DOCX.is_file():
        pytest.fail(f"test data missing: {NDA_DOCX} (see ../shared/data/README.md)")
    container = make_container()
    catalog = container.catalog
    upload = container.settings.data_dir / "uploads" / TENANT / f"{uuid.uuid4().hex}.docx"
    upload.parent.mkdir(parents=True)
    shutil.copyfile(NDA_DOCX, upload)
    job = catalog.create_job(TENANT, "ingest", {"upload": str(upload), "name": "nda.docx"})
    slow, fast = _taken_over(catalog, job.id)
    executor = JobExecutor(container)

    with caplog.at_level(logging.WARNING, logger="api.services.jobs"):
        assert executor.run(slow) is None
    assert any("jobs.abandoned" in r.getMessage() for r in caplog.records)
    current = catalog.get_job(TENANT, job.id)
    assert (current.status, current.worker_id, current.pages) == (JobStatus.RUNNING, "fast", 0)
    assert upload.is_file(), "the new owner still needs the upload"
    assert catalog.list_documents(TENANT) == []  # stopped at its first step

    done = executor.run(fast)
    assert done is not None
    assert done.status is JobStatus.DONE, done.error
    (doc,) = catalog.list_documents(TENANT)
    assert doc.status is DocumentStatus.READY
    assert (done.document_id, done.chunks) == (doc.id, doc.chunks)
    assert container.store.count(TENANT, doc.id) == doc.chunks
    assert not upload.exists()


def test_lost_summary_job_keeps_the_new_owners_result(
    make_container: Callable[..., Any],
) -> None:
    container = make_container()
    catalog = container.catalog
    job = catalog.create_job(TENANT, "summary", {"document_ids": ["missing-1", "missing-2"]})
    slow, fast = _taken_over(catalog, job.id)
    catalog.update_job(job.id, worker_id="fast", result={"documents": {}, "owner": "fast"})
    executor = JobExecutor(container)

    # The heartbeat thread notices the take-over and raises the flag ...
    fence, stop, beat = JobFence(catalog, slow), threading.Event(), LoopBeat()
    heart = threading.Thread(target=_heartbeat_loop, args=(catalog, fence, 0.01, stop, beat))
    heart.start()
    heart.join(timeout=30)
    assert fence.lost.is_set()
    assert beat.age() is None  # a refused heartbeat is not a sign of life
    # ... and the executor then writes nothing.
    assert executor.run(slow, fence) is None
    # Without the flag, its first write is refused just the same.
    assert executor.run(slow) is None
    current = catalog.get_job(TENANT, job.id)
    assert current.status is JobStatus.RUNNING
    assert current.result == {"documents": {}, "owner": "fast"}

    fence = JobFence(catalog, fast)
    done = executor.run(fast, fence)
    assert done is not None
    assert done.status is JobStatus.DONE
    assert fence.finished.is_set()
    # A heartbeat racing the end of the job is not taken for a loss.
    heart = threading.Thread(target=_heartbeat_loop, args=(catalog, fence, 0.01, stop, beat))
    heart.start()
    heart.join(timeout=30)
    assert not fence.lost.is_set()
    assert set(done.result["failed"]) == {"missing-1", "missing-2"}  # type: ignore[index]
