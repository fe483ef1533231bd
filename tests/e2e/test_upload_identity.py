"""Who a document is, over HTTP: same-named uploads stay separate documents
unless ``replaces`` says otherwise; names lose invisible (bidi, zero-width)
characters; a failed job names the file as it was uploaded."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import wait_job

pytestmark = pytest.mark.slow

TEXT = "1. Term. This agreement lasts two years.\n\n2. Law. {law} law governs this agreement.\n"


def _post(client: httpx.Client, name: str, body: bytes, **data: str) -> httpx.Response:
    return client.post("/v1/documents", files={"file": (name, body)}, data=data or None)


def _ingest(client: httpx.Client, name: str, law: str, **data: str) -> dict:  # type: ignore[type-arg]
    response = _post(client, name, TEXT.format(law=law).encode(), **data)
    assert response.status_code == 202, response.text
    done = wait_job(client, response.json()["jobs"][0]["id"])
    assert done["status"] == "done", done
    return client.get(f"/v1/documents/{done['document_id']}").json()  # type: ignore[no-any-return]


def test_same_name_is_a_new_document_unless_it_replaces_one(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    with srv.client("acme") as client:
        first = _ingest(client, "Agreement.txt", "New York")
        second = _ingest(client, "Agreement.txt", "Texas")
        assert first["id"] != second["id"]
        assert (first["version"], second["version"]) == (1, 1)
        third = _ingest(client, "Agreement (signed).txt", "Ohio", replaces=second["id"])
        assert third["version"] == 2
        statuses = {d["id"]: d["status"] for d in client.get("/v1/documents").json()}
        assert statuses == {first["id"]: "ready", second["id"]: "superseded",
                            third["id"]: "ready"}  # fmt: skip

        unknown = _post(client, "x.txt", b"some text", replaces="f" * 32)
        assert unknown.status_code == 422, unknown.text
        assert "replaces" in unknown.json()["detail"]
        two = client.post(
            "/v1/documents",
            files=[("files", ("a.txt", b"aaa")), ("files", ("b.txt", b"bbb"))],
            data={"replaces": first["id"]},
        )
        assert two.status_code == 400, two.text
    with srv.client("beta") as other:  # another tenant's id is unknown there
        assert _post(other, "y.txt", b"other text", replaces=first["id"]).status_code == 422


def test_invisible_characters_leave_names_and_failures_name_the_upload(serve) -> None:  # type: ignore[no-untyped-def]
    srv = serve()
    with srv.client("acme") as client:
        spoof = "invoice_\u202egpj\u200b\u2066.txt"  # displays as invoice_txt.jpg
        doc = _ingest(client, spoof, "Delaware")
        assert doc["name"] == "invoice_gpj.txt"
        download = client.get(f"/v1/documents/{doc['id']}/file")
        assert download.status_code == 200
        disposition = download.headers["content-disposition"]
        assert "invoice_gpj.txt" in disposition
        assert not re.search(r"%E2%80%AE|\u202e|%E2%80%8B", disposition, re.IGNORECASE)

        broken = _post(client, "broken deal.pdf", b"%PDF-1.4\n" + b"\x00garbage" * 200)
        assert broken.status_code == 202, broken.text
        failed = wait_job(client, broken.json()["jobs"][0]["id"])
        assert failed["status"] == "failed"
        assert failed["error"].startswith("broken deal.pdf: "), failed["error"]
        assert not re.search(r"[0-9a-f]{32}", failed["error"]), failed["error"]
