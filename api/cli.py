"""The `dossier` command line — the second composition root.

Every command accepts ``--kb DIR`` (same as ``DOSSIER_DATA_DIR``; default
``./dossier-data``) and ``--tenant T``. With ``--json`` the last line of stdout
is exactly one JSON value; progress and tables go to stderr.

Sub-command groups live in ``api/cli_<area>.py`` modules, each exposing
``register(app)``; they reach settings and backends through :func:`get_container`.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.errors import DossierError, NotFoundError
from core.settings import Settings, load_settings

__all__ = [
    "DocumentArg",
    "JsonOpt",
    "KbOpt",
    "TenantOpt",
    "app",
    "counted",
    "document_found",
    "emit_json",
    "fail",
    "get_container",
    "get_kb",
    "get_settings",
    "main",
]

app = typer.Typer(
    name="dossier",
    help="Dossier: self-hosted document analysis for legal teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

KbOpt = Annotated[
    Path | None,
    typer.Option("--kb", help="Knowledge-base directory (DOSSIER_DATA_DIR).", show_default=False),
]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Tenant (DOSSIER_TENANT).", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON value as the last line.")]
DocumentArg = Annotated[str, typer.Argument(help="Document id (see `dossier documents`).")]


@dataclass
class CliState:
    kb: Path | None = None
    tenant: str | None = None
    settings: Settings | None = None
    container: Any = None
    extra: dict[str, Any] = field(default_factory=dict)


def _state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj


def get_settings(ctx: typer.Context, kb: Path | None = None, tenant: str | None = None) -> Settings:
    """Settings for this invocation, built once; per-command ``--kb``/``--tenant``
    win over the global ones."""
    state = _state(ctx)
    if kb is not None:
        state.kb = kb
    if tenant is not None:
        state.tenant = tenant
    if state.settings is None:
        state.settings = load_settings(data_dir=state.kb, tenant=state.tenant)
        _quiet_libraries(state.settings.log_level)
        logging.basicConfig(
            level=state.settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
    return state.settings


def _quiet_libraries(log_level: str) -> None:
    """No library progress bars or advisory warnings on a person's screen:
    transformers' "Loading weights" bar and its ``loss_type=None`` warning
    (the embedder's model load). Errors still show; DOSSIER_LOG_LEVEL=DEBUG
    shows everything. Set before transformers is imported (it reads them once)."""
    if log_level.upper() == "DEBUG":
        return
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def get_container(ctx: typer.Context, kb: Path | None = None, tenant: str | None = None) -> Any:
    """The lazily-built backends (``api.container.Container``), closed at exit."""
    state = _state(ctx)
    settings = get_settings(ctx, kb, tenant)
    if state.container is None:
        from api.container import Container

        state.container = Container(settings)
        ctx.find_root().call_on_close(state.container.close)
    return state.container


def get_kb(ctx: typer.Context, kb: Path | None = None, tenant: str | None = None) -> Any:
    """The tenant-scoped knowledge base facade (``knowledge_base.service.KnowledgeBase``)."""
    return get_container(ctx, kb, tenant).kb


def emit_json(value: Any) -> None:
    """The ``--json`` contract: one JSON value on the last line of stdout."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``"1 file"``, ``"3 files"``, ``"2 summaries"`` (``plural`` when not noun + s)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


@contextmanager
def document_found(document_id: str) -> Iterator[None]:
    """A missing document ends the command with a clear error (exit 1)."""
    try:
        yield
    except NotFoundError as exc:
        raise fail(f"document {document_id} not found") from exc


@app.callback()
def _root(ctx: typer.Context, kb: KbOpt = None, tenant: TenantOpt = None) -> None:
    state = _state(ctx)
    state.kb, state.tenant = kb, tenant


# -- ingest ---------------------------------------------------------------------
@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Document kind (opinion, brief, contract, report, other) instead of the detected one.",
        ),
    ] = None,
    replaces: Annotated[
        str | None,
        typer.Option(
            "--replaces",
            metavar="ID",
            help="The one file given is a new version of document ID (it leaves search).",
        ),
    ] = None,
) -> None:
    """Ingest PDF, DOCX, TXT and MD files (folders recursively).

    A file is a new document, whatever its name, except when the same path was
    ingested before (re-running on a changed file makes its next version) or
    --replaces names the document it replaces."""
    from ingest.pipeline import IngestEvent, IngestResult, iter_input_files

    container = get_container(ctx, kb, tenant)
    settings = container.settings
    files = list(iter_input_files(paths))
    if not files:
        raise fail("no input files")
    from api.cli_citations import check_kind

    check_kind(kind)
    if replaces is not None and len(files) != 1:
        raise fail(f"--replaces takes exactly one file ({len(files)} given)")
    pipeline = container.pipeline
    totals = {"pages": 0, "chunks": 0}
    t0 = time.perf_counter()
    results: list[IngestResult] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=err,
        transient=False,
        disable=not err.is_terminal and json_out,
    ) as progress:
        task = progress.add_task("ingesting", total=len(files), rate="")

        def on_event(event: IngestEvent) -> None:
            if event.stage in ("done", "failed"):
                totals["pages"] += event.pages
                totals["chunks"] += event.chunks
                dt = max(time.perf_counter() - t0, 1e-6)
                done = progress.tasks[0].completed + 1
                progress.update(
                    task,
                    advance=1,
                    rate=f"{done / dt:.2f} files/s {totals['pages'] / dt:.1f} pages/s "
                    f"{totals['chunks'] / dt:.1f} chunks/s",
                )
            else:
                progress.update(task, description=f"{event.stage} {event.name[:40]}")

        container.embedder  # load the model before the clock matters  # noqa: B018
        results = pipeline.ingest_paths(
            files, settings.tenant, on_event=on_event, replaces=replaces, kind=kind
        )
    elapsed = time.perf_counter() - t0
    failed = [r for r in results if r.status == "failed"]
    table = Table(title=f"ingested {counted(len(results), 'file')} in {elapsed:.1f}s")
    for col in ("file", "status", "pages", "chunks", "document id / error"):
        table.add_column(col)
    for r in results:
        table.add_row(
            r.name,
            r.status,
            str(r.pages),
            str(r.chunks),
            r.error if r.status == "failed" else (r.document_id or ""),
            style="red" if r.status == "failed" else None,
        )
    err.print(table)
    if json_out:
        emit_json(
            {
                "results": [r.to_json() for r in results],
                "files": len(results),
                "failed": len(failed),
                "pages": sum(r.pages for r in results if r.status == "indexed"),
                "chunks": sum(r.chunks for r in results if r.status == "indexed"),
                "seconds": round(elapsed, 3),
            }
        )
    if failed:
        raise typer.Exit(1)


