"""Summary checks over every report in a knowledge base (issue 17, item 5).

    .venv/bin/python scripts/measure_summaries.py --kb DIR --tenant T [--json]

For each READY document: the extractive summary's sentences (summary text,
figure sentences, quoted drivers and risks) are checked for boilerplate
(``ingest.reports.boilerplate_label`` and the summary filters' cues), repeats
(same words, or MiniLM cosine >= 0.9), table dumps (pipes, runs of numbers, or 10+ numbers in one
sentence); figures stated (the summary's lead figures) and figures whose
sentence states a number that is neither in their cited quotes nor the change
computed from them; every citation's quote is checked verbatim on its page.
``evaluation.report_checks.summary_checks`` (the eval's own rules) runs too.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.container import Container
from api.services.summaries import SummaryService
from api.services.summary_text import REPEAT_COSINE, is_boilerplate, is_table_dump, normalise
from core.settings import load_settings
from evaluation.report_checks import summary_checks

_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _numbers(text: str) -> set[float]:
    return {float(n.replace(",", "")) for n in _NUMBER.findall(text)}


def _supported(figure: dict[str, Any]) -> bool:
    quoted = set().union(*(_numbers(c["quote"]) for c in figure["citations"]))
    shown = set() if figure.get("change_pct") is None else {abs(figure["change_pct"])}
    return _numbers(figure["sentence"]) <= quoted | shown


def check(service: SummaryService, kb: Any, tenant: str, doc_id: str) -> dict[str, Any]:
    started = time.perf_counter()
    summary = service.summarize_document(tenant, doc_id, method="extractive")
    seconds = time.perf_counter() - started
    figures = summary.get("figures", []) + summary.get("segments", [])
    quotes = [c for s in summary["sections"] if s["title"] != "Results" for c in s["citations"]]
    texts = [f["sentence"] for f in figures] + [c["quote"] for c in quotes]
    cites = [c for f in figures for c in f["citations"]] + quotes
    bad_cites = sum(
        kb.page_text(tenant, c["document_id"], c["page"])[c["start"] : c["end"]] != c["quote"]
        for c in cites
    )
    repeated = len(texts) - len({normalise(t) for t in texts})
    if len(texts) > 1:
        vecs = np.asarray(kb.embedder.embed_batch(texts))
        sims = np.triu(vecs @ vecs.T, 1)
        repeated = max(repeated, int((sims >= REPEAT_COSINE).any(axis=0).sum()))
    return {
        "document": summary["document"], "kind": summary.get("kind", "document"),
        "seconds": round(seconds, 1), "sentences": len(texts),
        "boilerplate": sum(is_boilerplate(t) for t in texts),
        "repeated": repeated,
        "table_dumps": sum(is_table_dump(t) or len(_NUMBER.findall(t)) >= 10 for t in texts),
        "figures_stated": len(figures),
        "figures_not_supported": sum(not _supported(f) for f in figures),
        "quotes_not_on_page": bad_cites,
        "segments": len(summary.get("segments", [])),
        "drivers": len(summary.get("drivers", [])), "risks": len(summary.get("risks", [])),
        "metrics": [f["metric"] for f in figures],
        "eval_checks": {k: v for k, v in summary_checks(summary).items() if k != "examples"},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", required=True, type=Path)
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    container = Container(load_settings(data_dir=args.kb, tenant=args.tenant))
    kb = container.kb
    service = SummaryService(kb)
    rows = [
        check(service, kb, args.tenant, d.id)
        for d in sorted(kb.list_documents(args.tenant), key=lambda d: d.name)
        if str(d.status) == "ready"
    ]
    totals = {k: sum(r[k] for r in rows) for k in
              ("boilerplate", "repeated", "table_dumps", "figures_stated",
               "figures_not_supported", "quotes_not_on_page")}  # fmt: skip
    totals["reports_with_3_supported_figures"] = sum(
        r["figures_stated"] - r["figures_not_supported"] >= 3 for r in rows
    )
    totals["documents"] = len(rows)
    if args.json:
        print(json.dumps({"documents": rows, "totals": totals}, indent=2))
        return
    for r in rows:
        print(f"{r['document'][:28]:28} {r['seconds']:6.1f}s figs={r['figures_stated']} "
              f"unsupported={r['figures_not_supported']} bp={r['boilerplate']} "
              f"rep={r['repeated']} dumps={r['table_dumps']} drivers={r['drivers']} "
              f"risks={r['risks']} segments={r['segments']} badcites={r['quotes_not_on_page']} "
              f"eval={r['eval_checks']} {','.join(r['metrics'])}")  # fmt: skip
    print(json.dumps(totals))
    container.close()


if __name__ == "__main__":
    main()
