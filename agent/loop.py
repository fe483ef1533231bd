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
"""

from __future__ import annotations

import asyncio
import logging
import operator
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from agent.answering import SentenceGate, answer_text, finish_claims, lead_claims
from agent.claims import ClaimChecker
from agent.compose import intents
from agent.events import (
    AnswerEvent,
    CitationEvent,
    ClaimEvent,
    DoneEvent,
    ErrorEvent,
    StatusEvent,
    Timings,
)
from agent.figures_answer import FIGURE_REASON, figure_lead, figure_only
from agent.llm import ChatModel, Finish, TokenDelta, ToolCallRequest, UsageReport
from agent.memory import Turn, memory_path, open_memory, thread_id
from agent.opinion_answers import OpinionCitationChecker, cite_opinion_quotes, claim_checker
from agent.planner import Plan, PlannedCall, plan_question
from agent.turn import TurnContext, fence_tool_output
from core.errors import DossierError, LLMError, LLMUnavailableError
from core.settings import Settings
from knowledge_base.service import KnowledgeBase
from tools.registry import DEFAULT_TOOLS, ToolRegistry, build_tools
from tools.retrieval import Evidence, EvidenceLedger, format_evidence

__all__ = ["Agent", "ToolFactory"]

logger = logging.getLogger(__name__)

#: (tenant, ledger, document_ids) -> the request's tools.
ToolFactory = Callable[[str, EvidenceLedger, Sequence[str] | None], ToolRegistry]

_PROMPTS = Path(__file__).parent / "prompts"
#: Planner mode: passages in the answer prompt, their size, and the answer length.
PROMPT_EVIDENCE = 3
PROMPT_EVIDENCE_CHARS = 320
PLANNER_MAX_TOKENS = 160
#: Reasons of the claims composed from a clause finding (agent/answering.py).
_LEAD_REASONS = ("composed", "quotes the clause", "no such", "value withheld")
#: First chunks of a contract read for its parties and dates (the preamble).
OPENING_CHUNKS = 2
#: Earlier turns replayed to the model in native mode.
HISTORY_TURNS = 3


@cache
def _prompt(name: str) -> str:
    return (_PROMPTS / f"{name}.txt").read_text(encoding="utf-8")


def _plan_clause(plan: Plan, wanted: Sequence[Any], tools: frozenset[str] | set[str]) -> None:
    """Make the plan review the contract for the terms the question asks about."""
    if not wanted or "extract_clauses" not in tools:
        return
    needed = [w.category for w in wanted]
    for call in plan.calls:
        if call.tool == "extract_clauses":
            cats = call.arguments.get("categories")
            if cats is not None:
                call.arguments["categories"] = list(dict.fromkeys([*cats, *needed]))
            return
    plan.calls.append(PlannedCall("extract_clauses", {"categories": needed}))


class AgentState(TypedDict, total=False):
    turns: Annotated[list[Turn], operator.add]  # persisted conversation
    question: str
    query: str
    mode: Literal["native", "planner", "evidence-only"]
    prompt_evidence: list[int]
    degraded_reason: str


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
        turn: dict[str, TurnContext] = {}
        model = self.chat_model
        settings = self.settings

        def ctx() -> TurnContext:
            return turn["ctx"]

        async def plan(state: AgentState) -> dict[str, Any]:
            emit = get_stream_writer()
            turns = state.get("turns") or []
            question = state["question"]
            turn["ctx"] = TurnContext(
                tenant=tenant, question=question, registry=registry, ledger=ledger,
                emit=emit, checker=OpinionCitationChecker(self.kb, tenant),
            )  # fmt: skip
            previous = turns[-1]["query"] if turns else None
            p = plan_question(
                question, previous_query=previous, available=registry.names,
                document_ids=docs, categories=registry.clause_categories(),
            )  # fmt: skip
            if p.follow_up:
                emit(StatusEvent(stage="planning", message=f"follow-up: searching for {p.query!r}"))
            if self.checked:
                ctx().intents, ctx().open_part = intents(p.query)
                _plan_clause(p, ctx().intents, registry.names)
            mode: Literal["native", "planner", "evidence-only"]
            reason = ""
            if model is None:
                mode, reason = "evidence-only", "no language model configured"
            else:
                try:
                    mode = await self.resolve_mode()
                except LLMUnavailableError as exc:
                    mode, reason = "evidence-only", str(exc)
            if mode == "native":
                history: list[dict[str, Any]] = []
                for t in turns[-HISTORY_TURNS:]:
                    history += [{"role": "user", "content": t["question"]},
                                {"role": "assistant", "content": t["answer"]}]  # fmt: skip
                ctx().messages = [
                    {"role": "system", "content": _prompt("native_system")},
                    *history,
                    {"role": "user", "content": question},
                ]
            ctx().plan = p
            # Transient keys are reset: the checkpoint still holds the last turn's.
            return {
                "query": p.query,
                "mode": mode,
                "degraded_reason": reason,
                "prompt_evidence": [],
            }

        async def run_plan(state: AgentState) -> dict[str, Any]:
            c = ctx()
            c.emit(StatusEvent(stage="retrieving", message="searching your documents"))
            for i, call in enumerate(c.plan.calls):
                args = dict(call.arguments)
                if call.tool == "extract_clauses":
                    # One contract: the --doc one, else the top passage's document.
                    top_doc = docs[0] if docs and len(docs) == 1 else None
                    if top_doc is None and ledger.items:
                        top_doc = ledger.items[0].document_id
                    if top_doc is None:
                        continue
                    args["document_id"] = top_doc
                composable = self.checked and c.intents and not c.open_part
                if i > 0 and not c.warm_ups and state["mode"] == "planner" and ledger.items \
                        and not composable:
                    # The answer prompt starts with the evidence: prefill it
                    # while the other tools run (vLLM prefix cache).
                    messages = answer_messages(state, "", prefix_only=True)
                    c.warm_ups.append(asyncio.create_task(self._warm_up(messages)))
                await c.dispatch(call.tool, args, f"plan_{i}")
            top = ledger.items[:PROMPT_EVIDENCE]
            return {"prompt_evidence": [e.n for e in top]}

        def answer_messages(
            state: AgentState, tool_notes: str, *, prefix_only: bool = False
        ) -> list[dict[str, Any]]:
            """The planner-mode answer prompt. ``prefix_only``: just the
            evidence, a token prefix of the full prompt (for the warm-up)."""
            chosen = set(state.get("prompt_evidence") or [])
            top = [e for e in ledger.items if e.n in chosen] or ledger.items[:PROMPT_EVIDENCE]
            evidence = format_evidence(
                top, max_chars=PROMPT_EVIDENCE_CHARS, brief=True,
                focus=f"{state['question']} {state['query']}",
            )  # fmt: skip
            if prefix_only:
                user = evidence
            else:
                turns = state.get("turns") or []
                context = (
                    f"(Follow-up to: {turns[-1]['question']})\n"
                    if turns and state["query"] != state["question"]
                    else ""
                )
                user = _prompt("answer_user").format(
                    evidence=evidence + tool_notes, context=context, question=state["question"]
                )
            return [{"role": "system", "content": _prompt("answer_system")},
                    {"role": "user", "content": user}]  # fmt: skip

        async def answer(state: AgentState) -> dict[str, Any]:
            c = ctx()
            top = [e for e in ledger.items if e.n in set(state.get("prompt_evidence") or [])]
            offline = state["mode"] == "evidence-only" or model is None
            lead = self.checked and self._lead(c, bool(top) and not offline, offline)
            if lead:
                if offline:
                    reason = state.get("degraded_reason") or "unavailable"
                    source = "the contract's clause" if c.intents else "the opinions' own words"
                    if any(cl.reason == FIGURE_REASON for cl in c.claims):
                        source = "the report's statements"
                    c.emit(StatusEvent(stage="degraded", message=f"language model unavailable: "
                                       f"{reason}; answered from {source}"))  # fmt: skip
                return {}  # composed from the clause: the small model adds nothing checkable
            if offline:
                return self._degrade(c, state.get("degraded_reason") or "unavailable")
            if not top:
                c.token("I found no passage in your documents that answers this question.")
                return {}
            messages = answer_messages(state, self._tool_notes(c))
            c.emit(StatusEvent(stage="generating", message="writing the answer"))
            try:
                await self._stream_text(
                    c, messages, None, max_tokens=min(settings.llm.max_tokens, PLANNER_MAX_TOKENS)
                )
            except LLMUnavailableError as exc:
                if c.claims:  # the checked lead stands; the model's part is lost
                    c.emit(StatusEvent(stage="degraded", message=f"language model failed: {exc}"))
                    return {}
                if c.answer:
                    raise
                return self._degrade(c, str(exc))
            return {}

        async def call_model(state: AgentState) -> dict[str, Any]:
            c = ctx()
            assert model is not None
            tools = registry.schemas() if c.steps < settings.agent.max_steps else None
            if self.checked:
                c.gate = self._gate(c)
            c.emit(
                StatusEvent(
                    stage="generating", message="thinking" if tools else "writing the answer"
                )
            )
            try:
                calls = await self._stream_text(c, c.messages, tools)
            except LLMUnavailableError as exc:
                if c.answer:
                    raise
                tool = registry.retrieval
                if tool is not None and not ledger.items:
                    await c.dispatch("search_documents", {"query": state["query"]}, "fallback_0")
                return {"mode": "evidence-only", **self._degrade(c, str(exc))}
            if calls:
                c.messages.append({
                    "role": "assistant", "content": None,
                    "tool_calls": [{"id": t.id, "type": "function",
                                    "function": {"name": t.name, "arguments": t.arguments}} for t in calls],
                })  # fmt: skip
            c.pending = calls
            return {}

        async def run_tools(state: AgentState) -> dict[str, Any]:
            c = ctx()
            c.steps += 1
            for call in c.pending:
                result = await c.dispatch(call.name, call.arguments, call.id)
                c.messages.append({"role": "tool", "tool_call_id": call.id,
                                   "content": fence_tool_output(call.name, result)})  # fmt: skip
            c.answer_parts.clear()  # text streamed alongside tool calls is not the answer
            c.gate = None
            return {}

        async def finish(state: AgentState) -> dict[str, Any]:
            c = ctx()
            top_ns = set(state.get("prompt_evidence") or [])
            top: list[Evidence] = [e for e in ledger.items if e.n in top_ns] or ledger.items[
                :PROMPT_EVIDENCE
            ]
            degraded = state.get("mode") == "evidence-only"
            if self.checked and (not degraded or c.claims):
                verified, dropped = await self._finish_checked(c, docs)
            else:
                verified, dropped = c.cite(top)
            total = time.perf_counter() - c.started
            c.emit(DoneEvent(
                answer=c.answer, citations=verified, dropped=dropped, tool_calls=c.tool_calls,
                usage={"prompt_tokens": c.usage.prompt_tokens,
                       "completion_tokens": c.usage.completion_tokens,
                       "total_tokens": c.usage.total_tokens},
                timings=Timings(retrieval_s=round(c.retrieval_s, 3), tools_s=round(c.tools_s, 3),
                                ttft_s=None if c.ttft_s is None else round(c.ttft_s, 3),
                                total_s=round(total, 3)),
                session_id=session_id, query=state["query"], planner=state["mode"], degraded=degraded,
                claims=[claim.to_json() for claim in c.claims],
            ))  # fmt: skip
            logger.info("agent.answered mode=%s citations=%d dropped=%d total_s=%.2f",
                        state["mode"], len(verified), len(dropped), total)  # fmt: skip
            sources = [{"n": v.n, "document_id": v.document_id, "document": v.document, "page": v.page}
                       for v in verified]  # fmt: skip
            return {"turns": [Turn(question=state["question"], query=state["query"],
                                   answer=c.answer, sources=sources)]}  # fmt: skip

        def after_plan(state: AgentState) -> str:
            return "model" if state["mode"] == "native" else "run_plan"

        def after_model(state: AgentState) -> str:
            if state.get("mode") == "evidence-only":
                return "finish"
            return "tools" if ctx().pending else "finish"

        g = StateGraph(AgentState)
        g.add_node("plan", plan)
        g.add_node("run_plan", run_plan)
        g.add_node("answer", answer)
        g.add_node("model", call_model)
        g.add_node("tools", run_tools)
        g.add_node("finish", finish)
        g.add_edge(START, "plan")
        g.add_conditional_edges("plan", after_plan, ["model", "run_plan"])
        g.add_edge("run_plan", "answer")
        g.add_edge("answer", "finish")
        g.add_conditional_edges("model", after_model, ["tools", "finish"])
        g.add_edge("tools", "model")
        g.add_edge("finish", END)
        return g

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
        c.claims = claims
        for citation in verified:
            c.emit(CitationEvent(citation=citation))
        for citation, reason in dropped:
            c.emit(CitationEvent(citation=citation, reason=reason))
        for claim in claims:
            c.emit(ClaimEvent(**claim.to_json()))
        text = answer_text(claims)
        streamed = " ".join(c.answer.split())
        c.answer_parts[:] = [text]
        c.emit(AnswerEvent(text=text, retracted=streamed != " ".join(text.split())))
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
        items = c.evidence_only_answer(reason, _prompt("degraded"))
        return {"mode": "evidence-only", "prompt_evidence": [e.n for e in items]}

    @staticmethod
    def new_session_id() -> str:
        return uuid.uuid4().hex[:16]
