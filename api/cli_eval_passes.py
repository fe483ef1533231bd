"""Asking an eval's questions through the agent of ``dossier ask``: one pass
per answer composition, each with its own LLM client, all in one event loop
(the knowledge base's async clients are bound to the loop that first used
them, so a second ``asyncio.run`` would find them closed)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from api.cli import err, get_settings
from api.cli_eval import _advance, _progress

__all__ = ["LimitOpt", "NoLlmOpt", "agent_passes", "eval_container", "eval_llm"]

LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="The first N questions (file order).")
]
NoLlmOpt = Annotated[
    bool, typer.Option("--no-llm", help="No language model: composed/evidence answers only.")
]


@contextmanager
def eval_container(ctx: typer.Context, kb: Path | None, prefix: str) -> Iterator[Any]:
    """The services over ``kb``, or over a temporary one removed at the end."""
    from api.container import Container

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        container = Container(get_settings(ctx, kb or Path(tmp) / "kb"))
        try:
            yield container
        finally:
            container.close()


@contextmanager
def eval_llm(settings: Any, use_llm: bool) -> Iterator[str | None]:
    """The LLM server's URL (None without one): ``llm.base_url`` when set, else
    the embedded server, stopped at the end if this command started it."""
    from agent.local_vllm import LocalVLLMServer, ensure_local_llm

    if not use_llm or settings.llm.base_url is not None:
        yield settings.llm.base_url if use_llm else None
        return
    started = not LocalVLLMServer(settings).status().running
    err.print("[dim]starting the embedded LLM…[/dim]")
    url = ensure_local_llm(settings)
    try:
        yield url
    finally:
        if started:
            LocalVLLMServer(settings).stop()


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
