"""The nodes and wiring of one turn's LangGraph (see :mod:`agent.loop`).

``START -> plan -> (model <-> tools | run_plan -> answer) -> finish -> END``.
A :class:`TurnGraph` holds what one request shares (its tools, ledger, tenant,
documents, session) and the :class:`~agent.turn.TurnContext` that ``plan``
opens; each node is a method. The checked-answer and model helpers stay on
:class:`~agent.loop.Agent` (``_lead``, ``_finish_checked``, ``_stream_text``,
...), which the nodes call through ``self.agent``.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph

from agent.compose import intents
from agent.events import DoneEvent, StatusEvent, Timings
from agent.figures_answer import FIGURE_REASON
from agent.memory import Turn
from agent.opinion_answers import OpinionCitationChecker
from agent.planner import Plan, PlannedCall, plan_question
from agent.turn import TurnContext, fence_tool_output
from core.errors import LLMUnavailableError
from tools.registry import ToolRegistry
from tools.retrieval import Evidence, EvidenceLedger, format_evidence

if TYPE_CHECKING:
    from agent.loop import Agent

__all__ = ["AgentState", "TurnGraph", "prompt"]

logger = logging.getLogger(__name__)

_PROMPTS = Path(__file__).parent / "prompts"
#: Planner mode: passages in the answer prompt, their size, and the answer length.
PROMPT_EVIDENCE = 3
PROMPT_EVIDENCE_CHARS = 320
PLANNER_MAX_TOKENS = 160
#: Earlier turns replayed to the model in native mode.
HISTORY_TURNS = 3

Mode = Literal["native", "planner", "evidence-only"]


@cache
def prompt(name: str) -> str:
    """The text of ``agent/prompts/<name>.txt``."""
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
    mode: Mode
    prompt_evidence: list[int]
    degraded_reason: str


class TurnGraph:
    """One request's graph: :meth:`build` wires the node methods below."""

    def __init__(
        self,
        agent: Agent,
        registry: ToolRegistry,
        ledger: EvidenceLedger,
        tenant: str,
        docs: list[str] | None,
        session_id: str | None,
    ) -> None:
        self.agent = agent
        self.model = agent.chat_model
        self.settings = agent.settings
        self.registry = registry
        self.ledger = ledger
        self.tenant = tenant
        self.docs = docs
        self.session_id = session_id
        self.ctx: TurnContext  # opened by the plan node

    def build(self) -> StateGraph:
        g = StateGraph(AgentState)
        g.add_node("plan", self.plan)
        g.add_node("run_plan", self.run_plan)
        g.add_node("answer", self.answer)
        g.add_node("model", self.call_model)
        g.add_node("tools", self.run_tools)
        g.add_node("finish", self.finish)
        g.add_edge(START, "plan")
        g.add_conditional_edges("plan", self.after_plan, ["model", "run_plan"])
        g.add_edge("run_plan", "answer")
        g.add_edge("answer", "finish")
        g.add_conditional_edges("model", self.after_model, ["tools", "finish"])
        g.add_edge("tools", "model")
        g.add_edge("finish", END)
        return g

    # -- plan ------------------------------------------------------------------

    async def plan(self, state: AgentState) -> dict[str, Any]:
        emit = get_stream_writer()
        turns = state.get("turns") or []
        question = state["question"]
        self.ctx = c = TurnContext(
            tenant=self.tenant, question=question, registry=self.registry, ledger=self.ledger,
            emit=emit, checker=OpinionCitationChecker(self.agent.kb, self.tenant),
        )  # fmt: skip
        previous = turns[-1]["query"] if turns else None
        p = plan_question(
            question, previous_query=previous, available=self.registry.names,
            document_ids=self.docs, categories=self.registry.clause_categories(),
        )  # fmt: skip
        if p.follow_up:
            emit(StatusEvent(stage="planning", message=f"follow-up: searching for {p.query!r}"))
        if self.agent.checked:
            c.intents, c.open_part = intents(p.query)
            _plan_clause(p, c.intents, self.registry.names)
        mode, reason = await self._mode()
        if mode == "native":
            c.messages = _native_messages(turns, question)
        c.plan = p
        # Transient keys are reset: the checkpoint still holds the last turn's.
        return {"query": p.query, "mode": mode, "degraded_reason": reason, "prompt_evidence": []}

    async def _mode(self) -> tuple[Mode, str]:
        """The turn's mode, and why it is evidence-only when it is."""
        if self.model is None:
            return "evidence-only", "no language model configured"
        try:
            return await self.agent.resolve_mode(), ""
        except LLMUnavailableError as exc:
            return "evidence-only", str(exc)

    def after_plan(self, state: AgentState) -> str:
        return "model" if state["mode"] == "native" else "run_plan"

    # -- planner mode: run_plan -> answer ----------------------------------------

    async def run_plan(self, state: AgentState) -> dict[str, Any]:
        c, ledger = self.ctx, self.ledger
        c.emit(StatusEvent(stage="retrieving", message="searching your documents"))
        for i, call in enumerate(c.plan.calls):
            args = dict(call.arguments)
            if call.tool == "extract_clauses":
                top_doc = self._contract()
                if top_doc is None:
                    continue
                args["document_id"] = top_doc
            composable = self.agent.checked and c.intents and not c.open_part
            if (
                i > 0
                and not c.warm_ups
                and state["mode"] == "planner"
                and ledger.items
                and not composable
            ):
                # The answer prompt starts with the evidence: prefill it
                # while the other tools run (vLLM prefix cache).
                messages = self.answer_messages(state, "", prefix_only=True)
                c.warm_ups.append(asyncio.create_task(self.agent._warm_up(messages)))
            await c.dispatch(call.tool, args, f"plan_{i}")
        top = ledger.items[:PROMPT_EVIDENCE]
        return {"prompt_evidence": [e.n for e in top]}

    def _contract(self) -> str | None:
        """One contract: the --doc one, else the top passage's document."""
        if self.docs and len(self.docs) == 1:
            return self.docs[0]
        return self.ledger.items[0].document_id if self.ledger.items else None

    def answer_messages(
        self, state: AgentState, tool_notes: str, *, prefix_only: bool = False
    ) -> list[dict[str, Any]]:
        """The planner-mode answer prompt. ``prefix_only``: just the
        evidence, a token prefix of the full prompt (for the warm-up)."""
        evidence = format_evidence(
            self._top(state), max_chars=PROMPT_EVIDENCE_CHARS, brief=True,
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
            user = prompt("answer_user").format(
                evidence=evidence + tool_notes, context=context, question=state["question"]
            )
        return [{"role": "system", "content": prompt("answer_system")},
                {"role": "user", "content": user}]  # fmt: skip

    def _top(self, state: AgentState) -> list[Evidence]:
        """The prompt's evidence: the chosen passages, else the first ones."""
        chosen = set(state.get("prompt_evidence") or [])
        items = self.ledger.items
        return [e for e in items if e.n in chosen] or items[:PROMPT_EVIDENCE]

    async def answer(self, state: AgentState) -> dict[str, Any]:
        c, agent = self.ctx, self.agent
        top = [e for e in self.ledger.items if e.n in set(state.get("prompt_evidence") or [])]
        offline = state["mode"] == "evidence-only" or self.model is None
        lead = agent.checked and agent._lead(c, bool(top) and not offline, offline)
        if lead:
            if offline:
                self._answered_offline(state)
            return {}  # composed from the clause: the small model adds nothing checkable
        if offline:
            return agent._degrade(c, state.get("degraded_reason") or "unavailable")
        if not top:
            c.token("I found no passage in your documents that answers this question.")
            return {}
        messages = self.answer_messages(state, agent._tool_notes(c))
        c.emit(StatusEvent(stage="generating", message="writing the answer"))
        try:
            max_tokens = min(self.settings.llm.max_tokens, PLANNER_MAX_TOKENS)
            await agent._stream_text(c, messages, None, max_tokens=max_tokens)
        except LLMUnavailableError as exc:
            if c.claims:  # the checked lead stands; the model's part is lost
                c.emit(StatusEvent(stage="degraded", message=f"language model failed: {exc}"))
                return {}
            if c.answer:
                raise
            return agent._degrade(c, str(exc))
        return {}

    def _answered_offline(self, state: AgentState) -> None:
        """Say that the composed lead answered without the model, and from what."""
        c = self.ctx
        reason = state.get("degraded_reason") or "unavailable"
        source = "the contract's clause" if c.intents else "the opinions' own words"
        if any(cl.reason == FIGURE_REASON for cl in c.claims):
            source = "the report's statements"
        c.emit(StatusEvent(stage="degraded", message=f"language model unavailable: "
                           f"{reason.rstrip('. ')}; answered from {source}"))  # fmt: skip

    # -- native mode: model <-> tools ----------------------------------------------

    async def call_model(self, state: AgentState) -> dict[str, Any]:
        c, agent = self.ctx, self.agent
        assert self.model is not None
        steps_left = c.steps < self.settings.agent.max_steps
        tools = self.registry.schemas() if steps_left else None
        if agent.checked:
            c.gate = agent._gate(c)
        message = "thinking" if tools else "writing the answer"
        c.emit(StatusEvent(stage="generating", message=message))
        try:
            calls = await agent._stream_text(c, c.messages, tools)
        except LLMUnavailableError as exc:
            if c.answer:
                raise
            if self.registry.retrieval is not None and not self.ledger.items:
                await c.dispatch("search_documents", {"query": state["query"]}, "fallback_0")
            return {"mode": "evidence-only", **agent._degrade(c, str(exc))}
        if calls:
            c.messages.append({
                "role": "assistant", "content": None,
                "tool_calls": [{"id": t.id, "type": "function",
                                "function": {"name": t.name, "arguments": t.arguments}} for t in calls],
            })  # fmt: skip
        c.pending = calls
        return {}

    async def run_tools(self, state: AgentState) -> dict[str, Any]:
        c = self.ctx
        c.steps += 1
        for call in c.pending:
            result = await c.dispatch(call.name, call.arguments, call.id)
            c.messages.append({"role": "tool", "tool_call_id": call.id,
                               "content": fence_tool_output(call.name, result)})  # fmt: skip
        c.answer_parts.clear()  # text streamed alongside tool calls is not the answer
        c.gate = None
        return {}

    def after_model(self, state: AgentState) -> str:
        if state.get("mode") == "evidence-only":
            return "finish"
        return "tools" if self.ctx.pending else "finish"

    # -- finish ----------------------------------------------------------------------

    async def finish(self, state: AgentState) -> dict[str, Any]:
        c = self.ctx
        degraded = state.get("mode") == "evidence-only"
        if self.agent.checked and (not degraded or c.claims):
            verified, dropped = await self.agent._finish_checked(c, self.docs)
        else:
            verified, dropped = c.cite(self._top(state))
        total = time.perf_counter() - c.started
        c.emit(self._done(state, verified, dropped, total, degraded))
        logger.info("agent.answered mode=%s citations=%d dropped=%d total_s=%.2f",
                    state["mode"], len(verified), len(dropped), total)  # fmt: skip
        sources = [{"n": v.n, "document_id": v.document_id, "document": v.document, "page": v.page}
                   for v in verified]  # fmt: skip
        return {"turns": [Turn(question=state["question"], query=state["query"],
                               answer=c.answer, sources=sources)]}  # fmt: skip

    def _done(
        self, state: AgentState, verified: list[Any], dropped: list[Any], total: float,
        degraded: bool,
    ) -> DoneEvent:  # fmt: skip
        c = self.ctx
        return DoneEvent(
            answer=c.answer, citations=verified, dropped=dropped, tool_calls=c.tool_calls,
            usage={"prompt_tokens": c.usage.prompt_tokens,
                   "completion_tokens": c.usage.completion_tokens,
                   "total_tokens": c.usage.total_tokens},
            timings=Timings(retrieval_s=round(c.retrieval_s, 3), tools_s=round(c.tools_s, 3),
                            ttft_s=None if c.ttft_s is None else round(c.ttft_s, 3),
                            total_s=round(total, 3)),
            session_id=self.session_id, query=state["query"], planner=state["mode"],
            degraded=degraded, claims=[claim.to_json() for claim in c.claims],
        )  # fmt: skip


def _native_messages(turns: list[Turn], question: str) -> list[dict[str, Any]]:
    """Native mode's opening messages: the system prompt, the last turns, the question."""
    history: list[dict[str, Any]] = []
    for t in turns[-HISTORY_TURNS:]:
        history += [{"role": "user", "content": t["question"]},
                    {"role": "assistant", "content": t["answer"]}]  # fmt: skip
    return [
        {"role": "system", "content": prompt("native_system")},
        *history,
        {"role": "user", "content": question},
    ]
