"""``dossier review`` and ``dossier eval clauses``: contract review against a
playbook, and clause-extraction evaluation on CUAD-format labels."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markdown import Markdown
from rich.table import Table

from api.cli import JsonOpt, KbOpt, TenantOpt, emit_json, err, fail, get_container, out
from api.cli_eval import eval_app
from core.errors import DossierError, NotFoundError
from ingest.pipeline import source_key

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``review`` to the root app (``eval clauses`` is on the eval sub-app)."""
    if not any(c.name == "review" for c in app.registered_commands):
        app.command(name="review")(review)


def review(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A contract file to ingest and review, or a document id.")
    ],
    playbook: Annotated[
        Path | None, typer.Option("--playbook", help="Review playbook (YAML); default: built-in.")
    ] = None,
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Print the report as Markdown.")
    ] = False,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Review a contract: clause findings, risks against the playbook, missing protections."""
    from tools.clauses import ClauseModel, load_playbook, render_markdown, review_stored_document

    container = get_container(ctx, kb, tenant)
    tenant_id = container.settings.tenant
    try:
        book = load_playbook(playbook)
        path = Path(target)
        if path.is_file():
            result = container.pipeline.ingest_file(path, tenant_id, source=source_key(path))
            if result.status == "failed" or not result.document_id:
                raise fail(f"{path.name}: {result.error or 'ingest failed'}")
            err.print(
                f"{result.status}: {result.name} ({result.pages} pages) id={result.document_id}"
            )
            document_id = result.document_id
        else:
            document_id = target
        t0 = time.perf_counter()
        report = asyncio.run(
            review_stored_document(
                container.kb, tenant_id, document_id, model=ClauseModel.load(), playbook=book
            )
        )
        report.seconds = round(time.perf_counter() - t0, 3)
    except NotFoundError as exc:
        raise fail(f"{target}: no such file or document") from exc
    except DossierError as exc:
        raise fail(str(exc)) from exc
    if json_out:
        emit_json(report.to_json())
    elif markdown:
        out.print(render_markdown(report), markup=False, highlight=False, soft_wrap=True)
    else:
        out.print(Markdown(render_markdown(report)))


@eval_app.command("clauses")
def eval_clauses(
    ctx: typer.Context,
    labels: Annotated[Path, typer.Option("--labels", help="CUAD-format clause labels (JSONL).")],
    corpus: Annotated[
        Path, typer.Option("--corpus", help="Folder of the contracts (txt/ and pdf/).")
    ],
    source: Annotated[str, typer.Option("--source", help="txt or pdf.")] = "txt",
    cv: Annotated[
        int, typer.Option("--cv", help="K-fold cross-validation (0: shipped model).")
    ] = 0,
    limit: Annotated[int | None, typer.Option("--limit", help="First N contracts only.")] = None,
    model_path: Annotated[Path | None, typer.Option("--model", help="Clause model (.npz).")] = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Embedding cache folder.")] = None,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Clause extraction metrics (presence and span P/R/F1, presence AUPR)."""
    from evaluation.clauses import evaluate_clauses, prepare_contracts
    from tools.clauses import ClauseModel

    if source not in ("txt", "pdf"):
        raise fail(f"--source must be txt or pdf, not {source!r}")
    container = get_container(ctx, kb, tenant)
    try:
        contracts = prepare_contracts(
            labels, corpus, source=source, embedder=container.embedder,  # type: ignore[arg-type]
            cache_dir=cache, limit=limit,
        )  # fmt: skip
        if not contracts:
            raise fail(f"{labels}: no labelled contracts found in {corpus}")
        model = ClauseModel.load(model_path) if not cv else None
        result = evaluate_clauses(contracts, model=model, cv=cv or None)
    except DossierError as exc:
        raise fail(str(exc)) from exc
    result["source"] = source
    if json_out:
        emit_json(result)
        return
    _print_clause_table(result)


def _print_clause_table(result: dict[str, Any]) -> None:
    table = Table(title=f"Clause extraction: {result['contracts']} contracts, cv={result['cv']}")
    cols = (
        "category",
        "gold",
        "pres P",
        "pres R",
        "pres F1",
        "span P",
        "span R",
        "span F1",
        "J F1",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "category" else "right")
    keys = (
        "presence_precision",
        "presence_recall",
        "presence_f1",
        "span_precision",
        "span_recall",
        "span_f1",
        "span_f1_jaccard",
    )

    def row(name: str, m: dict[str, Any], gold: str = "") -> list[str]:
        return [name, gold, *(f"{m[k]:.3f}" for k in keys)]

    shown = {n: m for n, m in result["per_category"].items() if m["gold_contracts"]}
    for name, m in shown.items():
        table.add_row(*row(name, m, str(m["gold_contracts"])))
    table.add_row(*row("micro", result["micro"]))
    table.add_row(*row("macro", result["macro"]))
    out.print(table)
    hidden = len(result["per_category"]) - len(shown)
    out.print(
        f"presence AUPR {result['presence_aupr']:.3f}  ({result['seconds']:.0f}s)"
        + (f"; {hidden} categories without gold quotes not shown" if hidden else "")
    )
    out.print(
        "span: a passage matches a gold quote sharing half of the shorter text's words; "
        "J F1: the CUAD paper's rule (word-set Jaccard >= 0.5)"
    )
    if "values" in result:
        _print_value_table(result["values"])


def _print_value_table(values: dict[str, Any]) -> None:
    gold, pred = values["gold_passages"], values["predicted_passages"]
    table = Table(title="Value accuracy against CUAD's normalised answers")
    for col in ("category", "n", "gold passages", "predicted passages", "unscored"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for name, m in gold["per_category"].items():
        p = pred["per_category"][name]
        accuracy = (f"{m['accuracy']:.3f}", f"{p['accuracy']:.3f}") if m["n"] else ("-", "-")
        table.add_row(name, str(m["n"]), *accuracy, str(m["unscored"]))
    table.add_row(
        "micro",
        str(gold["n"]),
        f"{gold['micro_accuracy']:.3f}",
        f"{pred['micro_accuracy']:.3f}",
        str(gold["unscored"]),
    )
    table.add_row("macro", "", f"{gold['macro_accuracy']:.3f}", f"{pred['macro_accuracy']:.3f}", "")
    out.print(table)
