"""``dossier serve``, ``dossier keys create|list|revoke``, ``dossier audit`` and
``dossier summarize``."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli import (
    JsonOpt,
    KbOpt,
    TenantOpt,
    counted,
    emit_json,
    err,
    fail,
    get_container,
    get_settings,
    out,
)
from core.errors import DossierError, NotFoundError
from ingest.pipeline import source_key

__all__ = ["register"]

keys_app = typer.Typer(help="API keys (bound to a tenant and a role).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("audit")(audit)
    app.command("summarize")(summarize)
    app.add_typer(keys_app, name="keys")


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (DOSSIER_API__HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (DOSSIER_API__PORT).")] = None,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker", help="Do not run jobs here (separate `dossier worker` processes do)."
        ),
    ] = False,
    no_llm: Annotated[
        bool, typer.Option("--no-llm", help="Do not start the embedded LLM.")
    ] = False,
    sign_in_key: Annotated[
        bool,
        typer.Option(
            "--sign-in-key",
            help="Create an admin key for --tenant and print it "
            "(to sign in to the web app; shown once).",
        ),
    ] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
) -> None:
    """Start the web app (at /) and the HTTP API (uvicorn) with the job worker
    and, unless DOSSIER_LLM__BASE_URL is set, the embedded LLM in the background."""
    import uvicorn

    from api.app import create_app

    settings = get_settings(ctx, kb, tenant)
    key = _web_sign_in_key(settings) if sign_in_key else None
    app = create_app(settings, worker=not no_worker, manage_llm=not no_llm)
    h, p = host or settings.api.host, port or settings.api.port
    url = f"http://{'127.0.0.1' if h in ('0.0.0.0', '::') else h}:{p}/"
    err.print(
        f"[dim]Dossier API on http://{h}:{p} (kb {settings.data_dir}); schema at /schema[/dim]"
    )
    err.print(f"Web app: [bold]{url}[/bold]", highlight=False)
    if key:
        err.print(f"Sign in with this admin key for tenant {settings.tenant!r} (shown once):")
        out.print(key, markup=False, highlight=False)
    try:
        uvicorn.run(app, host=h, port=p, log_level=settings.log_level.lower(),
                    access_log=False, timeout_graceful_shutdown=10)  # fmt: skip
    finally:  # the app's shutdown stops it too; this covers a shutdown cut short
        app.state.services.llm.stop_started()


def _web_sign_in_key(settings: Any) -> str:
    """A new admin key for the settings' tenant, labelled as made by serve."""
    from knowledge_base.catalog import Catalog

    catalog = Catalog(settings.catalog_url, settings.files_dir)
    try:
        key, _ = catalog.create_api_key(settings.tenant, "admin", "web sign-in (dossier serve)")
    finally:
        catalog.close()
    return key


# -- keys ------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    role: Annotated[str, typer.Option("--role", help="admin | member | reader")] = "reader",
    name: Annotated[str | None, typer.Option("--name", help="A label (who holds it).")] = None,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a key for --tenant; it is shown once and never stored."""
    container = get_container(ctx, kb, tenant)
    try:
        key, record = container.catalog.create_api_key(container.settings.tenant, role, name)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    if json_out:
        emit_json({"key": key, "id": record.id, "tenant": record.tenant, "role": record.role,
                   "name": record.name})  # fmt: skip
        return
    err.print(f"key {record.id} for tenant {record.tenant!r}, role {record.role} "
              "(shown once; store it now):")  # fmt: skip
    out.print(key, markup=False, highlight=False)


@keys_app.command("list")
def keys_list(
    ctx: typer.Context,
    all_tenants: Annotated[bool, typer.Option("--all", help="Every tenant's keys.")] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Keys (prefix only, never the key), revoked ones included."""
    container = get_container(ctx, kb, tenant)
    records = container.catalog.list_api_keys(None if all_tenants else container.settings.tenant)
    if json_out:
        emit_json([r.model_dump(mode="json") for r in records])
        return
    table = Table(title=counted(len(records), "key"))
    for col in ("id", "prefix", "tenant", "role", "name", "created", "revoked"):
        table.add_column(col)
    for r in records:
        table.add_row(r.id, r.prefix + "…", r.tenant, r.role, r.name or "",
                      r.created_at.isoformat(timespec="seconds"),
                      r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "")  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key's id (see `dossier keys list`).")],
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Revoke a key for good: requests with it get 401 from now on."""
    container = get_container(ctx, kb)
    try:
        container.catalog.revoke_api_key(key_id)
    except NotFoundError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        emit_json({"revoked": key_id})
    else:
        out.print(f"revoked {key_id}")


# -- audit -----------------------------------------------------------------------
def audit(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO 8601 time (UTC if naive).")
    ] = None,
    all_tenants: Annotated[bool, typer.Option("--all", help="Every tenant.")] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Export the audit log. --json: one JSON object per line (JSON lines)."""
    container = get_container(ctx, kb, tenant)
    when = None
    if since:
        try:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError as exc:
            raise fail(f"--since: not an ISO 8601 time: {since!r}", 2) from exc
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    scope = None if all_tenants else container.settings.tenant
    rows, last_id = [], None
    while True:  # page through (audit_entries returns at most `limit`)
        batch = container.catalog.audit_entries(scope, since=when, limit=1000)
        fresh = [e for e in batch if last_id is None or e.id > last_id]
        rows.extend(fresh)
        if len(batch) < 1000 or not fresh:
            break
        when, last_id = fresh[-1].created_at, fresh[-1].id
    for entry in rows:
        if json_out:
            sys.stdout.write(json.dumps(entry.model_dump(mode="json"), ensure_ascii=False) + "\n")
        else:
            out.print(f"{entry.created_at.isoformat(timespec='seconds')}  {entry.tenant}  "
                      f"{entry.actor}  {entry.action}  {json.dumps(entry.detail)[:160]}",
                      markup=False, highlight=False)  # fmt: skip
    sys.stdout.flush()


