"""The citation graph through the CLI (--json) and the HTTP API (tenant rules)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import COURT
from tests.e2e.conftest import ingest, serve, wait_job  # noqa: F401  (the server fixture)
from tests.precedents.conftest import cap_text

pytestmark = pytest.mark.slow


def _cli(*args: str) -> object:
    from api.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_cli_citations_cited_by_authorities_and_search_filters(make_container, tmp_path) -> None:  # type: ignore[no-untyped-def]

    c = make_container()
    files = [
        cap_text("32044078577194_0007"),
        cap_text("32044078577194_0082"),
        COURT / "missouri.pdf",
    ]
    c.pipeline.ingest_paths(files, c.settings.tenant)
    kb = str(c.settings.data_dir)
    c.close()
    docs = {d["name"]: d["id"] for d in _cli("documents", "--kb", kb, "--json")}
    citing = docs["32044078577194_0082.txt"]
    report = _cli("citations", citing, "--kb", kb, "--json")
    assert report["profile"]["court_id"] == "ark"
    assert report["profile"]["decided"] == "1986-03-10"
    edge = next(c for c in report["citations"] if c["authority"] == "288 Ark. 37")
    assert edge["linked_document_id"] == docs["32044078577194_0007.txt"]
    cited = _cli("cited-by", "288 Ark. 37", "--kb", kb, "--json")
    assert cited["citing_documents"] == 1
    assert cited["citing"][0]["document_id"] == citing
    assert cited["citing"][0]["treatment"] == "followed"
    top = _cli("authorities", "--top", "10", "--court", "ark", "--json", "--kb", kb)
    ranks = [(-a["citing_documents"], -a["mentions"]) for a in top]
    assert ranks == sorted(ranks)
    assert "281 Ark. 261" in {a["authority"] for a in top}  # Day v. Day (parallels merged)
    assert "663 S.W.2d 719" not in {a["authority"] for a in top}
    assert _cli("authorities", "--court", "moctapped", "--kb", kb, "--json") != top
    hits = _cli(
        "search",
        "post-conviction relief",
        "--court",
        "Missouri Court of Appeals, Eastern District",
        "--kb",
        kb,
        "--json",
    )
    assert hits
    assert {h["document"] for h in hits} == {"missouri.pdf"}
    old = _cli("search", "post-conviction relief", "--decided-to", "1990", "--kb", kb, "--json")
    assert "missouri.pdf" not in {h["document"] for h in old}
    assert (
        _cli("search", "post-conviction relief", "--kind", "contract", "--kb", kb, "--json") == []
    )
    assert _cli("kind", docs["missouri.pdf"], "brief", "--kb", kb, "--json")["kind"] == "brief"
    assert _cli("search", "post-conviction relief", "--kind", "brief", "--kb", kb, "--json")
    # ingest --kind: the same bytes again, now said to be an opinion (re-read as one).
    _cli("ingest", str(COURT / "missouri.pdf"), "--kind", "opinion", "--kb", kb, "--json")
    profile = _cli("citations", docs["missouri.pdf"], "--kb", kb, "--json")["profile"]
    assert (profile["kind"], profile["court_id"]) == ("opinion", "moctapped")


def test_api_routes_and_tenant_isolation(serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    srv = serve()
    court_a = srv.client("court-a")
    ids = ingest(court_a, cap_text("32044078577194_0007"), cap_text("32044078577194_0082"))
    r = court_a.get("/v1/citations/cited-by", params={"authority": "288 Ark. 37"})
    assert r.status_code == 200, r.text
    assert [c["document_id"] for c in r.json()["citing"]][:1] == [ids[1]]
    assert r.json()["linked_document_id"] == ids[0]
    r = court_a.get(f"/v1/documents/{ids[1]}/citations")
    assert r.status_code == 200
    assert r.json()["profile"]["kind"] == "opinion"
    assert court_a.get("/v1/citations/authorities", params={"top": 2}).json()
    hits = court_a.post("/v1/search", json={"query": "military retirement pay", "court": "ark",
                                            "decided_from": "1986-03"}).json()  # fmt: skip
    assert hits
    assert {h["document_id"] for h in hits} == {ids[1]}
    assert court_a.post("/v1/search", json={"query": "x", "decided_to": "86"}).status_code == 400
    # Another tenant sees nothing of court-a's graph; its ids are not found.
    court_b = srv.client("court-b")
    assert (
        court_b.get("/v1/citations/cited-by", params={"authority": "288 Ark. 37"}).json()["citing"]
        == []
    )
    assert court_b.get("/v1/citations/authorities").json() == []
    assert court_b.get(f"/v1/documents/{ids[1]}/citations").status_code == 404
    assert court_b.put(f"/v1/documents/{ids[1]}/kind", json={"kind": "brief"}).status_code == 404
    reader = srv.client("court-a", role="reader")
    assert reader.put(f"/v1/documents/{ids[1]}/kind", json={"kind": "brief"}).status_code == 403
    r = court_a.put(f"/v1/documents/{ids[1]}/kind", json={"kind": "brief"})
    assert r.json() == {"document_id": ids[1], "kind": "brief"}
    # The kind given at upload replaces the detected one.
    pdf = COURT / "missouri.pdf"
    files = [("file", (pdf.name, pdf.read_bytes(), "application/pdf"))]
    bad = court_a.post("/v1/documents", files=files, data={"kind": "judgment"})
    assert bad.status_code == 400
    r = court_a.post("/v1/documents", files=files, data={"kind": "brief"})
    assert r.status_code == 202, r.text
    doc = wait_job(court_a, r.json()["jobs"][0]["id"])["document_id"]
    profile = court_a.get(f"/v1/documents/{doc}/citations").json()["profile"]
    assert (profile["kind"], profile["kind_source"]) == ("brief", "user")
