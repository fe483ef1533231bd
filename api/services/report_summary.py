"""The summary of a financial report (document kind ``report``).

It leads with the period's results — revenue, operating income, net income,
diluted EPS and operating cash flow, each with the prior period and the change
— read from the statements and cited to their rows and column headers
(:mod:`api.services.report_figures`), and revenue by segment where the
filing states it (:mod:`api.services.report_segments`). Then the main drivers, as cited sentences
from management's discussion (MD&A) that explain a change ("… decreased …
primarily due to …"), and the main risks, from the risk factors (a 10-Q that
refers to its 10-K's risk factors: risk sentences from its MD&A). No sentence
is boilerplate, a flattened table or a repeat (:mod:`api.services.summary_text`).

The digest of several reports adds a comparison table: company, form, period,
revenue, net income, diluted EPS and their changes (:mod:`core.report_digest`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from api.services.report_figures import lead_figures
from api.services.report_segments import segment_lines
from api.services.summary_text import drop_repeats, split_sentences
from ingest.reports import boilerplate_label

__all__ = ["section_pages", "summarize_report"]

DRIVERS, RISKS = 4, 3
MAX_CANDIDATES = 250
_DASHES = r"\s*[.\-–—:]?\s*"
_MDA_START = re.compile(
    rf"^\s*(?:item\s*[27]{_DASHES}|exhibit\s+13(?:\.\d+)?\s+)?management['’`]?s\s+discussion"
    r"\s+and\s+analysis",
    re.I,
)
_MDA_END = re.compile(
    rf"^\s*item\s*(?:7a|3|4|8){_DASHES}(?:quantitative|financial\s+statements|controls)", re.I
)
_RISK_START = re.compile(rf"^\s*item\s*1a{_DASHES}risk\s+factors", re.I)
_RISK_END = re.compile(rf"^\s*item\s*(?:1b|2|3){_DASHES}[a-z]", re.I)
_CHANGE = re.compile(
    r"\b(?:increase[sd]?|decrease[sd]?|decline[sd]?|grew|growth|rose|fell|higher|lower|"
    r"improve[sd]?|reduc(?:ed|tion))\b",
    re.I,
)
_CAUSE = re.compile(
    r"\b(?:due\s+to|driven\s+by|primarily|mainly|largely|reflect(?:s|ed|ing)?|result(?:ed)?\s+"
    r"(?:of|from)|offset\s+by|attributable\s+to|because\s+of)\b",
    re.I,
)
_LEAD_METRIC = re.compile(
    r"\b(?:net\s+sales|sales|revenues?|net\s+income|operating\s+income|earnings|margins?|"
    r"operating\s+profit)\b",
    re.I,
)
_MINOR_ITEM = re.compile(
    r"joint\s+ventures?|non-?controlling|redeemable|interest\s+(?:income|expense)|"
    r"income\s+tax|effective\s+tax|pension|other\s+(?:income|expense)",
    re.I,
)
_RISK_EFFECT = re.compile(
    r"\b(?:could|may|might)\b[^.]{0,160}\b(?:adversely|negatively|materially|harm|disrupt|"
    r"impair|reduce)",
    re.I,
)
_RISK = re.compile(
    _RISK_EFFECT.pattern + r"|\b(?:uncertaint(?:y|ies)|headwinds?|volatility)\b", re.I
)
#: Why a measure is presented ("We believe that the use of constant-currency
#: reporting allows management to ..."): it names volatility, but is no risk.
_MEASURE_RATIONALE = re.compile(
    r"\bwe believe (?:that )?(?:the use of|these|this|presenting|such)\b|"
    r"\ballows? (?:management|investors)\b|\buseful (?:information )?(?:to|for) investors\b|"
    r"\bnon-gaap\b",
    re.I,
)


def _heading_end(text: str, pattern: re.Pattern[str]) -> int | None:
    """Where the first heading line matching ``pattern`` ends (None if none):
    a short line, not an index entry (no page number, one "Item" at most)."""
    pos = 0
    for line in text.split("\n"):
        pos += len(line) + 1
        if not pattern.match(line) or len(line) >= 160 or re.search(r"\d\s*$", line):
            continue
        if len(re.findall(r"\bitem\s*\d", line, re.I)) <= 1:
            return pos
    return None


def section_pages(
    pages: Sequence[str], start: re.Pattern[str], end: re.Pattern[str], limit: int = 40
) -> list[int]:
    """1-based pages from a heading matching ``start`` (not on an index page)
    up to the page before the next heading matching ``end``; of several such
    headings (an "Item 7" that points to an exhibit holding the MD&A), the
    one whose pages hold the most text."""
    best: list[int] = []
    for first, text in enumerate(pages):
        begin = _heading_end(text, start)
        if begin is None or boilerplate_label(text) == "index":
            continue
        span = [first + 1]
        stop = first + 1 if _heading_end(text[begin:], end) is not None else first + limit
        for i in range(first + 1, min(len(pages), stop)):
            if _heading_end(pages[i], end) is not None:
                break
            span.append(i + 1)
        if sum(len(pages[n - 1]) for n in span) > sum(len(pages[n - 1]) for n in best):
            best = span
    return best


def _page_sentences(
    pages: Sequence[str], numbers: Sequence[int], want: Callable[[str], bool], **fields: Any
) -> list[dict[str, Any]]:
    """Quotable sentences of the pages that pass ``want``, in page order."""
    out: list[dict[str, Any]] = []
    for number in numbers:
        text, pos = pages[number - 1], 0
        for paragraph in text.split("\n"):
            found = split_sentences(paragraph, page=number, offset=pos, want=want, **fields)
            if found and boilerplate_label(paragraph) is None:
                out += found
            pos += len(paragraph) + 1
    return out


def _ranked(
    candidates: list[dict[str, Any]],
    bonus: Callable[[str], float],
    embed: Callable[[list[str]], np.ndarray],
    k: int,
    chosen: Sequence[np.ndarray] = (),
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    """The ``k`` best candidates (cue bonus + centrality), no repeats, in page order."""
    candidates = candidates[:MAX_CANDIDATES]
    if not candidates:
        return [], []
    vecs = embed([c["quote"] for c in candidates])
    centrality = (vecs @ vecs.mean(axis=0)) if len(vecs) > 1 else np.ones(1)
    scores = [bonus(c["quote"]) + float(centrality[i]) for i, c in enumerate(candidates)]
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])
    keep = sorted(drop_repeats(order, candidates, vecs, k, chosen, prefix_words=8))
    return [candidates[i] for i in keep], [vecs[i] for i in keep]


_RISK_TOPIC = re.compile(
    r"\b(?:inflation|demand|supply|currenc(?:y|ies)|exchange\s+rates?|interest\s+rates?|"
    r"competition|competitive|pricing|customers?|recession|geopolitical|pandemic|tariffs?|"
    r"regulat\w+|cyber\w*|litigation|raw\s+materials?|energy\s+costs?)\b",
    re.I,
)


def _is_driver(text: str) -> bool:
    return bool(_CHANGE.search(text) and _CAUSE.search(text))


def _is_risk(text: str) -> bool:
    return bool(_RISK.search(text)) and not _MEASURE_RATIONALE.search(text)


def _is_stated_risk(text: str) -> bool:
    """A risk in management's discussion, which names volatility and
    uncertainty in passing: only "could/may ... adversely affect" sentences."""
    return bool(_RISK_EFFECT.search(text)) and not _MEASURE_RATIONALE.search(text)


def _risk_bonus(text: str) -> float:
    return 1.0 if _RISK_TOPIC.search(text) else 0.0


def _driver_bonus(year: int | None) -> Callable[[str], float]:
    """Explains a lead metric (+2 as its subject, +1 elsewhere), with an
    amount (+0.5), of the report's year (+1) rather than only of earlier
    years (-1); about a minor line (joint ventures, minority interests) -1."""

    def bonus(text: str) -> float:
        lead = _LEAD_METRIC.search(text)
        score = (0.0 if lead is None else 2.0 if lead.start() < 60 else 1.0) + (
            0.5 if re.search(r"\d+(?:\.\d+)?\s*(?:%|percent)|\$\s?\d", text) else 0.0
        )
        score -= 1.0 if _MINOR_ITEM.search(text[:80]) else 0.0
        years = {int(y) for y in re.findall(r"\b(?:19|20)\d\d\b", text)}
        if year is not None and years:
            score += 1.0 if year in years else -1.0 if max(years) < year else 0.0
        return score

    return bonus


def _drivers(
    pages: Sequence[str], mda: Sequence[int], embed: Any, fields: dict[str, Any], year: int | None
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    pool = _page_sentences(pages, mda, _is_driver, **fields)
    return _ranked(pool, _driver_bonus(year), embed, DRIVERS)


def _risks(pages: Sequence[str], mda: Sequence[int], embed: Any, fields: dict[str, Any],
           chosen: Sequence[np.ndarray]) -> list[dict[str, Any]]:  # fmt: skip
    risk_pages = section_pages(pages, _RISK_START, _RISK_END, limit=25)
    pool = _page_sentences(pages, risk_pages, _is_risk, **fields)
    if len(pool) < RISKS:  # a 10-Q refers to its 10-K: risks named in its MD&A
        pool += _page_sentences(pages, mda, _is_stated_risk, **fields)
    return _ranked(pool, _risk_bonus, embed, RISKS, chosen)[0]


def _section(title: str, text: str, cites: list[dict[str, Any]]) -> dict[str, Any]:
    pages = sorted({c["page"] for c in cites})
    return {"title": title, "pages": pages, "summary": text, "method": "extractive",
            "citations": cites}  # fmt: skip


def summarize_report(
    record: Any, pages: Sequence[str], profile: dict[str, Any], embed: Any
) -> dict[str, Any]:
    """The report summary of one document (``record``: its catalog record;
    ``pages``: page texts; ``embed``: texts -> L2-normalised vectors)."""
    fields = {"document_id": record.id, "document": record.name}
    figures = lead_figures(pages, **fields)
    revenue = next((f for f in figures if f["metric"] == "revenue"), None)
    segments = segment_lines(pages, revenue, **fields)
    mda = section_pages(pages, _MDA_START, _MDA_END)
    found = re.search(r"(?:19|20)\d\d", str(profile.get("fiscal_period") or ""))
    year = int(found.group()) if found else None
    drivers, driver_vecs = _drivers(pages, mda, embed, fields, year)
    risks = _risks(pages, mda, embed, fields, driver_vecs)
    fig_cites = [c for f in figures for c in f["citations"][:1]]
    sections = [
        _section("Results", " ".join(f["sentence"] for f in [*figures, *segments]),
                 [c for f in [*figures, *segments] for c in f["citations"]]),
        _section("Drivers", " ".join(s["quote"] for s in drivers), drivers),
        _section("Risks", " ".join(s["quote"] for s in risks), risks),
    ]  # fmt: skip
    return {
        "document_id": record.id, "document": record.name, "pages": record.pages,
        "kind": "report", "profile": profile, "method": "extractive",
        "summary": " ".join(
            [*(f["sentence"] for f in figures), *(s["quote"] for s in [*drivers[:2], *risks[:1]])]
        ),
        "citations": fig_cites + drivers[:2] + risks[:1],
        "figures": figures, "segments": segments, "drivers": drivers, "risks": risks,
        "sections": [s for s in sections if s["citations"]],
    }  # fmt: skip
