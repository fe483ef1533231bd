"""Search that returns distinct pages and knows reports.

:func:`search_pages` is the search of the ``search_documents`` tool (and of
``dossier eval reports``):

1. **Filing routing.** Without a document scope, a question that names a
   company (and a period) is routed to that filing
   (:class:`knowledge_base.routing.FilingRouter`); :class:`PageSearch`
   records which filings were searched, so the answer can name them. Other
   questions go through the knowledge base's own routing.
2. **Distinct pages.** A pool of hybrid hits (``POOL_FACTOR`` × k, at least
   ``MIN_POOL``) is collapsed to its best hit per page, so no page fills the
   top-k twice: a 10-K's statement page holds a dozen table chunks that
   otherwise crowd out every other page.
3. **Statement pages.** A question about a financial statement ("… shown in
   the cash flow statement", "balance sheet", "income statement") or about a
   line item that lives in one (capital expenditure, revenue, net income,
   inventory, …) ranks the pages of that statement first: statement pages
   are recognised by their title at the top of the page, else read from the
   labels of the tables the ingest extracted (``KnowledgeBase.tables``).
   A statement named in the question puts its page at the top; one implied
   by a line item (or by "capital intensive") puts it right below the best hit.
4. **Line items in table rows.** A table row whose label names what the
   question asks about ("effective tax rate", "operating margin" in the row
   "Operating income margin") lifts its page: a question's two-word phrases
   are looked up among the row labels of the pool's table chunks (a phrase
   may skip one word of the label), and each phrase found adds
   ``ROW_WEIGHT`` × the best score to the page.
5. **Cover questions.** A question about what a filing's cover states
   (securities registered on an exchange, trading symbols, filer status,
   file number) puts the cover page first: it is boilerplate everywhere else.
6. **The question as searched** inside routed filings drops analyst
   instructions ("Assume that you are an analyst.", "If operating margin is
   not a useful metric …, state that") and the issuer's name, which every
   page of its report repeats.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from core.types import BlockKind, Chunk, Hit, SearchMode
from knowledge_base.lexical import bm25_terms
from knowledge_base.routing import Filing
from knowledge_base.service import KnowledgeBase

__all__ = [
    "MIN_POOL",
    "POOL_FACTOR",
    "ROW_WEIGHT",
    "PageSearch",
    "cover_question",
    "in_document_query",
    "row_phrases",
    "search_pages",
    "statement_kinds",
    "statement_pages",
    "statement_title",
]

log = logging.getLogger(__name__)

POOL_FACTOR = 6
#: Share of the best score a page gains per question phrase one of its table rows names.
ROW_WEIGHT = 0.5
_EPSILON = 1e-6
MIN_POOL = 48
#: Statement pages found per document at most (one statement spans 1-3 pages).
_MAX_STATEMENT_PAGES = 4

# Statement named outright in a question.
_NAMED = {
    "income": r"income\s+statements?|statements?\s+of\s+(?:consolidated\s+)?(?:income|operations|"
    r"earnings)|profit\s+and\s+loss|p\s*&\s*l\b",
    "balance": r"balance\s+sheets?|statements?\s+of\s+financial\s+position|statement\s+of\s+condition",
    "cash_flow": r"cash\s+flows?\s+statements?|statements?\s+of\s+cash\s+flows?",
    "equity": r"statements?\s+of\s+(?:changes\s+in\s+)?(?:share|stock)holders.?\s+equity",
}
# Line items that live in one statement (a question about them needs its page).
_CAPITAL_INTENSITY = r"capital[-\s]intensi"  # capex / revenue, fixed / total assets
_IMPLIED = {
    "income": _CAPITAL_INTENSITY + r"|\brevenues?\b|net\s+sales|\bnet\s+(?:income|earnings|loss)\b|"
    r"operating\s+income|gross\s+(?:profit|margin)|operating\s+margin|cost\s+of\s+(?:sales|goods|"
    r"revenue)|\bebitda?\b|earnings\s+per\s+share|\beps\b|\bcogs\b|interest\s+expense|"
    r"effective\s+tax\s+rate",
    "balance": _CAPITAL_INTENSITY + r"|total\s+assets|\bassets\b|liabilit|inventor|receivable|"
    r"payable|working\s+capital|quick\s+ratio|current\s+ratio|\bpp\s*&\s*e\b|property,?\s+plant|"
    r"shareholders.?\s+equity|\bdebt\b|book\s+value",
    "cash_flow": _CAPITAL_INTENSITY + r"|capital\s+expenditures?|\bcapex\b|free\s+cash\s+flow|"
    r"cash\s+from\s+operations|operating\s+cash\s+flow|cash\s+flows?\s+from|dividends\s+paid|"
    r"purchases?\s+of\s+property|depreciation\s+and\s+amortization",
}
_NAMED_RE = {k: re.compile(v, re.I) for k, v in _NAMED.items()}
_IMPLIED_RE = {k: re.compile(v, re.I) for k, v in _IMPLIED.items()}

# A statement's title at the top of its page, matched with every non-letter
# removed ("Consolidated Statement of Cash Flow s" prints with stray spaces).
_TITLES = {
    "income": re.compile(r"(?:statements?of(?:consolidated)?(?:income|operations|earnings)"
                         r"|incomestatements?)"),
    "balance": re.compile(r"balancesheets?|statements?offinancialposition|statementsofcondition"),
    "cash_flow": re.compile(r"statements?of(?:consolidated)?cashflows?|cashflowstatements?"),
    "equity": re.compile(r"statements?of(?:changesin)?(?:consolidated)?(?:share|stock)?(?:holders|"
                         r"owners)?equity"),
}  # fmt: skip
_HEAD_LINES = 3
_TITLE_LINE = 160
_TITLE_START = 50
_NOT_A_TITLE = ("information", "data", "location", "items", "impact")
#: A title is not preceded by these (squashed: "in the", "face of", a note's heading).
_NOT_A_TITLE_BEFORE = re.compile(r"note|supplemental|selected|inthe|onthe|ofthe|of$")
_NUMBER = re.compile(r"\(?\$?\d[\d,]*(?:\.\d+)?\)?")
_MIN_NUMBERS = 30


def statement_kinds(query: str) -> tuple[set[str], set[str]]:
    """``(named, implied)`` statements of a question: named outright ("cash
    flow statement"), and implied by the line items it asks about."""
    named = {kind for kind, rx in _NAMED_RE.items() if rx.search(query)}
    implied = {kind for kind, rx in _IMPLIED_RE.items() if rx.search(query)} - named
    return named, implied


def statement_title(page_text: str) -> str | None:
    """The statement whose title opens this page ("income", "balance",
    "cash_flow", "equity"), for a page of figures; else None.

    The title must start one of the page's first lines (a short line: not a
    sentence that mentions "the Consolidated Balance Sheet"), not be followed
    by "information"/"data" (a note's "Supplemental Balance Sheet
    Information"), and the page must hold 30 figures (an index lists titles)."""
    if len(_NUMBER.findall(page_text)) < _MIN_NUMBERS:
        return None
    for line in page_text.lstrip().split("\n")[:_HEAD_LINES]:
        if len(line) > _TITLE_LINE:
            continue
        squashed = re.sub(r"[^a-z]", "", line.lower())
        for kind, rx in _TITLES.items():
            match = rx.search(squashed)
            if (match and match.start() <= _TITLE_START and
                    not squashed[match.end():].startswith(_NOT_A_TITLE) and
                    not re.search(_NOT_A_TITLE_BEFORE, squashed[:match.start()]) and
                    not line.rstrip().endswith(".")):  # fmt: skip
                return kind
    return None


_STATEMENTS: dict[tuple[str, str, str], dict[str, list[int]]] = {}
_STATEMENTS_LOCK = threading.Lock()


def statement_pages(kb: KnowledgeBase, tenant: str, document_id: str) -> dict[str, list[int]]:
    """Pages of each financial statement of a document (``{"cash_flow": [60]}``),
    from the statement titles that open pages (:func:`statement_title`; right
    for all 16 financebench-dev filings), else from the labels of the tables
    the ingest extracted (a label comes from the caption above a table, and
    captions such as "Selected Income Statement Data" label MD&A tables too).
    Cached per document version."""
    record = kb.get_document(tenant, document_id)
    key = (tenant, document_id, str(record.updated_at))
    with _STATEMENTS_LOCK:
        cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    found: dict[str, list[int]] = {}
    for page in kb.pages(tenant, document_id):
        kind = statement_title(page.text)
        if kind is not None:
            found.setdefault(kind, []).append(page.number)
    if not found:
        for kind, number in _table_statements(kb, tenant, document_id):
            found.setdefault(kind, []).append(number)
    found = {k: sorted(set(v))[:_MAX_STATEMENT_PAGES] for k, v in found.items()}
    with _STATEMENTS_LOCK:
        _STATEMENTS[key] = found
    return found


def _table_statements(kb: Any, tenant: str, document_id: str) -> Iterable[tuple[str, int]]:
    """``(statement, page)`` of the document's extracted statement tables, if any."""
    tables = getattr(kb, "tables", None)
    if tables is None:
        return []
    try:
        rows = tables(tenant, document_id)
    except Exception as exc:  # tables are an optional extra: fall back to titles
        log.warning("page_search.tables_failed doc=%s error=%s", document_id, type(exc).__name__)
        return []
    out = []
    for table in rows or []:
        data = table if isinstance(table, dict) else getattr(table, "__dict__", {})
        if data.get("statement") in _TITLES and data.get("page"):
            out.append((str(data["statement"]), int(data["page"])))
    return out


@dataclass
class PageSearch:
    """The hits of :func:`search_pages` (one per page, best first) and how
    they were found."""

    hits: list[Hit]
    filings: list[Filing] = field(default_factory=list)
    statements: list[str] = field(default_factory=list)

    @property
    def pages(self) -> list[tuple[str, int]]:
        return [(h.chunk.document_id, h.chunk.page) for h in self.hits]


# Instructions to an analyst, not words of the report ("Assume that you are a
# public equities analyst.", "If operating margin is not a useful metric ...,
# then state that and explain why.", "Give a response ... by relying on ...").
_INSTRUCTIONS = re.compile(
    r"(?:assume|imagine)\s+(?:that\s+)?you\s+are\b[^.?!]*[.?!]?"
    r"|\bif\s+[^.?!]*\bnot\s+(?:a\s+)?(?:useful|relevant|meaningful)\b[^.?!]*[.?!]?"
    r"|\b(?:please\s+)?(?:give|provide|formulate)\s+(?:a|your)\s+(?:response|answer)\b[^.?!]*[.?!]?"
    r"|\b(?:please\s+)?answer\s+the\s+following\s+question\b[^:?]*:"
    r"|\bround\s+(?:your\s+)?(?:answer|result)\b[^.?!]*[.?!]?",
    re.I,
)


def in_document_query(query: str, filings: Sequence[Filing]) -> str:
    """The question as searched inside the routed filings: without analyst
    instructions, and without the issuer's name (every page of its report
    says it, so it only pulls up covers, signatures and exhibits)."""
    text = _INSTRUCTIONS.sub(" ", query)
    for alias in sorted({a for f in filings for a in f.aliases()}, key=len, reverse=True):
        words = r"[\W_]*".join(re.escape(w) for w in alias.split())
        text = re.sub(rf"\b{words}(?:['’]s)?\b", " ", text, flags=re.I)
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) >= 8 else query


