"""``dossier eval reports``: page recall (scoped and over every filing, vs the
naive pipeline in the same run), figure accuracy by question type and summary
checks on FinanceBench filings (see :mod:`evaluation.reports`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from api.cli import JsonOpt, KbOpt, emit_json, err, fail, out
from api.cli_eval import _progress, eval_app
from api.cli_eval_passes import LimitOpt, NoLlmOpt, agent_passes, eval_container, eval_llm

__all__ = ["register"]

_DATA = Path("../shared/data/financebench-dev")


def register(app: typer.Typer) -> None:
    """``eval reports`` lives on the eval sub-app (mounted by api/cli_eval.py)."""


def _pdfs(data: Path, names: list[str]) -> dict[str, Path]:
    pdfs = {}
    for name in names:
        path = data / "pdfs" / f"{name}.pdf"
        if not path.is_file():
            raise fail(f"{path}: no such file (the questions name {name})")
        pdfs[name] = path
    return pdfs


def _ingest(container: Any, pdfs: dict[str, Path], show: bool) -> dict[str, str]:
    """Index the filings (already indexed ones are unchanged); doc name -> id."""
    documents: dict[str, str] = {}
    with _progress(show) as progress:
        task = progress.add_task("indexing filings", total=len(pdfs))
        for name, path in pdfs.items():
            result = container.pipeline.ingest_file(path, container.settings.tenant, name=path.name)
            if result.document_id is None or result.status == "failed":
                err.print(f"[yellow]{path.name}: not indexed ({result.error})[/yellow]")
            else:
                documents[name] = result.document_id
            progress.advance(task)
    container.kb.flush()
    return documents


def _figures(container: Any, questions: list[Any], documents: dict[str, str], show: bool,
             base_url: str | None) -> dict[str, Any]:  # fmt: skip
    from evaluation.reports import run_figures

    async def run_pass(agent: Any, tenant: str, on_progress: Any) -> dict[str, Any]:
        return await run_figures(agent, questions, documents, tenant, on_progress)

    composition = container.settings.agent.answers
    return agent_passes(container, base_url, [composition], run_pass, len(questions), show)[0]


def _summaries(container: Any, documents: dict[str, str], show: bool) -> dict[str, Any]:
    """Each filing's summary (SummaryService, extractive) and its checks."""
    from api.services.summaries import SummaryService
    from evaluation.report_checks import summary_checks

    service = SummaryService(container.kb)
    per_report: dict[str, Any] = {}
    with _progress(show) as progress:
        task = progress.add_task("summarising", total=len(documents))
        for name, doc_id in documents.items():
            t0 = time.perf_counter()
            summary = service.summarize_document(container.settings.tenant, doc_id)
            per_report[name] = {**summary_checks(summary), "s": round(time.perf_counter() - t0, 1)}
            progress.advance(task)
    keys = ("boilerplate", "repeated", "table_dumps", "figures", "unsupported_figures")
    totals = {k: sum(r[k] for r in per_report.values()) for k in keys}
    passing = sum(
        r["boilerplate"] == r["repeated"] == r["table_dumps"] == r["unsupported_figures"] == 0
        and r["figures"] >= 3
        for r in per_report.values()
    )
    return {"reports": len(per_report), "passing": passing, "totals": totals,
            "per_report": per_report}  # fmt: skip


def _search(container: Any, questions: list[Any], documents: dict[str, str],
            pdfs: dict[str, Path], scoped_only: bool, no_naive: bool, show: bool) -> dict[str, Any]:  # fmt: skip
    """Page recall of our search (scoped, and over every filing unless
    ``scoped_only``) and of the naive pipeline, and their ratios."""
    from evaluation.reports import run_naive, run_search

    tenant = container.settings.tenant
    with _progress(show) as progress:
        task = progress.add_task("searching", total=len(questions))
        search = run_search(container.kb, tenant, questions, documents,
                            on_progress=lambda d, t: progress.update(task, completed=d))  # fmt: skip
    if scoped_only:
        search.pop("all")
        search.pop("routing_accuracy")
    result: dict[str, Any] = {"search": search}
    if not no_naive:
        err.print("[dim]naive pipeline: indexing the filings' pages…[/dim]")
        cache = Path(container.settings.data_dir) / "naive-pages.npz"
        naive = run_naive(questions, pdfs, container.kb.embedder, cache)
        if scoped_only:
            naive.pop("all")
        result.update(naive=naive, ratio=_ratios(search, naive))
    return result


