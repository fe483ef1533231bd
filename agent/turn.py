"""One turn of the agent: tool dispatch, timings, citations and the evidence-only answer.

:class:`TurnContext` is the per-question state that is *not* persisted in the
conversation memory: the evidence ledger, the tools, the event writer, the
model messages of native tool calling, usage and timings.
"""

from __future__ import annotations

import html
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.citations import (
    CitationChecker,
    attach_by_overlap,
    best_evidence,
    citation_for,
    cited_numbers,
    split_sentences,
)
from agent.events import CitationEvent, StatusEvent, TokenEvent, ToolCallEvent, ToolResultEvent
from agent.llm import Message, UsageReport
from core.types import Citation
from tools.base import ToolResult, call_tool
from tools.registry import ToolRegistry
from tools.retrieval import Evidence, EvidenceLedger, excerpt, neutralise_instructions

__all__ = ["TurnContext", "fence_tool_output"]

logger = logging.getLogger(__name__)

#: Longest tool output (characters) passed back to the model.
MAX_TOOL_CONTENT = 12_000
#: Longest tool output (characters) quoted in the planner-mode answer prompt.
NOTE_CHARS = 400


def fence_tool_output(
    name: str, result: ToolResult, max_chars: int = MAX_TOOL_CONTENT, focus: str | None = None
) -> str:
    """The text the model sees for a tool result.

    ``search_documents`` output is already fenced and neutralised evidence.
    Every other tool's text (clause quotes, printed output, error messages) may
    carry document text too, so it gets the same treatment: sentences that
    address an AI model are withheld (:func:`tools.retrieval.neutralise_instructions`),
    and the rest is escaped and wrapped in ``<tool_output>`` so nothing a tool
    returns can close the fence. A long text is cut to the sentences closest
    to ``focus`` (:func:`tools.retrieval.excerpt`).
    """
    if name == "search_documents" and not result.is_error:
        content = result.content
        return excerpt(content, max_chars, focus) if len(content) > max_chars else content
    content, _ = neutralise_instructions(result.content)
    if len(content) > max_chars:
        content = excerpt(content, max_chars, focus)
    status = "error" if result.is_error else "ok"
    return (
        f'<tool_output tool="{html.escape(name, quote=True)}" status="{status}">\n'
        f"{html.escape(content, quote=False)}\n</tool_output>"
    )


