"""A real ``dossier worker`` process runs every job kind and answers its probes.

One worker (all kinds, ``--health-port``) against a ``milvus-lite server``
gRPC endpoint and a SQLite catalog: it must report ready on ``/readyz`` once
warm, run an ingest job, then a review job and a summary job on that
document, with no LLM configured (reviews use the CPU clause model; summaries
fall back to extractive, so no vLLM server is needed), and report unready
(503, naming Milvus) when the vector store goes away while ``/healthz`` stays
200.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from core.types import JobStatus
from knowledge_base.catalog import Catalog
from tests.deploy.conftest import free_port, milvus_server, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
NDA_DOCX = REPO / ".." / "shared" / "data" / "docx" / "bonterms-cc0-1.0" / "bonterms-mutual-nda"
NDA_DOCX = NDA_DOCX / "template.docx"
TENANT = "lawfirm"


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _wait_http(
    url: str, proc: subprocess.Popen[bytes], log: Path, want: int, timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"worker exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            code, body = _get(url)
            if code == want:
                return body
            last = (code, body)
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.5)
    pytest.fail(f"{url} never answered {want} (last: {last}):\n{log.read_text()[-3000:]}")


def _wait_job(catalog: Catalog, job_id: str, log: Path, timeout: float = 600) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = catalog.get_job(TENANT, job_id)
        if job.status in (JobStatus.DONE, JobStatus.FAILED):
            assert job.status is JobStatus.DONE, (
                f"{job.kind}: {job.error}\n{log.read_text()[-3000:]}"
            )
            return job
        time.sleep(0.5)
    pytest.fail(f"job {job_id} not finished in {timeout:.0f}s:\n{log.read_text()[-3000:]}")


def test_worker_runs_review_and_summary_jobs_and_serves_readyz(tmp_path: Path) -> None:
    if not NDA_DOCX.is_file():
        pytest.fail(f"test data missing: {NDA_DOCX} (see ../shared/data/README.md)")
    kb = tmp_path / "kb"
    catalog_url = f"sqlite:///{kb / 'catalog.db'}"
    (tmp_path / "milvus").mkdir()
    with milvus_server(tmp_path / "milvus") as (milvus_uri, milvus_proc):
        catalog = Catalog(catalog_url, kb / "files")
        env = worker_env(kb, TENANT, catalog_url, milvus_uri, f"c_{uuid.uuid4().hex[:10]}")
        port = free_port()
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "api", "worker", "--poll", "0.5", "--stale-after", "30",
                 "--health-port", str(port)],
                env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            assert _wait_http(f"{base}/healthz", proc, log, 200, 120) == {"status": "ok"}
            ready = _wait_http(f"{base}/readyz", proc, log, 200, 300)
            assert ready["status"] == "ready"
            assert (ready["catalog"], ready["milvus"], ready["loop"]) == ("ok", "ok", "ok")
            assert _get(f"{base}/nothing")[0] == 404

            upload = kb / "uploads" / TENANT / f"{uuid.uuid4().hex}.docx"
            upload.parent.mkdir(parents=True)
            shutil.copyfile(NDA_DOCX, upload)
            ingest = catalog.create_job(
                TENANT, "ingest", {"upload": str(upload), "name": "nda.docx"}, "nda.docx"
            )
            doc_id = _wait_job(catalog, ingest.id, log).document_id
            assert doc_id

            review = catalog.create_job(TENANT, "review", {"document_id": doc_id}, "nda.docx")
            summary = catalog.create_job(
                TENANT, "summary", {"document_ids": [doc_id], "method": "auto"}
            )
            reviewed = _wait_job(catalog, review.id, log)
            summarised = _wait_job(catalog, summary.id, log)
            worker_id = f"{socket.gethostname()}:{proc.pid}"
            assert {ingest.id, review.id, summary.id} == {
                j.id for j in catalog.list_jobs(TENANT) if j.worker_id == worker_id
            }

            report = reviewed.result
            assert report is not None
            assert report["document_id"] == doc_id
            assert len(report["findings"]) >= 40  # one per CUAD category
            quoted = [e for f in report["findings"] for e in f["evidence"]]
            assert quoted, "a mutual NDA has clauses to quote"
            for ev in quoted:
                assert (
                    catalog.page_text(TENANT, doc_id, ev["page"])[ev["start"] : ev["end"]]
                    == ev["quote"]
                )

            result = summarised.result
            assert result is not None
            assert result["progress"] == {"done": 1, "total": 1}
            assert result["failed"] == {}
            doc_summary = result["documents"][doc_id]
            assert doc_summary["method"] == "extractive"  # no LLM configured for the worker
            assert doc_summary["citations"]
            for cite in doc_summary["citations"]:
                page = catalog.page_text(TENANT, doc_id, cite["page"])
                assert page[cite["start"] : cite["end"]] == cite["quote"]
            assert result["digest"]

            # The vector store goes away: not ready, but alive.
            milvus_proc.terminate()
            milvus_proc.wait(timeout=30)
            unready = _wait_http(f"{base}/readyz", proc, log, 503, 60)
            assert unready["status"] == "unready"
            assert unready["milvus"].startswith("error")
            assert unready["catalog"] == "ok"
            assert _get(f"{base}/healthz") == (200, {"status": "ok"})
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            catalog.close()