def _ratios(ours: dict[str, Any], naive: dict[str, Any]) -> dict[str, Any]:
    out_: dict[str, Any] = {}
    for setting in ("scoped", "all"):
        for key, value in (ours.get(setting) or {}).items():
            base = (naive.get(setting) or {}).get(key)
            out_[f"{setting} {key}"] = (
                round(value / base, 3) if value is not None and base else None
            )
    return out_


@eval_app.command("reports")
def eval_reports(
    ctx: typer.Context,
    data: Annotated[
        Path, typer.Option("--data", help="financebench-dev: questions.jsonl and pdfs/.")
    ] = _DATA,
    limit: LimitOpt = None,
    scoped_only: Annotated[
        bool, typer.Option("--scoped-only", help="Index only the questions' filings; no 'all'.")
    ] = False,
    no_naive: Annotated[bool, typer.Option("--no-naive", help="Skip the naive pipeline.")] = False,
    no_figures: Annotated[bool, typer.Option("--no-figures", help="Skip asking.")] = False,
    no_summaries: Annotated[
        bool, typer.Option("--no-summaries", help="Skip the summary checks.")
    ] = False,
    no_llm: NoLlmOpt = False,
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Page recall@1/@5 (scoped and over every filing, vs the naive pipeline),
    figure accuracy by question type and per-report summary checks."""
    from evaluation.reports import ReportDataError, load_report_questions

    try:
        questions = load_report_questions(data, limit)
    except ReportDataError as exc:
        raise fail(str(exc)) from exc
    wanted = list(dict.fromkeys(d for q in questions for d in q.docs))
    if not scoped_only:
        wanted += sorted(p.stem for p in (data / "pdfs").glob("*.pdf") if p.stem not in wanted)
    pdfs = _pdfs(data, wanted)
    show = not json_out
    report: dict[str, Any] = {"data": str(data), "questions": len(questions),
                              "filings": len(pdfs), "scoped_only": scoped_only}  # fmt: skip
    with eval_container(ctx, kb, "dossier-reports-") as container:
        t0 = time.perf_counter()
        documents = _ingest(container, pdfs, show)
        report["ingest_s"] = round(time.perf_counter() - t0, 1)
        container.kb.embedder.embed_batch(["warm-up"])
        report.update(_search(container, questions, documents, pdfs, scoped_only, no_naive, show))
        if not no_figures:
            with eval_llm(container.settings, not no_llm) as base_url:
                report["figures"] = _figures(container, questions, documents, show, base_url)
            report["llm"] = None if no_llm else container.settings.llm.model or "local SmolLM2-135M"
        if not no_summaries:
            report["summaries"] = _summaries(container, documents, show)
    if json_out:
        emit_json(report)
    else:
        _print(report)


def _print(report: dict[str, Any]) -> None:
    search, naive = report["search"], report.get("naive") or {}
    table = Table(
        title=f"page recall, {report['questions']} questions, {report['filings']} filings"
    )
    for col in ("setting", "k", "dossier", "naive", "ratio"):
        table.add_column(col, justify="right")
    for setting in ("scoped", "all"):
        for key, value in (search.get(setting) or {}).items():
            base = (naive.get(setting) or {}).get(key)
            ratio = (report.get("ratio") or {}).get(f"{setting} {key}")
            table.add_row(setting, key, str(value), str(base), str(ratio))
    out.print(table)
    if "routing_accuracy" in search:
        out.print(f"routing accuracy (all): {search['routing_accuracy']}", markup=False)
    figures = report.get("figures")
    if figures:
        out.print(f"figures: target {figures['target']}; overall {figures['overall']}",
                  markup=False)  # fmt: skip
        for kind, row in figures["by_type"].items():
            out.print(f"  {kind}: {row}", markup=False)
    summaries = report.get("summaries")
    if summaries:
        out.print(f"summaries: {summaries['passing']}/{summaries['reports']} pass; "
                  f"totals {summaries['totals']}", markup=False)  # fmt: skip
