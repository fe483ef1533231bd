"""The deterministic planner, for models that cannot call tools themselves.

Rules (no model involved, so the same question always gets the same plan):

1. Always retrieve. A follow-up ("and what about termination?", "does it
   apply to them?") is rewritten into a standalone query by prefixing the
   previous turn's standalone query.
2. Add ``extract_clauses`` when the question is about clauses, risk or a
   contract term (keywords, plus the common CUAD categories).
3. Add ``run_python`` when the question needs arithmetic or date math and the
   planner can write the program itself: an arithmetic expression in the
   question, two dates (days between), or "N days/weeks/months after DATE".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "Plan",
    "PlannedCall",
    "clause_categories",
    "is_follow_up",
    "plan_question",
    "python_for",
    "standalone_query",
]


@dataclass(frozen=True)
class PlannedCall:
    tool: str
    arguments: dict[str, Any]


@dataclass
class Plan:
    query: str
    follow_up: bool = False
    calls: list[PlannedCall] = field(default_factory=list)


_FOLLOW_UP_START = re.compile(
    r"^\s*(?:and|also|but|so|then|what about|how about|and what|and how|same for|what if|"
    r"why|is that|does that|does it|is it|are they|can they|could it)\b",
    re.I,
)
_ANAPHORA = re.compile(
    r"\b(?:it|its|that|this|those|these|they|them|their|there|same|above|former|latter)\b", re.I
)
_CONTENT = re.compile(r"[A-Za-z]{3,}")
_QUESTION_WORDS = frozenset(
    re.findall(
        r"\S+",
        "what which who whom whose when where why how does did do is are was were can could "
        "would should will shall about also and the for with that this those these there ",
    )
)

_CLAUSE = re.compile(
    r"\b(?:clauses?|provisions?|risks?|risky|contract\s+terms?|terms?\s+of|obligations?|"
    r"indemnif\w*|liabilit\w*|warrant\w*|non[- ]?compete|non[- ]?solicit\w*|exclusivit\w*|"
    r"change\s+of\s+control|assignment|audit\s+rights?|termination|terminate|renewal|"
    r"most\s+favou?red|minimum\s+commitment|ip\s+ownership|license\s+grant|liquidated\s+damages|"
    r"insurance|covenant\s+not\s+to\s+sue|governing\s+law|confidentiality)\b",
    re.I,
)

#: Words lawyers use for CUAD categories whose names they do not spell out.
_SYNONYMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"liabilit", ("Cap on Liability", "Uncapped Liability")),
    (r"terminat", ("Termination for Convenience", "Notice Period to Terminate Renewal")),
    (r"renew", ("Renewal Term", "Notice Period to Terminate Renewal")),
    (r"assign", ("Anti-Assignment",)),
    (r"non[- ]?compet|compete", ("Non-Compete",)),
    (r"solicit", ("No-Solicit of Customers", "No-Solicit of Employees")),
    (r"exclusiv", ("Exclusivity",)),
    (r"audit", ("Audit Rights",)),
    (r"warrant", ("Warranty Duration",)),
    (r"licen[cs]e", ("License Grant",)),
    (r"governing|jurisdiction|which (?:state|country)'?s? law", ("Governing Law",)),
)
_ARITH = re.compile(
    r"(?<![\w.])\(?\d[\d,]*(?:\.\d+)?\)?(?:\s*[-+*/×x]\s*\(?\d[\d,]*(?:\.\d+)?\)?)+"
)
_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE = re.compile(
    rf"\b(?:\d{{4}}-\d{{1,2}}-\d{{1,2}}|\d{{1,2}}/\d{{1,2}}/\d{{4}}|"
    rf"(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|"
    rf"\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{_MONTHS})\.?,?\s+\d{{4}})\b",
    re.I,
)
_OFFSET = re.compile(
    r"\b(\d{1,5})\s+(day|week|month|year)s?\s+(after|from|before|following|prior\s+to)\b", re.I
)
_MATHY = re.compile(
    r"\b(?:how\s+many\s+(?:days|weeks|months|years)|add|total|sum|difference|calculate|compute)\b",
    re.I,
)


def _content_words(text: str) -> list[str]:
    return [w for w in _CONTENT.findall(text) if w.lower() not in _QUESTION_WORDS]


def is_follow_up(question: str, previous: str | None) -> bool:
    """True when ``question`` only makes sense with the previous turn."""
    if not previous:
        return False
    if _FOLLOW_UP_START.search(question):
        return True
    words = _content_words(question)
    return len(words) <= 2 or (len(words) <= 5 and bool(_ANAPHORA.search(question)))


def standalone_query(question: str, previous_query: str | None) -> tuple[str, bool]:
    """The retrieval query for ``question`` and whether it was rewritten."""
    question = question.strip()
    if previous_query and is_follow_up(question, previous_query):
        return f"{previous_query.strip()} {question}", True
    return question, False


def _parse_date(text: str) -> date | None:
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text, flags=re.I).replace(",", "")
    cleaned = re.sub(r"\s+", " ", cleaned.replace(".", "")).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(cleaned.replace("Sept ", "Sep "), fmt).date()
        except ValueError:
            continue
    return None


def python_for(question: str) -> str | None:
    """A short program answering the arithmetic/date part of ``question``, or None."""
    dates = [d for d in (_parse_date(m.group(0)) for m in _DATE.finditer(question)) if d]
    offset = _OFFSET.search(question)
    if offset and dates:
        n, unit, direction = int(offset.group(1)), offset.group(2).lower(), offset.group(3).lower()
        sign = -1 if direction.startswith(("before", "prior")) else 1
        base = dates[0].isoformat()
        if unit in ("day", "week"):
            days = n * (7 if unit == "week" else 1) * sign
            return (
                "from datetime import date, timedelta\n"
                f"print((date.fromisoformat({base!r}) + timedelta(days={days})).isoformat())"
            )
        months = n * (12 if unit == "year" else 1) * sign
        return (
            "import calendar\nfrom datetime import date\n"
            f"d = date.fromisoformat({base!r})\n"
            f"m = d.month - 1 + {months}\n"
            "y, m = d.year + m // 12, m % 12 + 1\n"
            "print(date(y, m, min(d.day, calendar.monthrange(y, m)[1])).isoformat())"
        )
    if len(dates) >= 2:
        a, b = dates[0].isoformat(), dates[1].isoformat()
        return (
            "from datetime import date\n"
            f"print(abs((date.fromisoformat({b!r}) - date.fromisoformat({a!r})).days))"
        )
    match = _ARITH.search(question)
    if match and (_MATHY.search(question) or re.search(r"\d\s*[-+*/×]\s*\d", match.group(0))):
        expr = match.group(0).replace(",", "").replace("×", "*")
        expr = re.sub(r"(?<=\d)\s*x\s*(?=\d)", "*", expr)
        if re.fullmatch(r"[\d\s.+\-*/()]+", expr):
            return f"print({expr.strip()})"
    return None


def clause_categories(question: str, names: Sequence[str]) -> list[str] | None:
    """The clause categories (from ``names``) a question is about; None = all."""
    text = question.lower()
    found: list[str] = []
    for name in names:
        spelled = re.sub(r"[/-]", " ", name.lower())
        if spelled in re.sub(r"[/-]", " ", text):
            found.append(name)
    for pattern, targets in _SYNONYMS:
        if re.search(pattern, text):
            found += [t for t in targets if t in names]
    return list(dict.fromkeys(found)) or None


def plan_question(
    question: str,
    *,
    previous_query: str | None = None,
    available: frozenset[str] | set[str] = frozenset(),
    document_ids: list[str] | None = None,
    categories: Sequence[str] = (),
) -> Plan:
    """The deterministic plan for ``question`` given the tools ``available``.

    ``categories`` are the clause categories ``extract_clauses`` knows. Its
    planned call carries ``categories`` only; the loop adds the ``document_id``
    (the ``--doc`` document, else the top retrieved passage's document).
    """
    query, follow_up = standalone_query(question, previous_query)
    plan = Plan(query=query, follow_up=follow_up)
    search_args: dict[str, Any] = {"query": query}
    if document_ids:
        search_args["document_ids"] = list(document_ids)
    plan.calls.append(PlannedCall("search_documents", search_args))
    if "extract_clauses" in available and _CLAUSE.search(query):
        plan.calls.append(
            PlannedCall("extract_clauses", {"categories": clause_categories(query, categories)})
        )
    if "run_python" in available:
        code = python_for(question)
        if code is not None:
            plan.calls.append(PlannedCall("run_python", {"code": code}))
    return plan