# Questions about what a filing's cover page states.
_COVER_QUESTION = re.compile(
    r"registered\s+(?:pursuant|to\s+trade|on\s+(?:a|the)\b)|securities\s+exchange|trading\s+symbols?|"
    r"ticker|commission\s+file|filer\s+status|accelerated\s+filer|shell\s+company|"
    r"state\s+of\s+incorporation|i\.?\s?r\.?\s?s\.?\s+employer",
    re.I,
)
# Question words that name no line item (stemmed, as bm25_terms writes them).
_NOT_ITEMS = frozenset(
    bm25_terms(
        "what which who how much many has have does did do based data fiscal year company business "
        "change changed compare compared between from as any its our during"
    ).split()
)
#: Longest row label (in terms) read as a line item.
_LABEL_TERMS = 8
_LABEL_END = re.compile(r"[|$\d(]")


def cover_question(query: str) -> bool:
    """Whether the question asks what a filing's cover page states."""
    return _COVER_QUESTION.search(query) is not None


def _item_terms(text: str) -> list[str]:
    return bm25_terms(text).split()


def row_phrases(query: str) -> set[tuple[str, str]]:
    """The question's two-word phrases that may name a line item (stemmed;
    no question words, no numbers or years)."""
    terms = _item_terms(query)
    return {
        (a, b)
        for a, b in pairwise(terms)
        if not ({a, b} & _NOT_ITEMS) and not any(ch.isdigit() for ch in a + b)
    }


