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
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ValidationError

from core.errors import LLMError
from tools.clauses.taxonomy import VALUE_KINDS, ValueKind, canonical_category
from tools.clauses.value_names import PLACES as _PLACES  # noqa: F401  (agent.facts reads it)
from tools.clauses.value_names import cap_formula, document_name, governing_laws, parties
from tools.clauses.value_rules import date_for, notice_period, renewal_term
from tools.clauses.value_text import Duration

__all__ = [
    "ClauseValue",
    "Extraction",
    "LLMClient",
    "LLMValueExtractor",
    "RuleValueExtractor",
    "ValueExtractor",
    "document_value",
    "document_values",
    "rule_value",
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
    #: Every jurisdiction a choice-of-law clause names (``jurisdiction`` is the first).
    jurisdictions: list[str] = []
    #: Renewal terms: the agreement renews again and again ("successive one-year terms").
    successive: bool | None = None

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
_WORLDWIDE = re.compile(
    r"\b(world-?wide|throughout the world|anywhere in the world|any country)\b", re.I
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


def _amount_value(text: str) -> ClauseValue | None:
    m = _AMOUNT.search(text)
    if not m:
        return None
    amount = float(
        m.group("num").replace(",", "") + ("." + m.group("dec") if m.group("dec") else "")
    )
    mult = (m.group("mult") or "").lower()
    amount *= {"thousand": 1e3, "million": 1e6, "billion": 1e9}.get(mult, 1.0)
    cur = m.group("cur").strip().upper().replace(".", "")
    currency = {"$": "USD", "US$": "USD", "US $": "USD", "€": "EUR", "£": "GBP"}.get(cur, cur)
    return ClauseValue(kind="amount", text=m.group(0).strip(), amount=amount, currency=currency)


def _duration_value(d: Duration, text: str, successive: bool | None = None) -> ClauseValue:
    return ClauseValue(kind="duration", text=text, days=d.approx_days, successive=successive)


def _date_value(iso: str) -> ClauseValue:
    if iso in ("perpetual", "blank"):  # "blank": the contract leaves its date blank
        return ClauseValue(kind="date", text=iso)
    if len(iso) == 7:  # the day is left blank: "March ___, 1999"
        year, month = iso.split("-")
        return ClauseValue(kind="date", text=f"{_MONTH_NAMES[int(month) - 1]} {year}")
    return ClauseValue(kind="date", text=iso, date=iso)


_MONTH_NAMES = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip


def _renewal(passage: str) -> tuple[ClauseValue, int] | None:
    found = renewal_term(passage)
    if found is None:
        return None
    length, successive, count, strength = found
    if isinstance(length, str):
        return ClauseValue(kind="duration", text=length), strength
    label = length.label()
    text = (
        f"{count} successive {label}" if count else f"successive {label}" if successive else label
    )
    return _duration_value(length, text, successive), strength


def _strong_rule(
    category: str, passage: str, context: Mapping[str, str]
) -> tuple[ClauseValue, int] | None:
    """The category-specific rules of :mod:`tools.clauses.value_rules` / ``value_names``."""
    if category == "Renewal Term":
        return _renewal(passage)
    if category == "Notice Period to Terminate Renewal":
        notice = notice_period(passage)
        return (_duration_value(notice[0], notice[0].label()), notice[1]) if notice else None
    if category in ("Agreement Date", "Effective Date", "Expiration Date"):
        found = date_for(category, passage, dict(context))
        return (_date_value(found[0]), found[1]) if found else None
    if category == "Governing Law":
        laws = governing_laws(passage)
        if laws is None:
            return None
        places, strength = laws
        value = ClauseValue(
            kind="jurisdiction", text=" and ".join(places), jurisdiction=places[0],
            jurisdictions=places,
        )  # fmt: skip
        return value, strength
    if category == "Parties":
        found_parties = parties(passage)
        if found_parties is None:
            return None
        named, strength = found_parties
        text = "; ".join(f'{n} ("{t}")' if t else n for n, t in named)
        return ClauseValue(kind="parties", text=text, parties=[n for n, _ in named]), strength
    if category == "Document Name":
        title = document_name(passage)
        return (ClauseValue(kind="title", text=title[0]), title[1]) if title else None
    if category == "Cap on Liability":
        cap = cap_formula(passage)
        if cap is None:
            return None
        amount = _amount_value(cap[0])
        value = ClauseValue(
            kind="amount", text=cap[0], amount=amount.amount if amount else None,
            currency=amount.currency if amount else None,
        )  # fmt: skip
        return value, cap[1]
    return None


_STRONG = frozenset(
    {
        "Renewal Term", "Notice Period to Terminate Renewal", "Agreement Date", "Effective Date",
        "Expiration Date", "Governing Law", "Parties", "Cap on Liability", "Document Name",
    }
)  # fmt: skip


def _rule(
    category: str, passage: str, context: Mapping[str, str] | None = None
) -> tuple[ClauseValue, int] | None:
    try:
        category = canonical_category(category)
    except KeyError:
        return None
    if category in _STRONG:
        return _strong_rule(category, passage, context or {})
    kind = VALUE_KINDS.get(category, "none")
    if kind == "duration":
        found = _durations(passage)
        worldwide = bool(_WORLDWIDE.search(passage))
        if not found:
            return (
                (ClauseValue(kind=kind, text="worldwide", worldwide=True), 1) if worldwide else None
            )
        # Restrictive covenants: the longest period is the one that binds.
        days, text = max(found) if category.startswith(("Non-Compete", "No-Solicit")) else found[0]
        return ClauseValue(kind=kind, text=text, days=days, worldwide=worldwide), 1
    if kind == "amount":
        amount = _amount_value(passage)
        return (amount, 1) if amount else None
    return None


def rule_value(category: str, passage: str) -> ClauseValue | None:
    """The rule-based value of ``category`` in ``passage``, or None."""
    found = _rule(category, passage)
    return found[0] if found else None


def document_value(
    category: str, passages: Sequence[str], *, context: Mapping[str, str] | None = None
) -> ClauseValue | None:
    """The value of ``category`` across one document's candidate ``passages``
    (best first): the most firmly stated one, the earlier passage on a tie.

    ``context`` maps date categories already read from the same document to
    their ISO dates (see :func:`document_values`): an effective date "as of
    the date hereof" is the agreement date; an expiration "five (5) years
    from the Effective Date" is computed from the effective date. Governing
    law gathers every jurisdiction that the choice-of-law passages name.
    """
    found = [v for p in passages if (v := _rule(category, p, context)) is not None]
    if not found:
        return None
    best, strength = max(found, key=lambda vs: vs[1])  # max keeps the first of equals
    if best.kind == "jurisdiction" and strength >= 3:
        places = list(
            dict.fromkeys(j for v, s in found if s >= 3 for j in v.jurisdictions or [v.text])
        )
        text = " and ".join(places)
        best = best.model_copy(update={"text": text, "jurisdictions": places})
    return best


def document_values(passages: Mapping[str, Sequence[str]]) -> dict[str, ClauseValue]:
    """:func:`document_value` for every category of ``passages`` (candidate
    passages per category, best first), the agreement date read before the
    effective date and both before the expiration date."""
    order = ["Agreement Date", "Effective Date", "Expiration Date"]
    names = sorted(passages, key=lambda c: order.index(c) if c in order else -1)
    context: dict[str, str] = {}
    out: dict[str, ClauseValue] = {}
    for category in names:
        value = document_value(category, passages[category], context=context)
        if value is None:
            continue
        out[category] = value
        if value.date:
            context[category] = value.date
    return out


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
