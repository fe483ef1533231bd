"""Documents over real HTTP: upload → job → read → delete, auth and tenancy."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import GAINSCO, NDA_DOCX, ingest, sse_events, upload, wait_job

pytestmark = pytest.mark.slow


def test_upload_read_delete_roundtrip(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    with srv.client("acme", "member") as client:
        response = upload(client, GAINSCO)
        assert response.status_code == 202, response.text
        (job,) = response.json()["jobs"]
        assert job["status"] == "queued"
        assert job["name"] == GAINSCO.name
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
            events = sse_events(stream)
        assert events[-1][0] == "done"
        done = wait_job(client, job["id"])
        assert done["status"] == "done"
        assert done["pages"] > 0
        assert done["chunks"] > 0
        doc_id = done["document_id"]

        docs = client.get("/v1/documents").json()
        assert [d["id"] for d in docs] == [doc_id]
        assert client.get(f"/v1/documents/{doc_id}").json()["status"] == "ready"
        original = client.get(f"/v1/documents/{doc_id}/file")
        assert original.status_code == 200
        assert original.content == GAINSCO.read_bytes()
        page = client.get(f"/v1/documents/{doc_id}/pages/1").json()
        assert page["page"] == 1
        assert len(page["text"]) > 100
        png = client.get(f"/v1/documents/{doc_id}/pages/1", params={"format": "png"})
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        missing = client.get(f"/v1/documents/{doc_id}/pages/999")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")

        hits = client.post("/v1/search", json={"query": "sponsorship fee", "k": 3}).json()
        assert hits
        assert hits[0]["document_id"] == doc_id
        assert {"page", "text", "score"} <= set(hits[0])

        # Same bytes again: the job ends done with the same document (unchanged).
        again = ingest(client, GAINSCO)
        assert again == [doc_id]

        # Another tenant never sees it: 404, not 403, everywhere.
        with srv.client("globex", "admin") as other:
            for path in (f"/v1/documents/{doc_id}", f"/v1/documents/{doc_id}/file",
                         f"/v1/documents/{doc_id}/pages/1", f"/v1/jobs/{job['id']}"):  # fmt: skip
                assert other.get(path).status_code == 404, path
            assert other.delete(f"/v1/documents/{doc_id}").status_code == 404
            assert other.get("/v1/documents").json() == []
            assert other.post("/v1/search", json={"query": "sponsorship fee"}).json() == []

        assert client.delete(f"/v1/documents/{doc_id}").status_code == 204
        assert client.get(f"/v1/documents/{doc_id}").status_code == 404
        assert client.post("/v1/search", json={"query": "sponsorship fee"}).json() == []
        assert srv.container.store.count("acme") == 0


def test_several_files_in_one_request(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    with srv.client() as client:
        ids = ingest(client, GAINSCO, NDA_DOCX)
        assert len(set(ids)) == 2, (ids, client.get("/v1/documents").json())
        names = {d["name"] for d in client.get("/v1/documents").json()}
        assert names == {GAINSCO.name, NDA_DOCX.name}
