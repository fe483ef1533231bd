"""The OpenAI-compatible client against the real local vLLM server (and a dead port)."""

from __future__ import annotations

import json
import time

import pytest

from agent.llm import Finish, OpenAIChatModel, TokenDelta, UsageReport
from core.errors import LLMUnavailableError
from core.settings import LLMSettings
from tests.agent.conftest import closed_base_url

HELLO = [{"role": "user", "content": "Say hello in one word."}]


async def test_unreachable_server_fails_fast_with_unavailable() -> None:
    model = OpenAIChatModel(LLMSettings(connect_timeout_s=1, max_retries=1), closed_base_url())
    t0 = time.perf_counter()
    with pytest.raises(LLMUnavailableError, match="cannot reach"):
        async for _ in model.stream(HELLO):
            pass
    assert time.perf_counter() - t0 < 10
    await model.aclose()


def test_a_base_url_is_required() -> None:
    with pytest.raises(LLMUnavailableError):
        OpenAIChatModel(LLMSettings(), None)


@pytest.mark.llm
@pytest.mark.slow
async def test_stream_yields_tokens_usage_and_finish(llm_base_url: str) -> None:
    model = OpenAIChatModel(LLMSettings(max_tokens=16), llm_base_url)
    events = [e async for e in model.stream(HELLO)]
    tokens = [e for e in events if isinstance(e, TokenDelta)]
    assert tokens
    assert "".join(t.text for t in tokens).strip()
    usage = next(e for e in events if isinstance(e, UsageReport))
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 16
    assert isinstance(events[-1], Finish)
    assert await model.model_name() == "smollm2-135m-instruct"
    await model.aclose()


@pytest.mark.llm
@pytest.mark.slow
async def test_structured_output_follows_the_schema(llm_base_url: str) -> None:
    schema = {
        "type": "object",
        "properties": {
            "present": {"type": "boolean"},
            "state": {"type": "string", "maxLength": 20},
        },
        "required": ["present", "state"],
        "additionalProperties": False,
    }
    model = OpenAIChatModel(LLMSettings(max_tokens=40), llm_base_url)
    prompt = [{"role": "user", "content": "Governing law: Texas. Reply as JSON."}]
    for options in ({"json_schema": schema}, {"extra_body": {"guided_json": schema}}):
        result = await model.complete(prompt, **options)
        data = json.loads(result.text)
        assert set(data) == {"present", "state"}
        assert isinstance(data["present"], bool)
    await model.aclose()


@pytest.mark.llm
@pytest.mark.slow
async def test_smollm2_server_does_not_take_native_tools(llm_base_url: str) -> None:
    model = OpenAIChatModel(LLMSettings(), llm_base_url)
    assert await model.supports_tools() is False
    await model.aclose()
