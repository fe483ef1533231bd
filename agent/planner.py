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
4. Put ``citator`` first when the question asks who cites an authority or how it
   was treated ("which of our opinions cite 288 Ark. 37", "has Carter v.
   Matthews been distinguished or overruled") and names one.
5. Add ``compute_figure`` when the question asks for a metric of a report's
   statements in a fiscal year ("FY2018 capital expenditure", "FY2022 fixed
   asset turnover"; :func:`tools.figures.is_figure_question`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tools.figures import is_figure_question

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
_CITATOR = re.compile(
    r"\b(?:cit(?:e|es|ed|ing)|cited\s+by|citator|overrul\w*|distinguish\w*|abrogat\w*|"
    r"question(?:ed)?\s+(?:in|by)|good\s+law|followed|treat(?:ed|ment))\b",
    re.I,
)
_AUTHORITY = re.compile(
    r"\b\d{1,4}\s+[A-Z][A-Za-z.\s]{0,20}?\d?[a-z]{0,2}\s+\d{1,5}\b|\b[A-Z]\w+\s+vs?\.\s+[A-Z]"
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


_MONTH_NUMBER = {name: n for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}  # fmt: skip
#: Anything shaped like a numeric date, valid or not ("2024-02-30", "13/45/2024"):
#: never read as arithmetic.
_DATE_SHAPE = re.compile(r"(?<![\w./-])\d{1,4}([-/])\d{1,2}\1\d{1,4}(?![\w/-])")


def _date_parts(text: str) -> tuple[int, int, int] | None:
    """(year, month, day) of a date as ``_DATE`` matches it; not range-checked."""
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text, flags=re.I)
    cleaned = re.sub(r"[,.]", " ", cleaned).lower().split()
    if len(cleaned) == 1:
        iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", cleaned[0])
        if iso:
            return int(iso[1]), int(iso[2]), int(iso[3])
        us = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", cleaned[0])
        return (int(us[3]), int(us[1]), int(us[2])) if us else None
    if len(cleaned) != 3 or not cleaned[2].isdigit():
        return None
    first, second = cleaned[0], cleaned[1]
    day, name = (second, first) if first[:1].isalpha() else (first, second)
    month = _MONTH_NUMBER.get(name[:3])
    return (int(cleaned[2]), month, int(day)) if month and day.isdigit() else None


def _date_error(text: str) -> str | None:
    """Why ``text`` (a ``_DATE`` match) is not a calendar date; None if it is one."""
    parts = _date_parts(text)
    if parts is None:
        return f"{text} is not a date I can read"
    year, month, day = parts
    if not 1 <= month <= 12:
        return f"{text} is not a valid date (there is no month {month})"
    if not 1 <= year <= 9999:
        return f"{text} is not a valid date (the year {year} is out of range)"
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return (f"{text} is not a valid date ({calendar.month_name[month]} {year} "
                f"has {days} days)")  # fmt: skip
    return None


def _parse_date(text: str) -> date | None:
    parts = _date_parts(text)
    return date(*parts) if parts is not None and _date_error(text) is None else None


def _refusal(reason: str) -> str:
    """A program that states, instead of computing, why no date math was done."""
    sentence = f"No date arithmetic was done: {reason}."
    return f"print({sentence!r})"


def _date_program(question: str) -> str | None:
    """The date-math program (or a refusal naming an invalid date), or None."""
    found = [m.group(0) for m in _DATE.finditer(question)]
    unread = [s.group(0) for s in _DATE_SHAPE.finditer(question)
              if not any(s.group(0) in f for f in found)]  # fmt: skip
    offset = _OFFSET.search(question)
    if not (offset or len(found) + len(unread) >= 2 or _MATHY.search(question)):
        return None
    if unread:
        return _refusal(f"{unread[0]} is not a date I can read (write it as YYYY-MM-DD)")
    for text in found:
        if (error := _date_error(text)) is not None:
            return _refusal(error)
    dates = [d for d in (_parse_date(text) for text in found) if d]
    if offset and dates:
        return _offset_program(dates[0], int(offset.group(1)), offset.group(2).lower(),
                               offset.group(3).lower())  # fmt: skip
    if len(dates) >= 2:
        a, b = dates[0].isoformat(), dates[1].isoformat()
        return (
            "from datetime import date\n"
            f"print(abs((date.fromisoformat({b!r}) - date.fromisoformat({a!r})).days))"
        )
    return None


def _offset_program(base: date, n: int, unit: str, direction: str) -> str:
    sign = -1 if direction.startswith(("before", "prior")) else 1
    days = n * (7 if unit == "week" else 1) * sign
    months = n * (12 if unit == "year" else 1) * sign
    try:  # the program must not fail: refuse a result outside the calendar
        if unit in ("day", "week"):
            base + timedelta(days=days)
        elif not 1 <= base.year + (base.month - 1 + months) // 12 <= 9999:
            raise OverflowError
    except OverflowError:
        return _refusal(f"{n} {unit}s {direction} {base.isoformat()} is outside the calendar")
    iso = base.isoformat()
    if unit in ("day", "week"):
        return (
            "from datetime import date, timedelta\n"
            f"print((date.fromisoformat({iso!r}) + timedelta(days={days})).isoformat())"
        )
    return (
        "import calendar\nfrom datetime import date\n"
        f"d = date.fromisoformat({iso!r})\n"
        f"m = d.month - 1 + {months}\n"
        "y, m = d.year + m // 12, m % 12 + 1\n"
        "print(date(y, m, min(d.day, calendar.monthrange(y, m)[1])).isoformat())"
    )


def python_for(question: str) -> str | None:
    """A short program answering the arithmetic/date part of ``question``, or None.

    A date that does not exist ("2024-02-30", "February 30, 2024") is never
    computed with: the program prints a sentence saying why. Date-shaped
    text is never read as arithmetic ("2024-02-30" is not 1992).
    """
    program = _date_program(question)
    if program is not None:
        return program
    masked = _DATE_SHAPE.sub(" ", _DATE.sub(" ", question))
    match = _ARITH.search(masked)
    if match and (_MATHY.search(masked) or re.search(r"\d\s*[-+*/×]\s*\d", match.group(0))):
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
    if "citator" in available and _CITATOR.search(query) and _AUTHORITY.search(query):
        plan.calls.insert(0, PlannedCall("citator", {"question": query}))
    if "extract_clauses" in available and _CLAUSE.search(query):
        plan.calls.append(
            PlannedCall("extract_clauses", {"categories": clause_categories(query, categories)})
        )
    if "compute_figure" in available and is_figure_question(query):
        figure_args: dict[str, Any] = {"question": query}
        if document_ids and len(document_ids) == 1:
            figure_args["document_id"] = document_ids[0]
        plan.calls.append(PlannedCall("compute_figure", figure_args))
    if "run_python" in available:
        code = python_for(question)
        if code is not None:
            plan.calls.append(PlannedCall("run_python", {"code": code}))
    return plan
