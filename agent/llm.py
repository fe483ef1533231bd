"""The language-model client: any OpenAI-compatible chat server (vLLM in production).

:class:`ChatModel` is the seam the agent codes against; :class:`OpenAIChatModel`
implements it on the ``openai`` async client.

Semantics:

- ``stream`` yields :data:`ChatEvent` values: :class:`TokenDelta` for each
  piece of answer text, one :class:`ToolCallRequest` per tool call once its
  streamed fragments are fully assembled, one :class:`UsageReport` and finally
  one :class:`Finish`.
- Connection errors, timeouts and 5xx answers are retried with exponential
  backoff (``settings.max_retries``) *only before the first token*; once text
  has been streamed a failure is raised, never silently replayed.
- Every failure leaves as :class:`~core.errors.LLMUnavailableError` (cannot
  reach the server, timed out, 503) or :class:`~core.errors.LLMResponseError`
  (the server answered with an error or something malformed).
- Structured output: pass ``json_schema`` (sent as the standard
  ``response_format={"type": "json_schema", ...}``, which vLLM enforces) or a
  raw ``response_format``/``extra_body``. vLLM >= 0.12 silently ignores the
  legacy ``extra_body={"guided_json": schema}``; it is translated to
  ``structured_outputs={"json": schema}`` here so callers keep working.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx
import openai

from core.errors import LLMResponseError, LLMUnavailableError
from core.settings import LLMSettings

__all__ = [
    "ChatCompletion",
    "ChatEvent",
    "ChatModel",
    "Finish",
    "Message",
    "OpenAIChatModel",
    "TokenDelta",
    "ToolCallRequest",
    "UsageReport",
]

logger = logging.getLogger(__name__)

#: One OpenAI-format chat message (``{"role": ..., "content": ..., ...}``).
Message = dict[str, Any]


@dataclass(frozen=True)
class TokenDelta:
    """A piece of answer text, in order."""

    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    """A complete tool call. ``arguments`` is the raw JSON text the model wrote
    (possibly invalid: the tool dispatcher validates it)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class UsageReport:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Finish:
    """The last event of a stream. ``reason``: "stop", "length", "tool_calls", ..."""

    reason: str | None


ChatEvent = TokenDelta | ToolCallRequest | UsageReport | Finish


@dataclass
class ChatCompletion:
    """A whole (non-streamed) answer, as :meth:`ChatModel.complete` returns it."""

    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    usage: UsageReport = field(default_factory=UsageReport)
    finish_reason: str | None = None


@runtime_checkable
class ChatModel(Protocol):
    """An OpenAI-style chat model.

    ``tools`` are OpenAI function specs (``tools.base.tool_schema``).
    ``supports_tools`` says whether the server accepts ``tools`` with
    ``tool_choice="auto"`` (vLLM needs ``--enable-auto-tool-choice``).
    """

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **options: Any,
    ) -> AsyncIterator[ChatEvent]: ...

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **options: Any,
    ) -> ChatCompletion: ...

    async def supports_tools(self) -> bool: ...


async def _back_off(attempt: int, attempts: int, exc: Exception) -> None:
    """Exponential pause (0.5 s, 1 s, 2 s, … at most 4 s) before retry ``attempt + 1``."""
    delay = min(0.5 * 2**attempt, 4.0)
    logger.warning(
        "llm.retry attempt=%d/%d error=%s delay=%.1f",
        attempt + 1, attempts, type(exc).__name__, delay,
    )  # fmt: skip
    await asyncio.sleep(delay)


