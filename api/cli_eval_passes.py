"""Asking an eval's questions through the agent of ``dossier ask``: one pass
per answer composition, each with its own LLM client, all in one event loop
(the knowledge base's async clients are bound to the loop that first used
them, so a second ``asyncio.run`` would find them closed)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from api.cli_eval import _advance, _progress

__all__ = ["agent_passes"]

T = TypeVar("T")
#: ``(agent, tenant, on_progress) -> result`` of one pass.
PassRunner = Callable[[Any, str, Callable[[int, int], None]], Awaitable[T]]


def agent_passes(container: Any, base_url: str | None, compositions: Sequence[str],
                 run_pass: PassRunner[T], total: int, show: bool) -> list[T]:  # fmt: skip
    """``run_pass`` once per composition (``agent.answers`` setting), in order."""
    from agent.llm import OpenAIChatModel
    from agent.loop import Agent

    async def one(composition: str, on_progress: Callable[[int, int], None]) -> T:
        settings = container.settings.model_copy(deep=True)
        settings.agent.answers = composition
        chat_model = None if base_url is None else OpenAIChatModel(settings.llm, base_url)
        try:
            agent = Agent(container.kb, chat_model, None, settings)
            return await run_pass(agent, settings.tenant, on_progress)
        finally:
            if chat_model is not None:
                await chat_model.aclose()

    async def every(progress: Any) -> list[T]:
        results = []
        for composition in compositions:
            task = progress.add_task(f"asking ({composition})", total=total)
            results.append(await one(composition, _advance(progress, task)))
        return results

    with _progress(show) as progress:
        return asyncio.run(every(progress))
