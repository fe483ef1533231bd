"""``dossier eval answers``: answer accuracy, unsupported claims, citation
precision and TTFT on lawyers' questions (see :mod:`evaluation.answers`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.table import Table

from api.cli import JsonOpt, KbOpt, emit_json, err, fail, out
from api.cli_eval import eval_app
from api.cli_eval_passes import LimitOpt, NoLlmOpt, agent_passes, eval_container, eval_llm

__all__ = ["register"]

_DATA = Path("../shared/data/cuad-dev")


def register(app: typer.Typer) -> None:
    """``eval answers`` lives on the eval sub-app (mounted by api/cli_eval.py)."""


def _ingest(container: Any, questions: list[Any], corpus: Path, source: str) -> dict[str, str]:
    """Index each contract the questions ask about; file name -> document id."""
    wanted: dict[str, Path] = {}
    for q in questions:
        path = corpus / source / (q.pdf if source == "pdf" else q.file)
        if not path.is_file():
            raise fail(f"{path}: no such file (questions name it; check --corpus/--source)")
        wanted.setdefault(q.file, path)
    results = container.pipeline.ingest_paths(list(wanted.values()), container.settings.tenant)
    by_path = {r.path: r for r in results}
    documents: dict[str, str] = {}
    for file, path in wanted.items():
        r = by_path.get(str(path))
        if r is None or r.document_id is None:
            err.print(
                f"[yellow]{path.name}: not indexed ({r.error if r else 'no result'})[/yellow]"
            )
            continue
        documents[file] = r.document_id
    return documents


def _run(container: Any, base_url: str | None, questions: list[Any], documents: dict[str, str],
         compositions: list[Literal["checked", "draft"]], show: bool) -> list[dict[str, Any]]:  # fmt: skip
    """One summarised pass over the questions per composition."""
    from evaluation.answers import run_answers, summarise

    async def run_pass(agent: Any, tenant: str, on_progress: Any) -> dict[str, Any]:
        return summarise(await run_answers(agent, questions, documents, tenant, on_progress))

    return agent_passes(container, base_url, compositions, run_pass, len(questions), show)


@eval_app.command("answers")
def eval_answers(
    ctx: typer.Context,
    questions_file: Annotated[
        Path, typer.Option("--questions", help="answers.jsonl: questions with gold answers.")
    ] = _DATA / "answers.jsonl",
    corpus: Annotated[
        Path, typer.Option("--corpus", help="Folder with pdf/ and txt/ of the contracts.")
    ] = _DATA,
    source: Annotated[str, typer.Option("--source", help="pdf or txt.")] = "pdf",
    limit: LimitOpt = None,
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Only the draft composition (the old answers).")
    ] = False,
    compare: Annotated[
        bool, typer.Option("--compare", help="Also run the draft composition, same index.")
    ] = False,
    no_llm: NoLlmOpt = False,
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ask each question scoped to its contract, through the agent of `dossier ask`,
    and score the answer text against the gold answer."""
    from evaluation.answers import load_questions

    if source not in ("pdf", "txt"):
        raise fail(f"--source must be pdf or txt, not {source!r}")
    if not questions_file.is_file():
        raise fail(f"{questions_file}: no such file")
    questions = load_questions(questions_file, limit)
    main: Literal["checked", "draft"] = "draft" if baseline else "checked"
    passes: list[Literal["checked", "draft"]] = (
        [main, "draft"] if compare and not baseline else [main]
    )
    with eval_container(ctx, kb, "dossier-answers-") as container:
        settings = container.settings
        t0 = time.perf_counter()
        documents = _ingest(container, questions, corpus, source)
        ingest_s = time.perf_counter() - t0
        container.kb.embedder.embed_batch(["warm-up"])
        with eval_llm(settings, not no_llm) as base_url:
            report, *other = _run(container, base_url, questions, documents, passes, not json_out)
    if other:
        report["baseline"] = {k: v for k, v in other[0].items() if k != "answers"}
    report.update(composition="draft" if baseline else "checked", source=source,
                  contracts=len(documents), ingest_s=round(ingest_s, 1),
                  llm=None if no_llm else settings.llm.model or "local SmolLM2-135M-Instruct")  # fmt: skip
    if json_out:
        emit_json(report)
    else:
        _print(report)


def _print(report: dict[str, Any]) -> None:
    table = Table(title=f"answers ({report['composition']}, {report['questions']} questions)")
    for col in ("category", "n", "scored", "accuracy"):
        table.add_column(col)
    for cat, row in report["per_category"].items():
        table.add_row(cat, str(row["n"]), str(row["scored"]), str(row["accuracy"]))
    out.print(table)
    for key in ("accuracy", "per_kind", "unscored", "unsupported_rate", "citation_precision",
                "ttft_p50_s", "errors", "baseline"):  # fmt: skip
        if key in report:
            out.print(f"{key}: {report[key]}", markup=False)
