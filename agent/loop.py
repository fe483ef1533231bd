"""The agent loop (LangGraph): question -> tools -> streamed, cited answer.

One graph, two planners:

- **native**: the model calls tools itself (OpenAI tool calling; vLLM with
  ``--enable-auto-tool-choice``). ``model`` and ``tools`` alternate until the
  model answers without a tool call or ``settings.agent.max_steps`` tool rounds
  have run (then it must answer without tools).
- **planner**: for models that cannot call tools (SmolLM2): the deterministic
  plan of :mod:`agent.planner` runs, then the model answers from the top
  evidence. The answer prompt starts with that evidence, so while the plan's
  other tools run a one-token request prefills it into the server's prefix
  cache; the answer's own prefill then covers only tool notes and question.

Graph: ``START -> plan -> (model <-> tools | run_plan -> answer) -> finish -> END``.
``settings.llm.tool_calling``: "native", "planner", or "auto" (probe the server).
When the model is missing or unreachable the answer is evidence-only
(degraded), never a hang. Conversation memory: see :mod:`agent.memory`.
The graph's nodes are in :mod:`agent.graph`; the helpers they share (checked
answers, streaming, degrading) are :class:`Agent`'s.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal

from langgraph.graph import StateGraph

from agent.answering import SentenceGate, answer_text, finish_claims, lead_claims
from agent.claims import ClaimChecker
from agent.events import (
    AnswerEvent,
    CitationEvent,
    ClaimEvent,
    ErrorEvent,
    StatusEvent,
)
from agent.figures_answer import FIGURE_REASON, figure_lead, figure_only
from agent.filings import FILING_REASON, with_filing_line
from agent.graph import TurnGraph, prompt
from agent.llm import ChatModel, Finish, TokenDelta, ToolCallRequest, UsageReport
from agent.memory import memory_path, open_memory, thread_id
from agent.opinion_answers import OpinionCitationChecker, cite_opinion_quotes, claim_checker
from agent.turn import TurnContext
from core.errors import DossierError, LLMError
from core.settings import Settings
from knowledge_base.service import KnowledgeBase
from tools.registry import DEFAULT_TOOLS, ToolRegistry, build_tools
from tools.retrieval import EvidenceLedger

__all__ = ["Agent", "ToolFactory"]

logger = logging.getLogger(__name__)

#: (tenant, ledger, document_ids) -> the request's tools.
ToolFactory = Callable[[str, EvidenceLedger, Sequence[str] | None], ToolRegistry]

#: Reasons of the claims composed from a clause finding (agent/answering.py).
_LEAD_REASONS = ("composed", "quotes the clause", "no such", "value withheld")
#: First chunks of a contract read for its parties and dates (the preamble).
OPENING_CHUNKS = 2


class Agent:
    """Answers questions about a tenant's documents, streaming :mod:`agent.events`.

    ``chat_model`` None means no LLM: every answer is evidence-only.
    ``tools`` is a :data:`ToolFactory` or the names of the tools to offer
    (default: all of ``tools.registry.DEFAULT_TOOLS`` that are installed).
    """

    def __init__(
        self,
        kb: KnowledgeBase,
        chat_model: ChatModel | None,
        tools: ToolFactory | Sequence[str] | None,
        settings: Settings,
    ) -> None:
        self.kb = kb
        self.chat_model = chat_model
        self.settings = settings
        if tools is None or not callable(tools):
            names = tuple(tools) if tools is not None else DEFAULT_TOOLS
            self._tool_factory: ToolFactory = lambda tenant, ledger, docs: build_tools(
                kb, tenant, settings, ledger=ledger, document_ids=docs, include=names
            )
        else:
            self._tool_factory = tools
        self._mode: Literal["native", "planner"] | None = None

    # -- public ----------------------------------------------------------------

    async def stream_answer(
        self,
        question: str,
        tenant: str,
        session_id: str | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> AsyncIterator[Any]:
        """Stream the events of one answer (see :mod:`agent.events` for the order).

        With ``session_id`` the turn is remembered and a follow-up question is
        answered in the context of the earlier turns of that session.
        Failures end the stream with an ``error`` event instead of raising.
        """
        question = question.strip()
        if not question:
            yield ErrorEvent(message="the question is empty", error_type="AgentError")
            return
        ledger = EvidenceLedger()
        docs = list(document_ids) if document_ids else None
        try:
            registry = self._tool_factory(tenant, ledger, docs)
            if session_id is None:
                graph = self._graph(registry, ledger, tenant, docs, session_id).compile()
                async for event in self._run(graph, question, None):
                    yield event
                return
            config = {"configurable": {"thread_id": thread_id(tenant, session_id)}}
            async with open_memory(memory_path(self.settings)) as saver:
                graph = self._graph(registry, ledger, tenant, docs, session_id).compile(
                    checkpointer=saver
                )
                async for event in self._run(graph, question, config):
                    yield event
        except DossierError as exc:
            logger.warning("agent.failed error=%s", type(exc).__name__)
            yield ErrorEvent(message=str(exc), error_type=type(exc).__name__)
        except Exception as exc:
            logger.exception("agent.crashed")
            yield ErrorEvent(
                message=f"internal error: {type(exc).__name__}", error_type="AgentError"
            )

    async def _run(
        self, graph: Any, question: str, config: dict[str, Any] | None
    ) -> AsyncIterator[Any]:
        async for event in graph.astream({"question": question}, config, stream_mode="custom"):
            yield event

    async def resolve_mode(self) -> Literal["native", "planner"]:
        """The planner for this model (probed once for "auto")."""
        if self._mode is None:
            setting = self.settings.llm.tool_calling
            if setting == "auto" and self.chat_model is not None:
                self._mode = "native" if await self.chat_model.supports_tools() else "planner"
            else:
                self._mode = "native" if setting == "native" else "planner"
            logger.info("agent.mode mode=%s", self._mode)
        return self._mode

    # -- the graph -------------------------------------------------------------

    def _graph(
        self,
        registry: ToolRegistry,
        ledger: EvidenceLedger,
        tenant: str,
        docs: list[str] | None,
        session_id: str | None,
    ) -> StateGraph:
        """One request's graph; its nodes are :class:`agent.graph.TurnGraph`'s."""
        return TurnGraph(self, registry, ledger, tenant, docs, session_id).build()

    # -- helpers ---------------------------------------------------------------

    async def _stream_text(
        self,
        c: TurnContext,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        **options: Any,
    ) -> list[ToolCallRequest]:
        """Stream one model call: tokens go out as they arrive; returns its tool calls."""
        assert self.chat_model is not None
        calls: list[ToolCallRequest] = []
        try:
            stream = self.chat_model.stream(messages, tools, **options)
            try:
                async for event in stream:
                    if isinstance(event, TokenDelta) and c.gate is not None:
                        await c.gate.feed(event.text)
                        if c.gate.stopped:  # a sentence repeated an earlier one
                            break
                    elif isinstance(event, TokenDelta):
                        c.token(event.text)
                    elif isinstance(event, ToolCallRequest):
                        calls.append(event)
                    elif isinstance(event, UsageReport):
                        c.add_usage(event)
                    elif isinstance(event, Finish) and event.reason == "length":
                        c.emit(
                            StatusEvent(stage="generating", message="answer cut at the token limit")
                        )
                        if c.gate is not None:
                            await c.gate.flush(cut=True)
            finally:
                close = getattr(stream, "aclose", None)
                if close is not None:
                    await close()
        except LLMError:
            raise
        return calls

    # -- checked answers (agent/answering.py) ----------------------------------

    @property
    def checked(self) -> bool:
        return self.settings.agent.answers == "checked"

    def _gate(self, c: TurnContext) -> SentenceGate:
        return SentenceGate(
            claim_checker(self.kb.embedder, c.checker), lambda: c.ledger.items, c.token, c.claims,
            stream_unchecked=self.settings.agent.stream_unchecked,
        )  # fmt: skip

    def _lead(self, c: TurnContext, quote_open: bool, offline: bool = False) -> bool:
        """Stream the lead claims; True when they answer the question (composed,
        or, with no model, quotes of opinions in citation form)."""
        figure = figure_lead(c.registry)  # computed from a report's statements
        if figure and figure_only(c.question):
            c.claims.extend(figure)
            c.token(answer_text(figure))
            return True
        opinions = c.checker.opinions if isinstance(c.checker, OpinionCitationChecker) else None
        alone = offline and opinions is not None and opinions.quotes_answer(c.ledger, c.tool_calls)
        checker = claim_checker(self.kb.embedder, c.checker)
        lead, composed = lead_claims(
            c.intents, c.clause_data, c.ledger, checker, c.question,
            quote_open=quote_open or alone, open_part=c.open_part, opening=self._opening(c),
        )  # fmt: skip
        if opinions is not None:
            lead = cite_opinion_quotes(lead, opinions, checker)
            composed = composed or (alone and any(cl.citations for cl in lead))
        lead = figure + lead
        c.claims.extend(lead)
        text = answer_text(lead)
        if text:
            c.token(text)
        if not composed and self.chat_model is not None:
            c.gate = self._gate(c)
        return composed

    def _opening(self, c: TurnContext) -> Callable[..., list[dict[str, Any]]]:
        """The first ``limit`` passages of a document (its preamble: parties,
        dates; None: all), as clause evidence; read from the document cache
        the review filled."""

        def first(document_id: str, limit: int | None = OPENING_CHUNKS) -> list[dict[str, Any]]:
            try:
                chunks, _ = self.kb.document_vectors(c.tenant, document_id)
            except DossierError:
                return []
            return [{"page": ch.page, "quote": ch.body, "start": ch.start, "end": ch.end,
                     "chunk_id": ch.id} for ch in chunks[:limit]]  # fmt: skip

        return first

    async def _finish_checked(
        self, c: TurnContext, docs: list[str] | None
    ) -> tuple[list[Any], list[Any]]:
        """Close the checked answer: gate flushed, the composed lead added when
        the model answered without it (native mode), citations verified,
        then ``citation``, ``claim`` and ``answer`` events."""
        if c.gate is not None:
            await c.gate.flush()
            c.claims.extend(c.gate.claims)
            c.gate = None
        if c.intents and not any(cl.reason.startswith(_LEAD_REASONS) for cl in c.claims):
            await self._native_lead(c, docs)
        if not any(cl.reason == FIGURE_REASON for cl in c.claims):
            c.claims[:0] = figure_lead(c.registry)  # native mode: the computed figure first
        claims, verified, dropped = await finish_claims(c.claims, c.checker, c.ledger, c.question)
        c.claims = claims = with_filing_line(claims, c.registry)
        for citation in verified:
            c.emit(CitationEvent(citation=citation))
        for citation, reason in dropped:
            c.emit(CitationEvent(citation=citation, reason=reason))
        for claim in claims:
            c.emit(ClaimEvent(**claim.to_json()))
        text = answer_text(claims)
        streamed = " ".join(c.answer.split())
        c.answer_parts[:] = [text]
        said = answer_text([cl for cl in claims if cl.reason != FILING_REASON])
        c.emit(AnswerEvent(text=text, retracted=streamed != " ".join(said.split())))
        return verified, [d for d, _ in dropped]

    async def _native_lead(self, c: TurnContext, docs: list[str] | None) -> None:
        """Native mode: the model may not have reviewed the contract; do it, and
        put the composed sentence first."""
        doc = docs[0] if docs and len(docs) == 1 else None
        if doc is None and c.ledger.items:
            doc = c.ledger.items[0].document_id
        if not c.clause_data and doc and "extract_clauses" in c.registry.names:
            args = {"document_id": doc, "categories": [w.category for w in c.intents]}
            await c.dispatch("extract_clauses", args, "compose_0")
        lead, _complete = lead_claims(
            c.intents, c.clause_data, c.ledger, ClaimChecker(self.kb.embedder), c.question,
            quote_open=False, opening=self._opening(c),
        )  # fmt: skip
        if lead:
            checker = ClaimChecker(self.kb.embedder)
            lead_text = [claim.text for claim in lead]
            for claim in c.claims:
                if claim.supported and checker.repeats(claim.text, lead_text):
                    claim.supported, claim.reason = False, "repeats an earlier sentence"
            c.claims[:0] = lead

    async def _warm_up(self, messages: list[dict[str, Any]]) -> None:
        """Best effort: a one-token request that leaves the prompt's prefix in
        the server's prefix cache (the answer's prefill then starts after it)."""
        if self.chat_model is None:
            return
        try:
            await self.chat_model.complete(messages, max_tokens=1)
        except Exception as exc:  # never fails the answer; the answer reports errors
            logger.info("agent.warm_up_failed error=%s", type(exc).__name__)

    @staticmethod
    def _tool_notes(c: TurnContext) -> str:
        """Successful non-retrieval tool results of the plan, fenced, for the answer prompt."""
        if not c.fenced:
            return ""
        return "\n" + "\n".join(c.fenced.values())

    @staticmethod
    def _degrade(c: TurnContext, reason: str) -> dict[str, Any]:
        c.emit(StatusEvent(stage="degraded", message=f"language model unavailable: {reason}"))
        items = c.evidence_only_answer(reason, prompt("degraded"))
        return {"mode": "evidence-only", "prompt_evidence": [e.n for e in items]}

    @staticmethod
    def new_session_id() -> str:
        return uuid.uuid4().hex[:16]
