"""The Tool seam: what the agent can call, and how a call is made safely.

A tool has a ``name``, a ``description`` and a pydantic ``input_model`` whose
JSON schema is what the language model sees; ``run`` takes a validated
instance of that model and returns a :class:`ToolResult`.

Failure semantics:

- ``Tool.run`` raises :class:`~core.errors.ToolError` (or a subclass) for
  failures the model should hear about (bad input it could not express in the
  schema, a sandbox violation, a timeout, ...).
- :func:`call_tool` is the one way the agent invokes a tool. It validates the
  raw arguments, runs the tool, and turns argument errors and ``ToolError``
  into ``ToolResult(is_error=True)`` so the agent can pass the message back to
  the model and go on. It never raises for tool-side failures; only bugs
  (exceptions that are not ``ToolError``) and cancellation propagate.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, Field, ValidationError

from core.errors import ToolError

__all__ = ["Tool", "ToolResult", "call_tool", "tool_schema"]

logger = logging.getLogger(__name__)

#: Longest validation message passed back to the model.
_MAX_ERROR_CHARS = 2000


class ToolResult(BaseModel):
    """What a tool call produced.

    ``content`` is the text the model sees; ``data`` is a structured payload
    for events and the UI (never sent to the model); ``is_error`` marks a
    failed call whose ``content`` explains why.
    """

    content: str
    data: dict[str, Any] = Field(default_factory=dict)
    is_error: bool = False


@runtime_checkable
class Tool(Protocol):
    """Something the agent can call.

    ``name`` is unique in a registry and matches ``^[a-zA-Z0-9_-]{1,64}$``
    (the OpenAI function-name rule). ``input_model``'s JSON schema is the
    parameter schema the model sees. ``run`` receives an instance of
    ``input_model`` and raises :class:`~core.errors.ToolError` on failure.
    """

    name: str
    description: str
    input_model: type[BaseModel]

    async def run(self, args: BaseModel) -> ToolResult: ...


def tool_schema(tool: Tool) -> dict[str, Any]:
    """The OpenAI ``{"type": "function", "function": {...}}`` spec of ``tool``."""
    parameters = tool.input_model.model_json_schema()
    # The model needs the parameter schema, not the pydantic class name.
    parameters.pop("title", None)
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": parameters,
        },
    }


def _parse_args(tool: Tool, raw_args: str | dict[str, Any] | None) -> BaseModel:
    """Validate ``raw_args`` (JSON text or a dict) into ``tool.input_model``.

    Raises ``ToolError("invalid arguments: ...")`` on bad JSON or a schema
    mismatch.
    """
    if raw_args is None or (isinstance(raw_args, str) and not raw_args.strip()):
        raw_args = {}
    if isinstance(raw_args, str):
        try:
            raw_args = json.loads(raw_args)
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"invalid arguments: not valid JSON ({exc.msg} at char {exc.pos})"
            ) from exc
    if not isinstance(raw_args, dict):
        raise ToolError(f"invalid arguments: expected a JSON object, got {type(raw_args).__name__}")
    try:
        return tool.input_model.model_validate(raw_args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ToolError(f"invalid arguments: {problems}"[:_MAX_ERROR_CHARS]) from exc


async def call_tool(tool: Tool, raw_args: str | dict[str, Any] | None) -> ToolResult:
    """Validate ``raw_args`` and run ``tool``; failures become error results.

    Bad JSON or a pydantic ``ValidationError`` gives
    ``ToolResult(is_error=True, content="invalid arguments: ...")``; a
    ``ToolError`` raised by ``run`` gives ``ToolResult(is_error=True,
    content=str(err))``. Other exceptions (bugs) and cancellation propagate.
    """
    try:
        args = _parse_args(tool, raw_args)
    except ToolError as exc:
        logger.info("tools.invalid_arguments tool=%s", tool.name)
        return ToolResult(content=str(exc), is_error=True, data={"error": type(exc).__name__})
    try:
        return await tool.run(args)
    except ToolError as exc:
        logger.info("tools.failed tool=%s error=%s", tool.name, type(exc).__name__)
        message = str(exc) or f"{tool.name} failed ({type(exc).__name__})"
        return ToolResult(content=message, is_error=True, data={"error": type(exc).__name__})
