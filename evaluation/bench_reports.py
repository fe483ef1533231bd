"""The "reports" section of ``make bench``: ``dossier eval reports``.

Slice: all 37 financebench-dev questions over all 16 filings (2,709 pages):
page recall@1/@5 scoped and over every filing, with the naive pipeline in the
same run; figure accuracy by question type from the agent's answers (the
bench's LLM); the summary checks of every filing. The built knowledge base is
cached under the bench's data dir (``.cache/bench/reports-kb-<hash of the
ingest code>``; an older one is removed), so a re-run does not ingest again
unless ingestion changed. Quick mode: the first 8 questions, their filings
only (``--scoped-only``), no summaries.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from evaluation.bench import DATA, REPO, BenchContext, Section, _fmt, _run_json, _table

__all__ = ["reports_section"]

_QUICK_QUESTIONS = "8"


def _kb_dir(ctx: BenchContext) -> Path:
    """The cached knowledge base for this version of the ingest code."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "ingest").rglob("*.py")):
        digest.update(path.read_bytes())
    name = f"reports-kb-{digest.hexdigest()[:10]}"
    for old in ctx.kb.parent.glob("reports-kb-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return ctx.kb.parent / name


def _render(data: dict[str, Any]) -> list[str]:
    search, naive, ratio = data["search"], data.get("naive") or {}, data.get("ratio") or {}
    rows = []
    for setting in ("scoped", "all"):
        for key, value in (search.get(setting) or {}).items():
            base = (naive.get(setting) or {}).get(key)
            rows.append([setting, key, _fmt(value), _fmt(base),
                         _fmt(ratio.get(f"{setting} {key}")) + "×"])  # fmt: skip
    lines = _table(["setting", "metric", "Dossier", "naive pipeline", "Dossier / naive"], rows)
    lines.append(
        f"- {data['questions']} questions over {data['filings']} filings; routing accuracy "
        f"(over all filings) {_fmt(search.get('routing_accuracy'))}; query p50 "
        f"{_fmt(search.get('query_ms_p50'), 1)} ms; ingest {_fmt(data.get('ingest_s'), 1)} s "
        "(0 when the cached index was current)"
    )
    lines.append(
        "- naive pipeline (LangChain tutorial): PyMuPDF page text, 1000/200-character splits, "
        "the same MiniLM, exact cosine; its top-k chunks give its pages (repeats included)"
    )
    figures = data.get("figures")
    if figures:
        lines += ["", "Figure accuracy (gold with its rounding; see README):", ""]
        groups = {"target (metrics-generated + information extraction)": figures["target"],
                  "all questions": figures["overall"], **figures["by_type"]}  # fmt: skip
        lines += _table(["questions", "n", "figure golds", "correct", "accuracy"],
                        [[name, _fmt(g["n"]), _fmt(g["figure_golds"]), _fmt(g["correct"]),
                          _fmt(g["accuracy"])] for name, g in groups.items()])  # fmt: skip
        lines.append(f"- LLM: {data.get('llm') or 'none (composed/evidence answers)'}")
    summaries = data.get("summaries")
    if summaries:
        lines += ["", f"Summary checks: {summaries['passing']}/{summaries['reports']} filings "
                  "pass (0 boilerplate, 0 repeated, 0 table dumps, 0 unsupported figures, "
                  "≥ 3 figures)", ""]  # fmt: skip
        keys = ("boilerplate", "repeated", "table_dumps", "figures", "unsupported_figures")
        lines += _table(["filing", *keys],
                        [[name, *(_fmt(r[k]) for k in keys)]
                         for name, r in summaries["per_report"].items()])  # fmt: skip
    return lines


def reports_section(ctx: BenchContext) -> Section:
    """Page recall vs naive, figure accuracy and summary checks on financebench-dev."""
    section = Section("Reports: FinanceBench filings (dossier eval reports)")
    if not ctx.has_eval_command("reports"):
        section.body.append("Not yet available: `dossier eval reports` does not exist yet.")
        return section
    argv = [*ctx.dossier, "eval", "reports", "--data", str(DATA / "financebench-dev"),
            "--kb", str(_kb_dir(ctx)), "--json"]  # fmt: skip
    env = None
    if ctx.quick:
        argv += ["--limit", _QUICK_QUESTIONS, "--scoped-only", "--no-summaries", "--no-llm"]
    else:
        url = ctx.ensure_llm(section)
        if url is None:
            argv.append("--no-llm")
        else:
            env = {"DOSSIER_LLM__BASE_URL": url}
    return _run_json(ctx, section, argv, _render, env=env)