class OpenAIChatModel:
    """:class:`ChatModel` over an OpenAI-compatible HTTP server.

    ``base_url`` ends in ``/v1``; ``settings.model`` None means the first model
    the server lists at ``/v1/models`` (resolved once, lazily).
    Options accepted by ``stream``/``complete``: ``max_tokens``,
    ``temperature``, ``stop``, ``json_schema``, ``response_format``,
    ``extra_body``.
    """

    def __init__(self, settings: LLMSettings, base_url: str | None = None) -> None:
        url = base_url or settings.base_url
        if not url:
            raise LLMUnavailableError("no LLM base URL configured (DOSSIER_LLM__BASE_URL)")
        self.settings = settings
        self.base_url = url.rstrip("/")
        self._model: str | None = settings.model
        self._tools_supported: bool | None = None
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=settings.api_key.get_secret_value() or "EMPTY",
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            max_retries=0,  # retries are ours: only before the first token
        )

    async def aclose(self) -> None:
        await self._client.close()

    # -- model discovery -------------------------------------------------------

    async def model_name(self) -> str:
        """The served model id (configured, or the first one the server lists)."""
        if self._model is None:
            page = await self._with_retries(self._client.models.list)
            ids = [m.id for m in page.data]
            if not ids:
                raise LLMResponseError(f"{self.base_url}/models lists no model")
            self._model = ids[0]
            logger.info("llm.model_resolved model=%s", self._model)
        return self._model

    async def supports_tools(self) -> bool:
        """Probe once: does the server accept ``tools`` with ``tool_choice="auto"``?"""
        if self._tools_supported is None:
            probe_tool = {
                "type": "function",
                "function": {
                    "name": "noop",
                    "description": "Does nothing.",
                    "parameters": {"type": "object", "properties": {}},
                },
            }
            try:
                await self.complete(
                    [{"role": "user", "content": "ping"}], tools=[probe_tool], max_tokens=1
                )
                self._tools_supported = True
            except LLMResponseError:
                self._tools_supported = False
            logger.info(
                "llm.tool_probe base_url=%s native=%s", self.base_url, self._tools_supported
            )
        return self._tools_supported

    # -- requests --------------------------------------------------------------

    async def _request_kwargs(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        unknown = set(options) - {
            "max_tokens", "temperature", "stop", "json_schema", "response_format", "extra_body",
        }  # fmt: skip
        if unknown:
            raise TypeError(f"unknown chat options: {sorted(unknown)}")
        kwargs: dict[str, Any] = {
            "model": await self.model_name(),
            "messages": list(messages),
            "max_tokens": options.get("max_tokens") or self.settings.max_tokens,
            "temperature": options.get("temperature", self.settings.temperature),
        }
        if options.get("stop"):
            kwargs["stop"] = options["stop"]
        if tools:
            kwargs["tools"] = list(tools)
            kwargs["tool_choice"] = "auto"
        if options.get("json_schema") is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": options["json_schema"], "strict": True},
            }
        elif options.get("response_format") is not None:
            kwargs["response_format"] = options["response_format"]
        extra = dict(options.get("extra_body") or {})
        if "guided_json" in extra:  # removed from vLLM; keep old callers constrained
            schema = extra.pop("guided_json")
            extra.setdefault("structured_outputs", {})["json"] = schema
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    async def _with_retries(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            try:
                return await call(*args, **kwargs)
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                # APITimeoutError is an APIConnectionError.
                if attempt + 1 >= attempts:
                    raise _translate(exc, self.base_url) from exc
                await _back_off(attempt, attempts, exc)
            except openai.OpenAIError as exc:
                raise _translate(exc, self.base_url) from exc
        raise AssertionError("unreachable")

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **options: Any,
    ) -> AsyncIterator[ChatEvent]:
        """Stream one answer; see the module docstring for the event order."""
        kwargs = await self._request_kwargs(messages, tools, options)
        kwargs["stream"] = True
        kwargs["stream_options"] = {"include_usage": True}
        attempts = self.settings.max_retries + 1
        for attempt in range(attempts):
            started = False  # once anything reached the caller, never retry
            try:
                stream = await self._client.chat.completions.create(**kwargs)
                try:
                    async for event in _assemble(stream):
                        started = True
                        yield event
                finally:
                    await stream.close()
                return
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                if started or attempt + 1 >= attempts:
                    raise _translate(exc, self.base_url) from exc
                await _back_off(attempt, attempts, exc)
            except openai.OpenAIError as exc:
                raise _translate(exc, self.base_url) from exc
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
                raise LLMResponseError(f"malformed stream from {self.base_url}: {exc}") from exc

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **options: Any,
    ) -> ChatCompletion:
        """One whole answer (no streaming); same options and errors as ``stream``."""
        kwargs = await self._request_kwargs(messages, tools, options)
        response = await self._with_retries(self._client.chat.completions.create, **kwargs)
        if not response.choices:
            raise LLMResponseError(f"{self.base_url} returned no choices")
        choice = response.choices[0]
        calls = [
            ToolCallRequest(tc.id or f"call_{i}", tc.function.name, tc.function.arguments or "")
            for i, tc in enumerate(choice.message.tool_calls or [])
            if getattr(tc, "function", None) is not None
        ]
        usage = response.usage
        return ChatCompletion(
            text=choice.message.content or "",
            tool_calls=calls,
            usage=UsageReport(usage.prompt_tokens or 0, usage.completion_tokens or 0)
            if usage
            else UsageReport(),
            finish_reason=choice.finish_reason,
        )


async def _assemble(stream: Any) -> AsyncIterator[ChatEvent]:
    """Turn OpenAI stream chunks into ChatEvents; tool-call fragments are joined
    and emitted (in index order) after the last chunk, then usage and finish."""
    calls: dict[int, dict[str, str]] = {}
    usage = UsageReport()
    finish: str | None = None
    async for chunk in stream:
        if chunk.usage is not None:
            usage = UsageReport(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                yield TokenDelta(delta.content)
            for tc in delta.tool_calls or []:
                slot = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function is not None:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
            if choice.finish_reason:
                finish = choice.finish_reason
    for index in sorted(calls):
        slot = calls[index]
        yield ToolCallRequest(slot["id"] or f"call_{index}", slot["name"], slot["arguments"])
    yield usage
    yield Finish(finish)


def _translate(exc: openai.OpenAIError, base_url: str) -> LLMUnavailableError | LLMResponseError:
    """Map an ``openai`` exception onto the Dossier error tree."""
    if isinstance(exc, openai.APITimeoutError):
        return LLMUnavailableError(f"LLM server at {base_url} timed out")
    if isinstance(exc, openai.APIConnectionError):
        return LLMUnavailableError(f"cannot reach the LLM server at {base_url}: {exc}")
    if isinstance(exc, openai.APIStatusError):
        detail = _error_detail(exc)
        if exc.status_code in (502, 503, 504):
            return LLMUnavailableError(
                f"LLM server at {base_url} unavailable ({exc.status_code}): {detail}"
            )
        return LLMResponseError(f"LLM server at {base_url} answered {exc.status_code}: {detail}")
    return LLMResponseError(f"LLM call to {base_url} failed: {exc}")


def _error_detail(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        if message:
            return str(message)[:500]
    return str(exc)[:500]
