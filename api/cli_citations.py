"""``dossier citations``, ``dossier cited-by``, ``dossier authorities`` and
``dossier kind``: the citation graph from the command line (JSON shapes in
README, same as the ``/v1/`` routes)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.cli import (
    DocumentArg,
    JsonOpt,
    KbOpt,
    TenantOpt,
    counted,
    document_found,
    emit_json,
    fail,
    get_container,
    out,
)

__all__ = ["register"]


def citations(
    ctx: typer.Context,
    document_id: DocumentArg,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The authorities a document cites, with page, pin cite and treatment."""
    from tools.citator import citations_report

    container = get_container(ctx, kb, tenant)
    with document_found(document_id):
        report = citations_report(container.kb, container.settings.tenant, document_id)
    if json_out:
        emit_json(report)
        return
    _print_profile(report)
    table = Table(title=f"{counted(len(report['citations']), 'citation')} in {report['document']}")
    for col in ("page", "form", "authority", "case", "pin", "treatment", "part"):
        table.add_column(col)
    for c in report["citations"]:
        table.add_row(
            str(c["page"]), c["form"], c["authority"] or "?", c["case_name"] or "",
            c["pin"] or "", c["treatment"], c["part"] or "",
        )  # fmt: skip
    out.print(table)


def _print_profile(report: dict[str, Any]) -> None:
    p = report["profile"]
    if not p:
        return
    out.print(f"[bold]{report['document']}[/bold]  kind: {p['kind']}")
    if p["kind"] == "opinion":
        sources = p.get("sources") or {}

        def line(label: str, value: str, field: str) -> None:
            source = f"  [dim]({sources[field]})[/dim]" if field in sources else ""
            out.print(f"  {escape(label)}: {escape(value)}{source}", highlight=False)

        for key in ("case_name", "court_name", "decided", "docket", "author", "disposition"):
            if p[key]:
                line(key.replace("_", " "), str(p[key]), key)
        if p["own_citations"]:
            line("citations", "; ".join(p["own_citations"]), "own_citations")


