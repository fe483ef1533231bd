"""``dossier tables DOC [--page N] [--csv|--json]``: a document's tables as
tables (caption, statement, units, period columns, rows), the same JSON shape
as ``GET /v1/documents/{id}/tables`` (README, "Tables")."""

from __future__ import annotations

import csv
import io
import sys
from typing import Annotated, Any

import typer
from rich.box import SIMPLE_HEAD
from rich.table import Table
from rich.text import Text

from api.cli import JsonOpt, KbOpt, TenantOpt, emit_json, fail, get_container, out
from core.errors import NotFoundError
from knowledge_base.report_tables import ReportStore

__all__ = ["register", "tables_csv"]


def _cell(cell: dict[str, Any] | None) -> str:
    return "" if cell is None else str(cell["text"])


def tables_csv(tables: list[dict[str, Any]]) -> str:
    """One CSV for all tables: page, table, statement, units, row label, then
    one column per period column (each table starts with its header line)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for t in tables:
        meta = [t["page"], t["index"], t["statement"] or "", t["units"] or ""]
        writer.writerow(["page", "table", "statement", "units", "row", *t["columns"]])
        for r in t["rows"]:
            writer.writerow([*meta, r["label"], *(_cell(c) for c in r["cells"])])
    return buf.getvalue()


def tables(
    ctx: typer.Context,
    document_id: Annotated[str, typer.Argument(help="Document id (see `dossier documents`).")],
    page: Annotated[int | None, typer.Option("--page", help="Only this page (1-based).")] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV on stdout.")] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The tables of a document: caption, statement, units, period columns and rows."""
    if csv_out and json_out:
        raise fail("--csv and --json exclude each other", 2)
    container = get_container(ctx, kb, tenant)
    tenant_id = container.settings.tenant
    try:  # the catalog alone (no embedder, no vector store: a second, not ten)
        record = container.catalog.get_document(tenant_id, document_id)
        store = ReportStore(container.catalog)
        found = [t.to_json() for t in store.tables(tenant_id, document_id, page)]
    except NotFoundError as exc:
        raise fail(f"document {document_id} not found") from exc
    if page is not None and not 1 <= page <= record.pages:
        raise fail(f"{record.name} has no page {page} (it has {record.pages})", 2)
    if json_out:
        emit_json({"document_id": document_id, "document": record.name, "tables": found})
        return
    if csv_out:
        sys.stdout.write(tables_csv(found))
        return
    where = f" on page {page}" if page is not None else ""
    if not found:
        out.print(f"No tables found in {record.name}{where}.", highlight=False, markup=False)
        return
    for t in found:
        title = f"Page {t['page']}, table {t['index'] + 1}"
        if t["statement"]:
            title += f" ({t['statement'].replace('_', ' ')} statement)"
        if t["caption"]:
            title += f": {t['caption']}"
        if t["units"] and t["units"] not in t["caption"]:
            title += f" ({t['units']})"
        grid = Table(title=Text(title), title_justify="left", highlight=False, box=SIMPLE_HEAD)
        grid.add_column("", min_width=18)
        for col in t["columns"]:
            grid.add_column(Text(col or ""), justify="right", max_width=12)
        for r in t["rows"]:
            grid.add_row(Text(r["label"]), *(Text(_cell(c)) for c in r["cells"]))
        out.print(grid)


def register(app: typer.Typer) -> None:
    app.command(name="tables")(tables)