@dataclass
class TurnContext:
    """Everything one question needs while it is being answered."""

    tenant: str
    question: str
    registry: ToolRegistry
    ledger: EvidenceLedger
    emit: Callable[[Any], None]
    checker: CitationChecker
    started: float = field(default_factory=time.perf_counter)
    messages: list[Message] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tools_s: float = 0.0
    ttft_s: float | None = None
    usage: UsageReport = field(default_factory=UsageReport)
    answer_parts: list[str] = field(default_factory=list)
    steps: int = 0
    #: The deterministic plan (planner mode) and the pending native tool calls.
    plan: Any = None
    pending: list[Any] = field(default_factory=list)
    #: Fenced output of each successful non-retrieval tool call, by call id.
    fenced: dict[str, str] = field(default_factory=dict)
    #: Prompt warm-up requests in flight (held so they are not collected).
    warm_ups: list[Any] = field(default_factory=list)
    #: Checked answers: the contract term asked about, the ``data`` of each
    #: successful extract_clauses call, the claims so far, the model's gate.
    intents: list[Any] = field(default_factory=list)
    #: Part of the question is not about a contract term (the model answers it).
    open_part: bool = True
    clause_data: list[dict[str, Any]] = field(default_factory=list)
    claims: list[Any] = field(default_factory=list)
    gate: Any = None

    # -- tools -----------------------------------------------------------------

    async def dispatch(
        self, name: str, raw_args: str | dict[str, Any] | None, call_id: str
    ) -> ToolResult:
        """Run one tool call; never raises for bad arguments or tool failures.

        Unknown tools, invalid JSON, schema mismatches, ``ToolError`` and even
        unexpected exceptions inside a tool all become an error
        :class:`ToolResult` whose text goes back to the model.
        """
        shown: dict[str, Any] | str
        if isinstance(raw_args, dict):
            shown = raw_args
        else:
            try:
                parsed = json.loads(raw_args or "{}")
                shown = parsed if isinstance(parsed, dict) else str(raw_args)
            except json.JSONDecodeError:
                shown = str(raw_args)[:2000]
        self.emit(ToolCallEvent(id=call_id, name=name, arguments=shown))
        tool = self.registry.get(name)
        t0 = time.perf_counter()
        if tool is None:
            known = ", ".join(sorted(self.registry.names)) or "none"
            result = ToolResult(content=f"unknown tool {name!r}; available: {known}", is_error=True)
        else:
            try:
                result = await call_tool(tool, raw_args)
            except Exception as exc:  # a bug in a tool must not end the answer
                logger.exception("agent.tool_crashed tool=%s", name)
                result = ToolResult(
                    content=f"{name} failed unexpectedly ({type(exc).__name__})",
                    is_error=True,
                    data={"error": type(exc).__name__},
                )
        seconds = time.perf_counter() - t0
        if name != "search_documents":
            self.tools_s += seconds
        self.tool_calls.append(
            {"id": call_id, "name": name, "arguments": shown, "is_error": result.is_error,
             "seconds": round(seconds, 3)}
        )  # fmt: skip
        if name == "extract_clauses" and not result.is_error:
            self.clause_data.append(result.data)
        if name != "search_documents" and not result.is_error:
            self.fenced[call_id] = fence_tool_output(
                name, result, max_chars=NOTE_CHARS, focus=self.question
            )
        first_line = (result.content.strip().splitlines() or [""])[0]
        summary = first_line[:200] if result.is_error else _summary(name, result)
        self.emit(
            ToolResultEvent(
                id=call_id, name=name, is_error=result.is_error, summary=summary,
                data=result.data, seconds=round(seconds, 3),
            )
        )  # fmt: skip
        return result

    @property
    def retrieval_s(self) -> float:
        tool = self.registry.retrieval
        return tool.seconds if tool is not None else 0.0

    # -- answer text -----------------------------------------------------------

    def token(self, text: str) -> None:
        if not text:
            return
        if self.ttft_s is None:
            self.ttft_s = time.perf_counter() - self.started
        self.answer_parts.append(text)
        self.emit(TokenEvent(text=text))

    @property
    def answer(self) -> str:
        return "".join(self.answer_parts)

    def add_usage(self, usage: UsageReport) -> None:
        self.usage = UsageReport(
            self.usage.prompt_tokens + usage.prompt_tokens,
            self.usage.completion_tokens + usage.completion_tokens,
        )

    # -- citations -------------------------------------------------------------

    def cite(self, prompt_evidence: list[Evidence]) -> tuple[list[Citation], list[Citation]]:
        """Build, check and announce the citations of the answer so far.

        ``[n]`` markers map to ledger items (the quote is the item's sentence
        closest to the answer sentence carrying the marker). With no usable
        marker, evidence is attached by lexical overlap (markers are appended
        to the answer as tokens); failing that, the prompt passage whose best
        sentence is closest to the question. Returns
        (verified, dropped); a ``citation`` event is emitted for each.
        """
        answer = self.answer
        candidates: list[Citation] = []
        for n in cited_numbers(answer):
            item = self.ledger.get(n)
            if item is None:
                self.emit(
                    StatusEvent(stage="citations", message=f"[{n}] refers to no evidence passage")
                )
                continue
            marker = re.compile(rf"\[[^\]]*\b{n}\b[^\]]*\]")
            context = next((s for s in split_sentences(answer) if marker.search(s)), answer)
            candidates.append(citation_for(item, f"{context} {self.question}"))
        if not candidates:
            pool = prompt_evidence or self.ledger.items
            used = attach_by_overlap(answer, pool)
            fallback = best_evidence(self.question, pool) if not used else None
            if fallback is not None:
                used = [fallback]
                self.emit(
                    StatusEvent(
                        stage="citations",
                        message="answer not matched to evidence; citing the passage "
                        "closest to the question",
                    )
                )
            if used:
                self.token(" " + "".join(f"[{item.n}]" for item in used))
            reference = self.question if fallback is not None else f"{answer} {self.question}"
            candidates = [citation_for(item, reference) for item in used]
        verified, dropped = self.checker.check_all(candidates)
        for citation in verified:
            self.emit(CitationEvent(citation=citation))
        for citation, reason in dropped:
            self.emit(CitationEvent(citation=citation, reason=reason))
            self.emit(
                StatusEvent(stage="citations", message=f"citation [{citation.n}] dropped: {reason}")
            )
        return verified, [c for c, _ in dropped]

    def evidence_only_answer(self, reason: str, template: str, limit: int = 3) -> list[Evidence]:
        """Stream the degraded answer: top passages, each quoted with its marker."""
        items = self.ledger.items[:limit]
        self.token(template.format(reason=reason).strip())
        if not items:
            self.token("\n\nNo passage in your documents matches the question.")
        for item in items:
            quote = citation_for(item, self.question).quote
            self.token(f'\n\n[{item.n}] {item.document}, page {item.page}: "{quote}"')
        return items


def _summary(name: str, result: ToolResult) -> str:
    if name == "search_documents":
        n = len(result.data.get("evidence", []))
        return f"{n} passage{'' if n == 1 else 's'}"
    first = result.content.strip().splitlines()[0] if result.content.strip() else ""
    return first[:200].rstrip(":")