def cited_by(
    ctx: typer.Context,
    authority: Annotated[str, typer.Argument(help='A citation ("288 Ark. 37") or case name.')],
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Our documents that cite an authority, with the sentence, page and treatment."""
    from tools.citator import citation_form, cited_by_report

    container = get_container(ctx, kb, tenant)
    report = cited_by_report(container.kb, container.settings.tenant, authority)
    if json_out:
        emit_json(report)
        return
    p = report["linked_profile"]
    head = (
        citation_form(p["case_name"], report["authority"], None, (p["decided"] or "")[:4] or None)
        if p
        else report["authority"]
    )
    out.print(
        f"[bold]{head}[/bold]: cited by {report['citing_documents']} document(s)", highlight=False
    )
    if report["negative"]:
        out.print(f"[red]negative treatment:[/red] {', '.join(report['negative'])}")
    for c in report["citing"]:
        part = " (dissent)" if c["part"] == "dissent" else ""
        out.print(
            f"- {c['document']} p.{c['page']}  {c['treatment']}{part}",
            highlight=False,
            markup=False,
        )
        out.print(f"  “{c['sentence'][:400]}”", highlight=False, markup=False)


def authorities(
    ctx: typer.Context,
    top: Annotated[int, typer.Option("--top", min=1, max=1000)] = 20,
    court: Annotated[
        str | None,
        typer.Option("--court", help="Only documents of this court (courts-db id or name)."),
    ] = None,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The most-cited authorities across our documents."""
    from tools.citator import authorities_report

    container = get_container(ctx, kb, tenant)
    rows = authorities_report(container.kb, container.settings.tenant, top=top, court=court)
    if json_out:
        emit_json(rows)
        return
    table = Table(title=f"top {len(rows)} authorities")
    for col in ("authority", "case", "year", "citing docs", "mentions", "ours"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["authority"], r["case_name"] or "", r["year"] or "", str(r["citing_documents"]),
            str(r["mentions"]), "yes" if r["linked_document_id"] else "",
        )  # fmt: skip
    out.print(table)


def kind(
    ctx: typer.Context,
    document_id: DocumentArg,
    new_kind: Annotated[
        str, typer.Argument(metavar="KIND", help="opinion | brief | contract | report | other")
    ],
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Override a document's detected kind (its metadata and citations are re-read)."""
    from ingest.precedent import reanalyse_document
    from knowledge_base.citation_graph import DOCUMENT_KINDS

    if new_kind not in DOCUMENT_KINDS:
        raise fail(f"KIND must be one of {', '.join(DOCUMENT_KINDS)}, not {new_kind!r}", 2)
    container = get_container(ctx, kb, tenant)
    with document_found(document_id):
        profile = reanalyse_document(container.kb, container.settings.tenant, document_id, new_kind)
    if json_out:
        emit_json({"document_id": document_id, "kind": profile.kind})
    else:
        out.print(f"{document_id}: kind {profile.kind}")


KindOpt = Annotated[
    str | None,
    typer.Option("--kind", help="Document kind: opinion | brief | contract | report | other."),
]


def check_kind(kind: str | None) -> None:
    from knowledge_base.citation_graph import DOCUMENT_KINDS

    if kind is not None and kind not in DOCUMENT_KINDS:
        raise fail(f"--kind must be one of {', '.join(DOCUMENT_KINDS)}, not {kind!r}", 2)


def search_scope(
    container: Any,
    doc: list[str] | None,
    kind: str | None,
    court: str | None,
    decided_from: str | None,
    decided_to: str | None,
) -> list[str] | None:
    """``dossier search`` filters as document ids (None = the whole tenant)."""
    from ingest.opinions import normalise_court
    from knowledge_base.citation_graph import CitationGraph

    check_kind(kind)
    return CitationGraph(container.kb.catalog).scope(
        container.settings.tenant,
        doc or None,
        kind=kind,
        court=normalise_court(court) if court else None,
        decided_from=decided_from,
        decided_to=decided_to,
    )


_CAP = Path("../shared/data/court/cap-arkansas")


def eval_precedents(
    ctx: typer.Context,
    corpus: Annotated[
        Path,
        typer.Option(
            "--corpus", help="CAP sample folder (metadata.jsonl, text/, original_casemets/)."
        ),
    ] = _CAP,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N cases.")
    ] = None,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also run the naive retriever.")
    ] = True,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="text: ingest the plain texts (metadata detected from the text) | "
            "xml: ingest CAP's CASEMETS XML (metadata from the file's own elements).",
        ),
    ] = "text",
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Opinion metadata accuracy, citation-graph recall/precision and headnote
    retrieval recall@1/@5 (vs the naive baseline) on CAP's Arkansas opinions."""
    from api.cli import get_settings
    from api.container import Container
    from evaluation.precedents import SOURCES, run_precedents

    if source not in SOURCES:
        raise fail(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
    if not (corpus / "metadata.jsonl").is_file():
        raise fail(
            f"{corpus}: no metadata.jsonl (see ../shared/data/README.md, court/cap-arkansas)"
        )
    with tempfile.TemporaryDirectory(prefix="dossier-precedents-") as tmp:
        settings = get_settings(ctx, kb or Path(tmp) / "kb")
        container = Container(settings)
        try:
            report = run_precedents(
                container,
                corpus,
                baseline=baseline,
                limit=limit,
                workdir=Path(tmp) / "texts",
                source=source,
            )
        finally:
            container.close()
    if json_out:
        emit_json(report)
        return
    _print_eval(report)


def _print_eval(report: dict[str, Any]) -> None:
    from evaluation.precedents import summary_rows

    table = Table(
        title=f"precedents: {report['documents']} CAP opinions ({report['source']}), "
        f"ingest {report['ingest_s']} s"
    )
    for col in ("measure", "value", "where the text states it"):
        table.add_column(col)
    for row in summary_rows(report):
        table.add_row(*row)
    out.print(table)


def register(app: typer.Typer) -> None:
    from api.cli_eval import eval_app

    app.command("citations")(citations)
    app.command("cited-by")(cited_by)
    app.command("authorities")(authorities)
    app.command("kind")(kind)
    eval_app.command("precedents")(eval_precedents)
