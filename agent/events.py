"""What :meth:`agent.loop.Agent.stream_answer` yields: typed, JSON-serialisable events.

Order within one answer: ``status`` (any number), then for each tool call a
``tool_call`` followed by its ``tool_result``, then ``token`` events (the answer
text, in order), then one ``citation`` per citation (verified or dropped), then
exactly one ``done`` — or, when the loop cannot go on, one ``error`` as the last
event. Every event has a ``type`` discriminator and serialises with
:meth:`to_json` (the SSE ``data:`` payload and the CLI ``--json`` pieces).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from core.types import Citation

__all__ = [
    "AgentEvent",
    "AnswerEvent",
    "CitationEvent",
    "ClaimEvent",
    "DoneEvent",
    "ErrorEvent",
    "StatusEvent",
    "Timings",
    "TokenEvent",
    "ToolCallEvent",
    "ToolResultEvent",
    "parse_event",
]


class _Event(BaseModel):
    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class StatusEvent(_Event):
    """Progress for humans ("searching", "LLM unavailable: evidence only", ...)."""

    type: Literal["status"] = "status"
    message: str
    #: Machine-readable stage: planning, retrieving, tool, generating, degraded, citations.
    stage: str = "info"


class ToolCallEvent(_Event):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    #: The parsed arguments, or the raw text when it was not valid JSON.
    arguments: dict[str, Any] | str


class ToolResultEvent(_Event):
    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    is_error: bool = False
    #: Short human summary; the full text the model saw is not repeated here.
    summary: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


class TokenEvent(_Event):
    type: Literal["token"] = "token"
    text: str


class CitationEvent(_Event):
    """One citation after checking. ``verified=False`` means it was dropped:
    its quote is not on the cited page (``reason`` says why)."""

    type: Literal["citation"] = "citation"
    citation: Citation
    reason: str | None = None


class ClaimEvent(_Event):
    """One sentence of the answer after the claim check. Unsupported sentences
    are not in the answer; ``reason`` says why (e.g. a number the cited text
    does not state)."""

    type: Literal["claim"] = "claim"
    text: str
    supported: bool
    citations: list[int] = Field(default_factory=list)
    reason: str = ""


class AnswerEvent(_Event):
    """The checked answer text. It replaces every ``token`` streamed before it:
    ``retracted`` is true when the streamed text differed (a sentence was
    removed or a citation corrected)."""

    type: Literal["answer"] = "answer"
    text: str
    retracted: bool = False


class Timings(BaseModel):
    retrieval_s: float = 0.0
    tools_s: float = 0.0
    ttft_s: float | None = None
    total_s: float = 0.0


class DoneEvent(_Event):
    """The final event of a successful answer.

    ``citations`` holds only the verified ones; ``dropped`` the others.
    ``degraded`` is true for an evidence-only answer (LLM unavailable).
    """

    type: Literal["done"] = "done"
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    dropped: list[Citation] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] = Field(default_factory=dict)
    timings: Timings = Field(default_factory=Timings)
    session_id: str | None = None
    #: The standalone retrieval query (a follow-up rewritten with the earlier turn).
    query: str = ""
    planner: Literal["native", "planner", "evidence-only"] = "planner"
    degraded: bool = False
    #: The answer's sentences after the claim check (see :class:`ClaimEvent`).
    claims: list[dict[str, Any]] = Field(default_factory=list)


class ErrorEvent(_Event):
    type: Literal["error"] = "error"
    message: str
    error_type: str = "AgentError"


AgentEvent = Annotated[
    StatusEvent
    | ToolCallEvent
    | ToolResultEvent
    | TokenEvent
    | CitationEvent
    | ClaimEvent
    | AnswerEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]

_ADAPTER: TypeAdapter[Any] = TypeAdapter(AgentEvent)


def parse_event(data: dict[str, Any]) -> Any:
    """Rebuild an event from its :meth:`to_json` form (clients, tests)."""
    return _ADAPTER.validate_python(data)