def _row_matches(body: str, phrases: set[tuple[str, str]]) -> int:
    """Most ``phrases`` one row label of a table chunk names (a label is a
    line's text before its first figure; a phrase may skip one label word)."""
    most = 0
    for line in body.split("\n"):
        terms = _item_terms(_LABEL_END.split(line, maxsplit=1)[0])
        if len(terms) < 2 or len(terms) > _LABEL_TERMS:
            continue
        pairs = set(pairwise(terms)) | set(zip(terms, terms[2:], strict=False))
        most = max(most, len(pairs & phrases))
    return most


def search_pages(
    kb: KnowledgeBase,
    tenant: str,
    query: str,
    *,
    k: int = 6,
    mode: SearchMode = "hybrid",
    document_ids: Sequence[str] | None = None,
) -> PageSearch:
    """The best hit of each of the ``k`` best pages; see the module docstring."""
    filings: list[Filing] = []
    if document_ids is None:
        routed = kb.router(tenant).filings.route(query)
        if routed:
            filings = routed
            document_ids = [f.document_id for f in routed]
    else:
        known = {f.document_id: f for f in kb.router(tenant).filings.filings}
        filings = [known[d] for d in document_ids if d in known]
    searched = in_document_query(query, filings) if filings else query
    pool = kb.search(tenant, searched, k=max(k * POOL_FACTOR, MIN_POOL), mode=mode,
                     document_ids=document_ids)  # fmt: skip
    best: dict[tuple[str, int], Hit] = {}
    for hit in pool:
        best.setdefault((hit.chunk.document_id, hit.chunk.page), hit)
    scores = {key: hit.score for key, hit in best.items()}
    if best:
        _boost_rows(searched, pool, scores)
    named, implied = statement_kinds(query)
    docs = document_ids or list(dict.fromkeys(d for d, _ in list(best)[:k]))[:3]
    if (named or implied) and best:
        _boost(kb, tenant, query, docs, named, implied, best, scores)
    if best and cover_question(query):
        _boost_cover(kb, tenant, docs, best, scores)
    order = sorted(best, key=lambda key: -scores[key])[:k]
    hits = []
    for rank, key in enumerate(order, 1):
        hit = best[key].model_copy(update={"score": scores[key], "rank": rank})
        hits.append(hit)
    return PageSearch(hits, filings, sorted(named | implied))


