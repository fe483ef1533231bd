"""Questions: the agent behind ``/v1/ask`` and ``/v1/chat/completions``.

Wiring copied from ``dossier ask`` (``api/cli_llm.py``): one
``Agent(kb, chat_model, None, settings)`` per chat model. With no LLM (down,
still starting) the agent answers evidence-only (``done.degraded``). Every
answer is audited (who, question, cited documents and chunks, model, tools,
timings) and measured (TTFT, time per output token, tokens).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio.to_thread

from agent.events import DoneEvent, ErrorEvent, TokenEvent
from agent.loop import Agent
from api.auth import Principal
from api.metrics import ApiMetrics
from api.services.llm import LLMService
from core.settings import Settings
from knowledge_base.service import KnowledgeBase

__all__ = ["AnswerService", "FootnoteRefs", "footnotes"]

log = logging.getLogger(__name__)

_REF = re.compile(r"\[(\d{1,4})\](?!:)")

MAX_AUDIT_QUESTION = 2000


class AnswerService:
    def __init__(
        self,
        kb: KnowledgeBase,
        llm: LLMService,
        settings: Settings,
        metrics: ApiMetrics,
    ) -> None:
        self.kb = kb
        self.llm = llm
        self.settings = settings
        self.metrics = metrics
        self._agents: dict[int, Agent] = {}

    def agent(self) -> Agent:
        model = self.llm.chat_model()
        key = id(model)
        if key not in self._agents:
            self._agents = {key: Agent(self.kb, model, None, self.settings)}
        return self._agents[key]

    async def stream(
        self,
        principal: Principal,
        question: str,
        *,
        session_id: str | None = None,
        document_ids: Sequence[str] | None = None,
        channel: str = "ask",
    ) -> AsyncIterator[Any]:
        """The agent's events for the caller's tenant; audited when it ends."""
        t0 = time.perf_counter()
        first: float | None = None
        tokens = 0
        done: DoneEvent | None = None
        error: ErrorEvent | None = None
        agent = self.agent()
        try:
            async for event in agent.stream_answer(
                question, principal.tenant, session_id=session_id, document_ids=document_ids
            ):
                if isinstance(event, TokenEvent):
                    tokens += 1
                    if first is None:
                        first = time.perf_counter() - t0
                elif isinstance(event, DoneEvent):
                    done = event
                elif isinstance(event, ErrorEvent):
                    error = event
                yield event
        finally:
            total = time.perf_counter() - t0
            outcome = "error" if error else ("degraded" if done and done.degraded else "ok")
            if done is None and error is None:
                outcome = "cancelled"
            self.metrics.observe_answer(first, total, tokens, outcome)
            await self._audit(principal, question, channel, session_id, document_ids, done,
                              error, outcome, total, first)  # fmt: skip

    async def _audit(
        self,
        principal: Principal,
        question: str,
        channel: str,
        session_id: str | None,
        document_ids: Sequence[str] | None,
        done: DoneEvent | None,
        error: ErrorEvent | None,
        outcome: str,
        total: float,
        ttft: float | None,
    ) -> None:
        cited = done.citations if done else []
        model = self.llm.chat_model()
        detail: dict[str, Any] = {
            "question": question[:MAX_AUDIT_QUESTION],
            "channel": channel,
            "session_id": session_id,
            "restricted_to": list(document_ids) if document_ids else None,
            "outcome": outcome,
            "cited_documents": sorted({c.document_id for c in cited}),
            "cited_chunks": [c.chunk_id for c in cited if c.chunk_id],
            "citations": [{"n": c.n, "document_id": c.document_id, "page": c.page} for c in cited],
            "tools": [t.get("name") for t in done.tool_calls] if done else [],
            "planner": done.planner if done else None,
            "model": (model._model or "auto")
            if model is not None and not (done and done.degraded)
            else None,
            "degraded": bool(done and done.degraded),
            "error": error.error_type if error else None,
            "seconds": round(total, 3),
            "ttft_s": round(ttft, 3) if ttft is not None else None,
            "usage": done.usage if done else {},
        }
        try:
            await anyio.to_thread.run_sync(
                self.kb.catalog.audit, principal.tenant, principal.actor, channel, detail
            )
        except Exception:  # the answer was given; never fail it for the audit row
            log.exception("api.audit_failed action=%s", channel)


def footnotes(citations: Sequence[Any]) -> str:
    """Numbered Markdown footnotes: ``[^1]: document, p. N: "quote"``."""
    lines = []
    for c in citations:
        quote = " ".join(c.quote.split()).replace('"', "'")
        lines.append(f'[^{c.n}]: {c.document}, p. {c.page}: "{quote}"')
    return ("\n\n" + "\n".join(lines)) if lines else ""


class FootnoteRefs:
    """Rewrites ``[n]`` citation markers to ``[^n]`` in streamed text, holding
    back an unfinished ``[12`` until the next piece shows whether it is one."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        text = self._held + text
        self._held = ""
        cut = text.rfind("[")
        if (
            cut != -1
            and "]" not in text[cut:]
            and len(text) - cut <= 6
            and text[cut + 1 :].isdigit()
        ):
            text, self._held = text[:cut], text[cut:]
        return _REF.sub(r"[^\1]", text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
