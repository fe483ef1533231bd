"""``/v1/search`` (hits as JSON) and ``/v1/ask`` (the agent's events as SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
from litestar import Request, post
from litestar.params import JSONBody
from litestar.response import Stream

from api.routes.citations import SearchFilters, search_scope
from api.routes.common import caller, services
from api.schemas import AskRequest, SearchRequestBody
from api.sse import format_sse, sse_response

__all__ = ["QUESTION_ROUTES"]


@post("/v1/search", status_code=200, summary="Search the knowledge base")
async def search(
    request: Request[Any, Any, Any], data: JSONBody[SearchRequestBody]
) -> list[dict[str, Any]]:
    """Best-first hits, each like ``dossier search --json``: document, document_id,
    page, heading_path, clause_number, text, start, end, chunk_id, score.
    ``kind``, ``court``, ``decided_from`` and ``decided_to`` narrow the search
    to documents whose profile matches (see ``/v1/documents/{id}/citations``)."""
    svc, who = services(request), caller(request)

    def run() -> list[dict[str, Any]]:
        filters = SearchFilters(kind=data.kind, court=data.court,
                                decided_from=data.decided_from, decided_to=data.decided_to)  # fmt: skip
        scope = search_scope(svc.kb, who.tenant, data.document_ids, filters)
        hits = svc.kb.search(who.tenant, data.query, k=data.k, mode=data.mode,
                             document_ids=scope)  # fmt: skip
        svc.catalog.audit(who.tenant, who.actor, "search", {
            "query": data.query[:2000], "mode": data.mode, "k": data.k,
            "hits": [h.chunk.id for h in hits],
            "documents": sorted({h.chunk.document_id for h in hits}),
        })  # fmt: skip
        return [h.to_json() for h in hits]

    return await anyio.to_thread.run_sync(run)


@post("/v1/ask", status_code=200, summary="Ask a question (SSE)")
async def ask(request: Request[Any, Any, Any], data: JSONBody[AskRequest]) -> Stream:
    """The answer as server-sent events, each ``event:`` naming its type:
    status, tool_call, tool_result, token, citation, then done (or error).
    With the LLM down the answer is evidence-only (``done.degraded`` true)."""
    svc, who = services(request), caller(request)

    async def frames() -> AsyncIterator[bytes]:
        seq = 0
        async for event in svc.answers.stream(
            who, data.question, session_id=data.session_id, document_ids=data.document_ids
        ):
            seq += 1
            yield format_sse(event.type, event.to_json(), str(seq))

    return sse_response(frames())


QUESTION_ROUTES = [search, ask]
