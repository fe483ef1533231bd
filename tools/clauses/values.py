"""Extracting values (dates, amounts, durations, parties, governing law) from
clause passages, behind the small :class:`ValueExtractor` seam.

:class:`RuleValueExtractor` is the CPU default (regular expressions, no
model). :class:`LLMValueExtractor` asks any object with an async
``complete(messages, *, response_format=None, extra_body=None) -> str`` method
(the agent's OpenAI-compatible client fits) for JSON-schema-constrained output,
verifying that the passage really is the clause and reading its value; on an
LLM failure it falls back to the rules for that passage.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from core.errors import LLMError
from tools.clauses.taxonomy import VALUE_KINDS, ValueKind

__all__ = [
    "ClauseValue",
    "Extraction",
    "LLMClient",
    "LLMValueExtractor",
    "RuleValueExtractor",
    "ValueExtractor",
]

log = logging.getLogger(__name__)


class ClauseValue(BaseModel):
    """A value read from a clause. ``text`` is for people; the typed fields are
    what playbook conditions test (``days`` for durations, ``years`` = days/365)."""

    kind: ValueKind
    text: str
    days: float | None = None
    amount: float | None = None
    currency: str | None = None
    date: str | None = None  # ISO 8601
    jurisdiction: str | None = None
    worldwide: bool | None = None
    parties: list[str] = []

    @property
    def years(self) -> float | None:
        return None if self.days is None else self.days / 365.0


class Extraction(BaseModel):
    """``relevant``: None = not checked (rules), False = the LLM rejected the passage."""

    relevant: bool | None = None
    value: ClauseValue | None = None


@runtime_checkable
class ValueExtractor(Protocol):
    async def extract(self, category: str, passage: str) -> Extraction: ...


@runtime_checkable
class LLMClient(Protocol):
    async def complete(
        self,
        messages: Sequence[dict[str, str]],
        *,
        response_format: dict[str, Any] | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> str: ...


# -- rules ---------------------------------------------------------------------
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15,
    "eighteen": 18, "twenty": 20, "thirty": 30, "forty-five": 45, "forty five": 45,
    "sixty": 60, "ninety": 90, "one hundred twenty": 120, "one hundred eighty": 180,
}  # fmt: skip
_UNIT_DAYS = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}
_DURATION = re.compile(
    r"(?:(?P<word>(?:one hundred )?[a-z]+(?:[- ][a-z]+)?)\s*)?(?:\(\s*(?P<paren>\d+)\s*\)|(?P<num>\d+))?"
    r"\s*(?:calendar |business |consecutive |full )?(?P<unit>day|week|month|year)s?\b",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?P<cur>US\$|U\.S\.\s?\$|\$|USD\s?|EUR\s?|€|£|GBP\s?)\s?(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?"
    r"(?:\s*(?P<mult>million|billion|thousand))?",
    re.IGNORECASE,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        start=1,
    )
}
_DATE_LONG = re.compile(
    r"\b(?P<month>"
    + "|".join(_MONTHS)
    + r")\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>(?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_DATE_DAY_OF = re.compile(
    r"\b(?P<day>\d{1,2})(?:st|nd|rd|th)?\s+day\s+of\s+(?P<month>"
    + "|".join(_MONTHS)
    + r"),?\s+(?P<year>(?:19|20)\d{2})\b",
    re.IGNORECASE,
)
_DATE_NUMERIC = re.compile(r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>(?:19|20)?\d{2})\b")
_US_STATES = [
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut",
    "Delaware", "Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
    "Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota",
    "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada", "Ohio", "Oklahoma", "Oregon",
    "Pennsylvania", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington",
    "Wisconsin", "Wyoming", "New Hampshire", "New Jersey", "New Mexico", "New York",
    "North Carolina", "North Dakota", "Rhode Island", "South Carolina", "South Dakota",
    "West Virginia", "District of Columbia",
]  # fmt: skip
_COUNTRIES = [
    "England and Wales", "England", "Scotland", "United Kingdom", "Ireland", "Canada", "Ontario",
    "British Columbia", "Quebec", "Alberta", "Germany", "France", "Switzerland", "the Netherlands",
    "Netherlands", "Israel", "Singapore", "Hong Kong", "Japan", "China", "India", "Australia",
    "Sweden", "Italy", "Spain", "Korea", "Taiwan", "Bermuda", "Cayman Islands", "Luxembourg",
]  # fmt: skip
_PLACES = sorted(_US_STATES + _COUNTRIES, key=len, reverse=True)
_LAW_OF = re.compile(
    r"laws?\s+(?:and\s+\w+\s+)?(?:in force\s+)?(?:of|in)\s+(?:the\s+)?", re.IGNORECASE
)
_WORLDWIDE = re.compile(
    r"\b(world-?wide|throughout the world|anywhere in the world|any country)\b", re.I
)
_BETWEEN = re.compile(
    r"\bbetween\s+(?P<a>[^,(;]{3,120}?)\s*[,(].{0,200}?\band\s+(?P<b>[^,(;]{3,120}?)\s*[,(]",
    re.IGNORECASE | re.DOTALL,
)


def _durations(text: str) -> list[tuple[float, str]]:
    out: list[tuple[float, str]] = []
    for m in _DURATION.finditer(text):
        number: float | None = None
        if m.group("paren") or m.group("num"):
            number = float(m.group("paren") or m.group("num"))
        elif m.group("word") and m.group("word").lower() in _NUMBER_WORDS:
            number = float(_NUMBER_WORDS[m.group("word").lower()])
        elif m.group("word") and m.group("word").lower().split()[-1] in _NUMBER_WORDS:
            number = float(_NUMBER_WORDS[m.group("word").lower().split()[-1]])
        if number is not None:
            unit = m.group("unit").lower()
            out.append(
                (number * _UNIT_DAYS[unit], f"{number:g} {unit}{'s' if number != 1 else ''}")
            )
    return out


def _iso(year: str, month: int, day: str) -> str | None:
    y = int(year) + (2000 if len(year) == 2 and int(year) < 50 else 1900 if len(year) == 2 else 0)
    try:
        return date(y, month, int(day)).isoformat()
    except ValueError:
        return None


def _first_date(text: str) -> str | None:
    found: list[tuple[int, str]] = []
    for pattern in (_DATE_LONG, _DATE_DAY_OF):
        for m in pattern.finditer(text):
            iso = _iso(m.group("year"), _MONTHS[m.group("month").lower()], m.group("day"))
            if iso:
                found.append((m.start(), iso))
    for m in _DATE_NUMERIC.finditer(text):
        iso = _iso(m.group("year"), int(m.group("month")), m.group("day"))
        if iso:
            found.append((m.start(), iso))
    return min(found)[1] if found else None


def _jurisdiction(text: str) -> str | None:
    for m in _LAW_OF.finditer(text):
        tail = text[m.end() : m.end() + 80]
        tail = re.sub(r"^(State|Commonwealth|Province|Republic)\s+of\s+", "", tail, flags=re.I)
        for place in _PLACES:
            if tail.lower().startswith(place.lower()):
                return place.removeprefix("the ")
    for place in _PLACES:
        if re.search(rf"\b{re.escape(place)}\b", text):
            return place.removeprefix("the ")
    return None


def rule_value(category: str, passage: str) -> ClauseValue | None:
    """The rule-based value of ``category`` in ``passage``, or None."""
    kind = VALUE_KINDS.get(category, "none")
    if kind == "jurisdiction":
        place = _jurisdiction(passage)
        return ClauseValue(kind=kind, text=place, jurisdiction=place) if place else None
    if kind == "date":
        iso = _first_date(passage)
        if iso:
            return ClauseValue(kind=kind, text=iso, date=iso)
        if category == "Expiration Date" and re.search(r"\bperpetu|indefinite", passage, re.I):
            return ClauseValue(kind=kind, text="perpetual")
        return None
    if kind == "duration":
        found = _durations(passage)
        worldwide = bool(_WORLDWIDE.search(passage))
        if not found:
            return ClauseValue(kind=kind, text="worldwide", worldwide=True) if worldwide else None
        # Restrictive covenants: the longest period is the one that binds.
        days, text = max(found) if category.startswith(("Non-Compete", "No-Solicit")) else found[0]
        return ClauseValue(kind=kind, text=text, days=days, worldwide=worldwide)
    if kind == "amount":
        m = _AMOUNT.search(passage)
        if not m:
            return None
        amount = float(
            m.group("num").replace(",", "") + ("." + m.group("dec") if m.group("dec") else "")
        )
        mult = (m.group("mult") or "").lower()
        amount *= {"thousand": 1e3, "million": 1e6, "billion": 1e9}.get(mult, 1.0)
        cur = m.group("cur").strip().upper().replace(".", "")
        currency = {"$": "USD", "US$": "USD", "US $": "USD", "€": "EUR", "£": "GBP"}.get(cur, cur)
        return ClauseValue(kind=kind, text=m.group(0).strip(), amount=amount, currency=currency)
    if kind == "parties":
        m = _BETWEEN.search(passage)
        if not m:
            return None
        parties = [" ".join(m.group(g).split()).strip(' "“”') for g in ("a", "b")]
        return ClauseValue(kind=kind, text="; ".join(parties), parties=parties)
    if kind == "title":
        for line in passage.splitlines():
            line = line.strip()
            if "AGREEMENT" in line.upper() and len(line) <= 120:
                return ClauseValue(kind=kind, text=" ".join(line.split()))
        return None
    return None


class RuleValueExtractor:
    """Regex/rule-based values; never rejects a passage (``relevant=None``)."""

    async def extract(self, category: str, passage: str) -> Extraction:
        return self.extract_sync(category, passage)

    def extract_sync(self, category: str, passage: str) -> Extraction:
        return Extraction(value=rule_value(category, passage))


# -- LLM -----------------------------------------------------------------------
_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "relevant": {"type": "boolean"},
        "value_text": {"type": ["string", "null"]},
        "days": {"type": ["number", "null"]},
        "amount": {"type": ["number", "null"]},
        "currency": {"type": ["string", "null"]},
        "date": {"type": ["string", "null"]},
        "jurisdiction": {"type": ["string", "null"]},
        "worldwide": {"type": ["boolean", "null"]},
        "parties": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["relevant", "value_text"],
}


class LLMValueExtractor:
    """Verifies a candidate passage and reads its value with an LLM.

    ``mode="guided_json"`` sends ``extra_body={"guided_json": schema}`` (vLLM);
    ``mode="response_format"`` sends an OpenAI ``json_schema`` response format.
    """

    def __init__(self, llm: LLMClient, *, mode: str = "guided_json") -> None:
        self.llm = llm
        self.mode = mode
        self.rules = RuleValueExtractor()

    def _messages(self, category: str, passage: str) -> list[dict[str, str]]:
        from tools.clauses.taxonomy import canonical_category, categories

        name = canonical_category(category)
        cat = next(c for c in categories() if c.name == name)
        return [
            {
                "role": "system",
                "content": "You review contract clauses. Answer only with JSON matching the schema. "
                "Durations in days; dates ISO 8601; amounts as numbers.",
            },
            {
                "role": "user",
                "content": f"Category: {cat.name}\nDefinition: {cat.description}\n"
                f"Answer format: {cat.answer_format}\n\nPassage:\n{passage}\n\n"
                "Is this passage an instance of the category (relevant)? If so, extract its value.",
            },
        ]

    async def extract(self, category: str, passage: str) -> Extraction:
        kwargs: dict[str, Any] = (
            {"extra_body": {"guided_json": _SCHEMA}}
            if self.mode == "guided_json"
            else {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "clause", "schema": _SCHEMA},
                }
            }
        )
        try:
            raw = await self.llm.complete(self._messages(category, passage), **kwargs)
            data = json.loads(raw)
            if not isinstance(data, dict) or not isinstance(data.get("relevant"), bool):
                raise ValueError("no boolean 'relevant'")
        except (LLMError, ValueError) as exc:
            log.warning("clauses.llm_fallback category=%s error=%s", category, type(exc).__name__)
            return self.rules.extract_sync(category, passage)
        if not data["relevant"]:
            return Extraction(relevant=False)
        kind = VALUE_KINDS.get(category, "none")
        if kind == "none" or not data.get("value_text"):
            return Extraction(relevant=True, value=rule_value(category, passage))
        try:
            value = ClauseValue(
                kind=kind,
                text=str(data["value_text"]),
                **{
                    k: data.get(k)
                    for k in ("days", "amount", "currency", "date", "jurisdiction", "worldwide")
                },
                parties=list(data.get("parties") or []),
            )
        except ValidationError:
            value = rule_value(category, passage)
        return Extraction(relevant=True, value=value)
