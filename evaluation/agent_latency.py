"""Agent latency over a fixed question set: retrieval, tools, time to first
token, tokens/s and total per question, reported as p50/p95.

The caller (``dossier eval agent-latency``) builds the knowledge base and the
chat model; this module only drives :class:`agent.loop.Agent` and measures.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

from agent.events import DoneEvent, ErrorEvent, TokenEvent
from agent.llm import ChatModel
from agent.loop import Agent
from core.settings import Settings
from knowledge_base.service import KnowledgeBase

__all__ = ["QUESTIONS", "WARM_UP_QUESTION", "measure_agent_latency"]

#: Warms the server and the models before measuring; not one of ``QUESTIONS``,
#: so no measured prompt is already in the server's prefix cache.
WARM_UP_QUESTION = "What is the purpose of this agreement?"

#: A fixed mix: clause lookups (retrieval + clause tool), a date/arithmetic
#: question (run_python), and open questions naming a contract.
QUESTIONS = (
    "Which law governs the agreement?",
    "Can either party terminate the agreement for convenience?",
    "Is there a cap on liability, and how much is it?",
    "How long does the initial term last and does it renew automatically?",
    "What notice is required to terminate for breach?",
    "Are there any exclusivity or non-compete obligations?",
    "What insurance must be maintained?",
    "How many days are there between January 1, 2024 and March 1, 2024?",
)


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return round(ordered[index], 4)


async def measure_agent_latency(
    kb: KnowledgeBase,
    chat_model: ChatModel | None,
    settings: Settings,
    tenant: str,
    questions: Sequence[str] = QUESTIONS,
) -> dict[str, Any]:
    agent = Agent(kb, chat_model, None, settings)
    rows: list[dict[str, Any]] = []
    for question in questions:
        t0 = time.perf_counter()
        first_token: float | None = None
        tokens = 0
        done: DoneEvent | None = None
        error: str | None = None
        async for event in agent.stream_answer(question, tenant):
            if isinstance(event, TokenEvent):
                tokens += 1
                if first_token is None:
                    first_token = time.perf_counter() - t0
            elif isinstance(event, DoneEvent):
                done = event
            elif isinstance(event, ErrorEvent):
                error = event.message
        total = time.perf_counter() - t0
        completion = (done.usage.get("completion_tokens") if done else None) or tokens
        decode_s = total - (first_token or total)
        rows.append(
            {
                "question": question,
                "retrieval_s": done.timings.retrieval_s if done else None,
                "tools_s": done.timings.tools_s if done else None,
                "ttft_s": first_token,
                "total_s": round(total, 4),
                "prompt_tokens": (done.usage.get("prompt_tokens") if done else None),
                "completion_tokens": completion,
                "tokens_per_s": round(completion / decode_s, 2) if decode_s > 0 else None,
                "citations": len(done.citations) if done else 0,
                "degraded": done.degraded if done else None,
                "error": error,
            }
        )
    summary: dict[str, Any] = {"questions": len(rows)}
    for key in ("retrieval_s", "tools_s", "ttft_s", "total_s", "tokens_per_s", "prompt_tokens"):
        values = [r[key] for r in rows if r[key] is not None]
        summary[f"{key}_p50"] = round(statistics.median(values), 4) if values else None
        summary[f"{key}_p95"] = _pct(values, 0.95)
    summary["degraded_answers"] = sum(bool(r["degraded"]) for r in rows)
    summary["rows"] = rows
    return summary