def _boost_rows(query: str, pool: Sequence[Hit], scores: dict[tuple[str, int], float]) -> None:
    """Lift the pages whose table rows name the question's line items (module docstring, 4)."""
    phrases = row_phrases(query)
    if not phrases:
        return
    found: dict[tuple[str, int], int] = {}
    for hit in pool:
        if hit.chunk.kind is BlockKind.TABLE:
            key = (hit.chunk.document_id, hit.chunk.page)
            found[key] = max(found.get(key, 0), _row_matches(hit.chunk.body, phrases))
    top = max(scores.values())
    for key, n in found.items():
        if n and key in scores:
            scores[key] += ROW_WEIGHT * n * top


def _boost_cover(
    kb: KnowledgeBase, tenant: str, docs: Sequence[str], best: dict[tuple[str, int], Hit],
    scores: dict[tuple[str, int], float],
) -> None:  # fmt: skip
    """Put each document's cover page first (module docstring, 5)."""
    top = max(scores.values())
    for doc in docs:
        chunks = [c for c in kb.document_vectors(tenant, doc)[0] if c.boilerplate == "cover"]
        if not chunks:
            continue
        key = (doc, chunks[0].page)
        if key not in best:
            best[key] = Hit(chunk=chunks[0], score=0.0, rank=0)
        scores[key] = top + _EPSILON * (1 + scores.get(key, 0.0))


def _boost(
    kb: KnowledgeBase, tenant: str, query: str, docs: Sequence[str], named: set[str],
    implied: set[str], best: dict[tuple[str, int], Hit], scores: dict[tuple[str, int], float],
) -> None:  # fmt: skip
    """Rank each document's first page of each wanted statement: a named
    statement above every hit, an implied one just below the best hit (so the
    page that matches the question best stays first). A page the pool missed
    is represented by its chunk sharing most terms with the query."""
    ranked = sorted(scores.values(), reverse=True)
    top, second = ranked[0], ranked[1] if len(ranked) > 1 else ranked[0]
    for doc in docs:
        pages = statement_pages(kb, tenant, doc)
        for kind in sorted(named | implied):
            if not pages.get(kind):
                continue
            key = (doc, pages[kind][0])
            if key not in best:
                chunk = _page_chunk(kb, tenant, doc, key[1], query)
                if chunk is None:
                    continue
                best[key] = Hit(chunk=chunk, score=0.0, rank=0)
                scores[key] = 0.0
            own = scores[key]
            if kind in named:
                scores[key] = top + own + _EPSILON
            else:
                scores[key] = max(own, second + _EPSILON * (1 + own))


def _page_chunk(kb: KnowledgeBase, tenant: str, doc: str, page: int, query: str) -> Chunk | None:
    chunks = [c for c in kb.document_vectors(tenant, doc)[0] if c.page == page]
    if not chunks:
        return None
    wanted = set(bm25_terms(query).split())
    return max(chunks, key=lambda c: len(wanted & set(bm25_terms(c.text).split())))
