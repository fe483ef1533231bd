"""Jobs survive restarts; 20 concurrent streamed asks plus uploads stay isolated."""

from __future__ import annotations

import concurrent.futures as cf
import uuid

import pytest

from tests.e2e.conftest import CUAD_PDF, GAINSCO, NDA_DOCX, ingest, sse_events, upload, wait_job

pytestmark = pytest.mark.slow

OTHER = (
    CUAD_PDF / "PACIFICSYSTEMSCONTROLTECHNOLOGYINC_08_24_2000-EX-10.53-SPONSORSHIP AGREEMENT.PDF"
)


def test_uploads_survive_a_restart_and_running_jobs_resume(serve) -> None:  # type: ignore[no-untyped-def]
    first = serve("kb", worker=False)
    with first.client() as client:
        queued = upload(client, GAINSCO).json()["jobs"][0]["id"]
        running = upload(client, NDA_DOCX).json()["jobs"][0]["id"]
    # A worker claims the second job, then "dies" with the server.
    claimed = first.container.catalog.claim_job("dead-worker", ["ingest"])
    assert claimed is not None
    assert claimed.id == queued
    first.stop()
    first.container.close()

    second = serve("kb")  # same data dir, with its worker
    with second.client() as client:
        done = [wait_job(client, queued), wait_job(client, running)]
        assert [j["status"] for j in done] == ["done", "done"]
        assert len(client.get("/v1/documents").json()) == 2
    assert not [
        p for p in (second.container.settings.data_dir / "uploads").rglob("*") if p.is_file()
    ]


def _ask(srv, tenant: str, question: str) -> tuple[str, str, dict]:  # type: ignore[no-untyped-def,type-arg]
    session = f"{tenant}-{uuid.uuid4().hex[:12]}"
    with (
        srv.client(tenant, "reader") as client,
        client.stream(
            "POST", "/v1/ask", json={"question": question, "session_id": session}
        ) as response,
    ):
        assert response.status_code == 200
        events = sse_events(response)
    assert events[-1][0] == "done", events[-1]
    return tenant, session, events[-1][1]


def test_twenty_concurrent_asks_with_uploads_stay_isolated(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    with srv.client("acme") as a, srv.client("globex") as g:
        docs = {"acme": set(ingest(a, GAINSCO)), "globex": set(ingest(g, OTHER))}
    questions = ["What is the sponsorship fee?", "When does the agreement terminate?",
                 "Which law governs?", "What are the payment terms?", "Who are the parties?"]  # fmt: skip
    with cf.ThreadPoolExecutor(max_workers=22) as pool:
        asks = [
            pool.submit(_ask, srv, ("acme", "globex")[i % 2], questions[i % 5]) for i in range(20)
        ]
        with srv.client("acme") as a:
            uploads = [pool.submit(upload, a, NDA_DOCX)]
            jobs = [u.result(timeout=120) for u in uploads]
        results = [f.result(timeout=600) for f in asks]
    with srv.client("acme") as a:
        job = wait_job(a, jobs[0].json()["jobs"][0]["id"])
        assert job["status"] == "done"
        docs["acme"] |= {d["id"] for d in a.get("/v1/documents").json()}
    assert docs["acme"].isdisjoint(docs["globex"])
    sessions = set()
    for tenant, session, done in results:
        assert done["session_id"] == session  # each stream got its own answer
        sessions.add(session)
        cited = {c["document_id"] for c in done["citations"]}
        assert cited, tenant
        assert cited <= docs[tenant], (tenant, cited)
    assert len(sessions) == 20
    with srv.client("acme", "reader") as r:
        metrics = r.get("/metrics").text
    assert (
        'dossier_http_request_duration_seconds_count{method="POST",route="/v1/ask",status="200"} 20.0'
        in metrics
    )
    assert "dossier_ingest_chunks_total" in metrics
    assert 'dossier_jobs{kind="ingest",status="done"}' in metrics
