"""Search, ask (SSE), OpenAI compatibility, reviews and batch summaries over HTTP."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.conftest import CUAD_PDF, GAINSCO, ingest, sse_events, wait_job

pytestmark = pytest.mark.slow

OTHER = (
    CUAD_PDF / "PACIFICSYSTEMSCONTROLTECHNOLOGYINC_08_24_2000-EX-10.53-SPONSORSHIP AGREEMENT.PDF"
)
EVENT_NAMES = {
    "status",
    "tool_call",
    "tool_result",
    "token",
    "citation",
    "claim",
    "answer",
    "done",
    "error",
}


@pytest.fixture(scope="module")
def kb_server(shared_server):  # type: ignore[no-untyped-def]
    with shared_server.client("acme") as acme, shared_server.client("globex") as globex:
        shared_server.docs = {"acme": ingest(acme, GAINSCO), "globex": ingest(globex, OTHER)}
    return shared_server


def test_ask_streams_named_events_evidence_only_when_llm_down(kb_server) -> None:  # type: ignore[no-untyped-def]
    with (
        kb_server.client("acme", "reader") as client,
        client.stream(
            "POST",
            "/v1/ask",
            json={"question": "What is the sponsorship fee?", "session_id": "s-1"},
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [n for n, _ in events]
    assert set(names) <= EVENT_NAMES
    assert names[-1] == "done"
    assert all(data["type"] == name for name, data in events)
    done = events[-1][1]
    assert done["degraded"] is True
    assert done["session_id"] == "s-1"
    assert done["citations"], "evidence-only answers still cite"
    assert {c["document_id"] for c in done["citations"]} <= set(kb_server.docs["acme"])
    with kb_server.client("acme", "admin") as admin:
        entry = [e for e in admin.get("/v1/audit").json() if e["action"] == "ask"][-1]
    assert entry["detail"]["question"] == "What is the sponsorship fee?"
    assert entry["detail"]["cited_documents"] == sorted(
        {c["document_id"] for c in done["citations"]}
    )
    assert entry["detail"]["degraded"] is True
    assert entry["actor"].startswith("key:")


def test_openai_models_and_503_when_llm_down(kb_server) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=kb_server.base_url + "/v1", api_key=kb_server.key("acme", "reader"),
                           max_retries=0)  # fmt: skip
    assert [m.id for m in client.models.list().data] == ["dossier"]
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(
            model="dossier", messages=[{"role": "user", "content": "fee?"}]
        )
    assert info.value.status_code == 503
    assert info.value.response.headers["retry-after"] == "30"
    bad = openai.OpenAI(base_url=kb_server.base_url + "/v1", api_key="dsk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_review_sync_and_as_job(kb_server) -> None:  # type: ignore[no-untyped-def]
    doc_id = kb_server.docs["acme"][0]
    with kb_server.client("acme", "member") as client:
        report = client.post("/v1/reviews", json={"document_id": doc_id})
        assert report.status_code == 200, report.text
        assert report.json()["document_id"] == doc_id
        queued = client.post("/v1/reviews", json={"document_id": doc_id, "background": True})
        assert queued.status_code == 202
        job = wait_job(client, queued.json()["job"]["id"])
        assert job["status"] == "done"
        assert job["result"]["document_id"] == doc_id
        bad = client.post("/v1/reviews", json={"document_id": doc_id, "playbook": {"rules": 3}})
        assert bad.status_code == 422
        assert (
            client.post(
                "/v1/reviews", json={"document_id": kb_server.docs["globex"][0]}
            ).status_code
            == 404
        )


def test_batch_summaries_are_cited_verbatim(kb_server) -> None:  # type: ignore[no-untyped-def]
    doc_id = kb_server.docs["acme"][0]
    with kb_server.client("acme", "member") as client:
        response = client.post("/v1/batch/summaries", json={"document_ids": [doc_id]})
        assert response.status_code == 202
        job_id = response.json()["job"]["id"]
        with client.stream("GET", f"/v1/jobs/{job_id}/events") as stream:
            events = sse_events(stream)
        assert events[-1][0] == "done"
        result = wait_job(client, job_id)["result"]
        summary = result["documents"][doc_id]
        assert summary["method"] == "extractive"
        assert summary["sections"]
        assert summary["citations"]
        assert result["progress"] == {"done": 1, "total": 1}
        assert result["digest"]["documents"]
        pages: dict[int, str] = {}
        for cite in summary["citations"] + [c for s in summary["sections"] for c in s["citations"]]:
            if cite["page"] not in pages:
                pages[cite["page"]] = client.get(
                    f"/v1/documents/{doc_id}/pages/{cite['page']}"
                ).json()["text"]
            assert pages[cite["page"]][cite["start"] : cite["end"]] == cite["quote"]
        other = client.post("/v1/batch/summaries", json={"document_ids": kb_server.docs["globex"]})
        assert other.status_code == 404

        digest = client.get(f"/v1/batch/summaries/{job_id}/digest")
        assert digest.status_code == 200
        assert digest.headers["content-type"].startswith("text/markdown")
        assert digest.text.startswith("# Digest")
        table = client.get(f"/v1/batch/summaries/{job_id}/digest", params={"format": "csv"})
        assert table.status_code == 200
        assert table.text.splitlines()[0].startswith("company,form,period,units,revenue")
        bad = client.get(f"/v1/batch/summaries/{job_id}/digest", params={"format": "xml"})
        assert bad.status_code == 400
        assert "md or csv" in bad.json()["detail"]
    with kb_server.client("globex", "member") as client:  # another tenant's job is not found
        assert client.get(f"/v1/batch/summaries/{job_id}/digest").status_code == 404


@pytest.mark.llm
def test_openai_client_streams_a_cited_answer_with_real_vllm(serve, llm_base_url) -> None:  # type: ignore[no-untyped-def]
    srv = serve(llm_url=llm_base_url)
    with srv.client("acme") as c:
        ingest(c, GAINSCO)
    client = openai.OpenAI(base_url=srv.base_url + "/v1", api_key=srv.key("acme", "reader"))
    stream = client.chat.completions.create(
        model="dossier", stream=True,
        messages=[{"role": "user", "content": "What is the term of the sponsorship agreement?"}],
    )  # fmt: skip
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip()
    if "[^1]:" in text:
        assert GAINSCO.name in text.split("[^1]:", 1)[1]
    with (
        srv.client("acme", "reader") as c,
        c.stream("POST", "/v1/ask", json={"question": "Who are the parties?"}) as response,
    ):
        events = sse_events(response)
    done = events[-1][1]
    assert events[-1][0] == "done"
    assert done["degraded"] is False
    assert any(n == "token" for n, _ in events)
    metrics = srv.client("acme", "reader").get("/metrics").text
    assert "dossier_llm_time_to_first_token_seconds_count" in metrics


def test_ask_sse_retracts_unsupported_streamed_sentences(serve) -> None:  # type: ignore[no-untyped-def]
    """Over HTTP: with unchecked streaming, the fabricated sentence goes out as
    tokens, then a ``claim`` event marks it unsupported and the ``answer``
    event carries the checked text. The model is scripted (a tool-calling
    model cannot run on this machine); everything else is the real server."""
    from agent.llm import Finish, TokenDelta, ToolCallRequest
    from tests.agent.test_loop import ScriptedChatModel

    srv = serve(llm={"tool_calling": "native"}, agent={"stream_unchecked": True})
    with srv.client("acme") as c:
        ingest(c, GAINSCO)
    text = (
        "This agreement is governed by the laws of Delaware [1]. It is governed by Texas law [1]."
    )
    model = ScriptedChatModel([
        [ToolCallRequest("t1", "search_documents", '{"query": "governing law"}'), Finish("tool_calls")],
        [TokenDelta(w + " ") for w in text.split(" ")] + [Finish("stop")],
    ])  # fmt: skip
    model._model = "scripted"  # the name the audit log records
    srv.app.state.services.llm.chat_model = lambda: model
    with (
        srv.client("acme", "reader") as client,
        client.stream("POST", "/v1/ask", json={"question": "Summarise this agreement."}) as resp,
    ):
        events = sse_events(resp)
    names = [n for n, _ in events]
    assert names[-2:] == ["answer", "done"]
    tokens = "".join(d["text"] for n, d in events if n == "token")
    assert "Delaware" in tokens
    answer, done = events[-2][1], events[-1][1]
    assert answer["retracted"] is True
    assert "Delaware" not in answer["text"]
    assert "Texas" in answer["text"]
    assert answer["text"] == done["answer"]
    claims = [d for n, d in events if n == "claim"]
    assert [c["supported"] for c in claims] == [False, True]
    assert "Delaware" in claims[0]["reason"]
    assert done["claims"] == [{k: v for k, v in c.items() if k != "type"} for c in claims]