@app.command()
def documents(
    ctx: typer.Context, kb: KbOpt = None, tenant: TenantOpt = None, json_out: JsonOpt = False
) -> None:
    """List the tenant's documents."""
    from knowledge_base.report_tables import ReportStore

    container = get_container(ctx, kb, tenant)
    docs = container.catalog.list_documents(container.settings.tenant)
    if json_out:
        reports = ReportStore(container.catalog).profiles(container.settings.tenant)
        emit_json(
            [
                {
                    "id": d.id,
                    "name": d.name,
                    "pages": d.pages,
                    "chunks": d.chunks,
                    "status": str(d.status),
                    "version": d.version,
                    "sha256": d.sha256,
                    "created_at": d.created_at.isoformat() if d.created_at else None,
                    "report": reports[d.id].to_json() if d.id in reports else None,
                }
                for d in docs
            ]
        )
        return
    table = Table(title=counted(len(docs), "document"))
    for col in ("id", "name", "pages", "chunks", "status", "version"):
        table.add_column(col)
    for d in docs:
        table.add_row(d.id, d.name, str(d.pages), str(d.chunks), str(d.status), str(d.version))
    out.print(table)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", min=1, max=200)] = 8,
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | bm25")] = "hybrid",
    doc: Annotated[
        list[str] | None, typer.Option("--doc", help="Restrict to document id(s).")
    ] = None,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
    kind: Annotated[str | None, typer.Option("--kind", help="Only documents of this kind.")] = None,
    court: Annotated[
        str | None,
        typer.Option("--court", help="Only opinions of this court (courts-db id or name)."),
    ] = None,
    decided_from: Annotated[
        str | None,
        typer.Option("--decided-from", metavar="YYYY[-MM-DD]", help="Decided on or after."),
    ] = None,
    decided_to: Annotated[
        str | None,
        typer.Option("--decided-to", metavar="YYYY[-MM-DD]", help="Decided on or before."),
    ] = None,
) -> None:
    """Search the knowledge base; each hit names document, page and heading path."""
    if mode not in ("hybrid", "dense", "bm25"):
        raise fail(f"--mode must be hybrid, dense or bm25, not {mode!r}", 2)
    from api.cli_citations import search_scope

    container = get_container(ctx, kb, tenant)
    scope = search_scope(container, doc, kind, court, decided_from, decided_to)
    hits = container.kb.search(
        container.settings.tenant,
        query,
        k=k,
        mode=mode,  # type: ignore[arg-type]
        document_ids=scope,
    )
    if json_out:
        emit_json([h.to_json() for h in hits])
        return
    if not hits:
        out.print("no results")
    for h in hits:
        c = h.chunk
        path = " > ".join(c.heading_path)
        out.print(
            f"[bold]{h.rank}. {c.document_name}[/bold]  p.{c.page}  [dim]{path}[/dim]  "
            f"score {h.score:.4f}"
        )
        body = c.body if len(c.body) <= 600 else c.body[:600] + "…"
        out.print(body, highlight=False, markup=False)
        out.print()


@app.command()
def delete(
    ctx: typer.Context,
    document_id: DocumentArg,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Delete a document: its chunks, pages and stored original."""
    container = get_container(ctx, kb, tenant)
    with document_found(document_id):
        container.kb.delete_document(container.settings.tenant, document_id)
    if json_out:
        emit_json({"deleted": document_id})
    else:
        out.print(f"deleted {document_id}")


_SUBCOMMAND_MODULES = (
    "cli_llm",
    "cli_eval",
    "cli_citations",
    "cli_eval_answers",
    "cli_eval_reports",
    "cli_review",
    "cli_server",
    "cli_worker",
    "cli_tables",
)


def _register_subcommands() -> None:
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"api.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"api.{name}":
                continue
            raise
        module.register(app)


_register_subcommands()


def main() -> None:
    try:
        app()
    except DossierError as exc:
        err.print(f"[red]error:[/red] {exc}")
        sys.exit(1)
