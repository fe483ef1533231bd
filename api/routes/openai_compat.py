"""OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions`` (model ``dossier``).

Any OpenAI client or chat UI (Open WebUI, LobeChat) can use Dossier as a
model: base URL ``http://host:port/v1``, API key = a Dossier key. The last
user message is the question; the conversation's first user message names
the session (so follow-ups are answered in context), unless ``session_id`` is
given in the body. The answer's ``[n]`` markers become Markdown footnote
references ``[^n]`` and the citations follow as footnotes
(``[^1]: document, p. N: "quote"``). Streaming sends ``chat.completion.chunk``
objects then ``data: [DONE]``. When the LLM is down this endpoint answers 503
with ``Retry-After`` (``/v1/ask`` gives the evidence-only answer instead).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import JSONBody
from litestar.response import Stream

from agent.events import DoneEvent, ErrorEvent, TokenEvent
from api.errors import ApiError
from api.routes.common import caller, services
from api.schemas import ChatCompletionRequest
from api.services.answers import FootnoteRefs, footnotes
from api.sse import SSE_HEADERS
from core.errors import LLMUnavailableError

__all__ = ["MODEL_ID", "OPENAI_ROUTES"]

MODEL_ID = "dossier"
_CREATED = 1_735_689_600  # 2025-01-01, a fixed "created" for the model card


@get("/v1/models", summary="OpenAI: list models")
async def list_models() -> dict[str, Any]:
    return {"object": "list",
            "data": [{"id": MODEL_ID, "object": "model", "created": _CREATED, "owned_by": "dossier"}]}  # fmt: skip


def _chunk(cid: str, created: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n".encode()


@post("/v1/chat/completions", status_code=200, summary="OpenAI: chat completion")
async def chat_completions(
    request: Request[Any, Any, Any], data: JSONBody[ChatCompletionRequest]
) -> Response[Any] | Stream:
    svc, who = services(request), caller(request)
    if data.model != MODEL_ID:
        raise ApiError(404, f"model {data.model!r} does not exist; use {MODEL_ID!r}",
                       slug="model-not-found")  # fmt: skip
    users = [m for m in data.messages if m.role == "user"]
    if not users or data.messages[-1].role != "user" or not users[-1].text().strip():
        raise ApiError(400, "the last message must be a non-empty user message")
    if await svc.llm.state() != "ok":
        raise LLMUnavailableError("the language model is unavailable; retry later, or use "
                                  "/v1/ask for an evidence-only answer")  # fmt: skip
    question = users[-1].text()
    session = (
        data.session_id
        or "oa-"
        + hashlib.sha256(
            f"{who.tenant}\x00{data.user or ''}\x00{users[0].text()}".encode()
        ).hexdigest()[:32]
    )
    events = svc.answers.stream(who, question, session_id=session,
                                document_ids=data.document_ids, channel="chat")  # fmt: skip
    cid, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    if data.stream:

        async def frames() -> AsyncIterator[bytes]:
            refs, streamed = FootnoteRefs(), False
            yield _chunk(cid, created, {"role": "assistant", "content": ""})
            async for event in events:
                if isinstance(event, TokenEvent):
                    text = refs.feed(event.text)
                    streamed = True
                    if text:
                        yield _chunk(cid, created, {"content": text})
                elif isinstance(event, DoneEvent):
                    tail = refs.flush() if streamed else refs.feed(event.answer) + refs.flush()
                    tail += footnotes(event.citations)
                    if tail:
                        yield _chunk(cid, created, {"content": tail})
                    yield _chunk(cid, created, {}, "stop")
                elif isinstance(event, ErrorEvent):
                    yield _chunk(cid, created, {"content": f"\n\n[error: {event.message}]"}, "stop")
            yield b"data: [DONE]\n\n"

        return Stream(frames(), media_type="text/event-stream", headers=SSE_HEADERS)

    done: DoneEvent | None = None
    error: ErrorEvent | None = None
    async for event in events:
        if isinstance(event, DoneEvent):
            done = event
        elif isinstance(event, ErrorEvent):
            error = event
    if done is None:
        raise ApiError(502, f"the agent failed: {error.message if error else 'no answer'}")
    refs = FootnoteRefs()
    content = refs.feed(done.answer) + refs.flush() + footnotes(done.citations)
    usage = done.usage or {}
    return Response({
        "id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": usage.get("prompt_tokens", 0),
                  "completion_tokens": usage.get("completion_tokens", 0),
                  "total_tokens": usage.get("total_tokens", 0)},
    })  # fmt: skip


OPENAI_ROUTES = [list_models, chat_completions]