# -- summarize -------------------------------------------------------------------
def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._") or "document"


def summarize(
    ctx: typer.Context,
    targets: Annotated[
        list[str], typer.Argument(help="Files to ingest and summarise, or document ids.")
    ],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Folder for <name>.md/.json and digest.md/.json/.csv "
            "(reports: a comparison table of their results).",
        ),
    ],
    method: Annotated[str, typer.Option("--method", help="auto | extractive | llm")] = "extractive",
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Cited summaries per document plus a digest. A report (10-K, 10-Q, ...)
    leads with its results from the statements, then drivers and risks; the
    digest compares the reports (digest.csv). Documents whose JSON is already
    in --out (same document id) are not redone."""
    from api.services.summaries import (
        SummaryService,
        render_digest_csv,
        render_digest_markdown,
        render_summary_markdown,
    )

    if method not in ("auto", "extractive", "llm"):
        raise fail(f"--method must be auto, extractive or llm, not {method!r}", 2)
    container = get_container(ctx, kb, tenant)
    settings, tenant_id = container.settings, container.settings.tenant
    base_url = settings.llm.base_url if method != "extractive" else None
    if method == "llm" and base_url is None:
        from agent.local_vllm import ensure_local_llm

        base_url = ensure_local_llm(settings)
    service = SummaryService(container.kb, llm_base_url=base_url, llm_settings=settings.llm)
    out_dir.mkdir(parents=True, exist_ok=True)
    summaries: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err) as progress:  # fmt: skip
        task = progress.add_task("summarising", total=len(targets))
        for target in targets:
            progress.update(task, description=f"summarising {Path(target).name[:40]}")
            try:
                doc_id = _document_id(container, tenant_id, target)
                record = container.kb.get_document(tenant_id, doc_id)
                stem = _slug(record.name)
                json_path = out_dir / f"{stem}.json"
                summary = _load_done(json_path, doc_id)
                if summary is None:
                    summary = service.summarize_document(tenant_id, doc_id, method=method)
                    (out_dir / f"{stem}.md").write_text(
                        render_summary_markdown(summary), encoding="utf-8"
                    )
                    json_path.write_text(
                        json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8"
                    )
                summaries.append(summary | {"files": {"markdown": str(out_dir / f"{stem}.md"),
                                                      "json": str(json_path)}})  # fmt: skip
            except DossierError as exc:
                failed[target] = str(exc)
                err.print(f"[red]{Path(target).name}: {exc}[/red]")
            progress.advance(task)
    digest = service.digest(summaries)
    (out_dir / "digest.md").write_text(render_digest_markdown(digest), encoding="utf-8")
    (out_dir / "digest.json").write_text(
        json.dumps(digest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (out_dir / "digest.csv").write_text(render_digest_csv(digest), encoding="utf-8")
    if json_out:
        emit_json({"documents": [{"document_id": s["document_id"], "document": s["document"],
                                  "method": s["method"], **s["files"]} for s in summaries],
                   "failed": failed, "digest": str(out_dir / "digest.md"),
                   "digest_json": str(out_dir / "digest.json"),
                   "digest_csv": str(out_dir / "digest.csv"),
                   "comparison": digest["comparison"]})  # fmt: skip
    else:
        err.print(
            f"{counted(len(summaries), 'summary', 'summaries')} and digest.md/.json/.csv in {out_dir}"
        )
    if failed:
        raise typer.Exit(1)


def _document_id(container: Any, tenant: str, target: str) -> str:
    path = Path(target)
    if path.is_file():
        result = container.pipeline.ingest_file(path, tenant, source=source_key(path))
        if result.status == "failed" or not result.document_id:
            raise DossierError(result.error or f"{path.name}: ingest failed")
        return str(result.document_id)
    return target


def _load_done(path: Path, document_id: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("document_id") == document_id else None
