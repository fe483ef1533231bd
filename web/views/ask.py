"""Ask: a chat over all documents or a selection. The answer streams as
server-sent events from the same agent service as ``POST /v1/ask`` (status,
tool steps, tokens, citations, claims, the checked answer, done); the page's
script turns them into text, steps and citation chips. ``session_id`` keeps
the conversation (the agent's memory), one per page visit.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody
from litestar.response import Stream
from pydantic import BaseModel, ConfigDict, Field

from core.types import DocumentStatus
from web.errors import classify
from web.render import format_sse, html
from web.views.common import in_thread, services, viewer

__all__ = ["ASK_ROUTES", "AskForm"]

log = logging.getLogger(__name__)


class AskForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=8000)
    session_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    document_ids: list[str] | None = Field(None, max_length=1000)


@get("/ask")
async def ask_page(request: Request[Any, Any, Any], doc: str | None = None) -> Response[str]:
    svc, who = services(request), viewer(request)
    docs = await in_thread(svc.kb.list_documents, who.tenant)
    ready = [d for d in docs if d.status is DocumentStatus.READY]
    return html(request, "ask.html", documents=ready, selected=doc,
                session_id="web-" + secrets.token_hex(8))  # fmt: skip


@post("/ask/stream")
async def ask_stream(request: Request[Any, Any, Any], data: JSONBody[AskForm]) -> Stream:
    svc, who = services(request), viewer(request)

    async def frames() -> AsyncIterator[bytes]:
        try:
            async for event in svc.answers.stream(
                who, data.question, session_id=data.session_id, document_ids=data.document_ids
            ):
                yield format_sse(event.type, event.to_json())
        except Exception as exc:  # the status line is sent: end with an error event
            status, message = classify(exc)
            if status >= 500:
                log.error("web.ask_failed error=%s", type(exc).__name__, exc_info=exc)
            yield format_sse("error", {"type": "error", "message": message})

    return Stream(frames(), media_type="text/event-stream",
                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


ASK_ROUTES = [ask_page, ask_stream]
