"""Values the contract implies but does not write: an expiration date computed
from the start date and the term ("five (5) years from the Effective Date").

A computed value is never presented as if the contract stated it: the
sentence shows the computation, and each input is quoted from its passage
("The initial term ends on February 10, 2019: five (5) years from the
effective date, February 10, 2014 [1][2]."). The claim records the computed
surface (``Claim.computed``) so checks can tell a shown result from an
unsupported one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from agent.citations import split_sentences
from agent.facts import facts
from tools.clauses.value_rules import FOOTER, shift, term_length
from tools.clauses.value_text import find_dates
from tools.clauses.values import document_value
from tools.retrieval import Evidence

__all__ = ["Derived", "derive_expiration", "in_page_order", "long_date", "signed_date"]

#: What a term runs from, in the sentence that states it.
_FROM_EFFECTIVE = re.compile(r"\beffective\s+date\b", re.I)
_FROM_SIGNING = re.compile(
    r"\bdate\s+(?:hereof|of\s+(?:this|the)\s+agreement|of\s+execution)\b|\bexecution\s+date\b"
    r"|\bdate\s+first\s+(?:set\s+forth|written|above)",
    re.I,
)
#: A sentence that defines the effective date ("(the "Effective Date")", "Effective Date" means).
_DEFINES_EFFECTIVE = re.compile(r"[\"“”]\s*Effective\s+Date\s*[\"“”]", re.I)
#: A term tied to an event whose date the contract cannot state in advance.
_FROM_EVENT = re.compile(
    r"\b(?:launch|first\s+(?:commercial\s+)?(?:sale|purchase|shipment|order)|acceptance|"
    r"approval|completion|delivery|installation|closing)\b",
    re.I,
)


#: The term of the agreement itself ("The term of the Agreement will be for 12 months",
#: "this Agreement shall remain in force for an Initial Period of 1 year").
_AGREEMENT_TERM = re.compile(
    r"\b(?:initial\s+)?(?:term|period)\s+of\s+(?:this|the)\s+(?:\w+\s+)?(?:agreement|contract)\b"
    r"|\b(?:this|the)\s+(?:agreement|contract)\s+(?:shall|will)\s+(?:remain|continue|be)\s+in\s+"
    r"(?:full\s+)?(?:force|effect)\b",
    re.I,
)
#: A sentence naming some other start: "from the Launch Date", "on the Services Commencement
#: Date", "from the date of ...", "beginning on January 1, 2000".
_OTHER_START = re.compile(
    r"\b(?!Effective\b)[A-Z]\w+\s+Date\b|\b(?:from|after|following|commenc\w*|begin\w*|start\w*)"
    r"\s+(?:on\s+|as\s+of\s+)?(?:the\s+)?(?:date|\d|[A-Z][a-z]+\s+\d)",
)
#: The anchor of a term that states no start: the effective date, by default.
_BY_DEFAULT = "Effective Date, by default"


@dataclass
class Derived:
    """A computed value: the sentence, and each input's passage and sentence."""

    text: str
    inputs: list[tuple[Evidence, str]]
    computed: str


def long_date(iso: str) -> str:
    """ "February 10, 2019"."""
    d = date.fromisoformat(iso)
    return f"{d.strftime('%B')} {d.day}, {d.year}"


def _from_signature(
    passage: dict[str, Any],
    term_sentence: str,
    length: Any,
    by_signature: tuple[tuple[dict[str, Any], str], tuple[dict[str, Any], str, str, str]],
    item_for: Callable[[dict[str, Any]], Evidence],
) -> Derived | None:
    """The term's end counted from an effective date that is the date of the signatures."""
    (defining, definition), (signed, shown, iso, surface) = by_signature
    end = _shifted(iso, length)
    if end is None:
        return None
    span = _span(length)
    if not span.endswith(" from"):
        span = span.removesuffix(" of") + " counted from"
    term_item, def_item, sig_item = item_for(passage), item_for(defining), item_for(signed)
    computed = long_date(end)
    text = (
        f"The initial term ends on {computed}: {span} the effective date, the date the "
        f"agreement was signed, {surface} [{term_item.n}][{def_item.n}][{sig_item.n}]."
    )
    inputs = [(term_item, term_sentence), (def_item, definition), (sig_item, shown)]
    return Derived(text, inputs, computed)


def _shifted(iso: str, length: Any) -> str | None:
    """``iso`` plus ``length``; a start whose day is left blank ("February ____, 2017",
    "2017-02") gives a month ("2021-02") when the length is whole months."""
    if len(iso) == 10:
        return shift(iso, length)
    end = shift(f"{iso}-01", length)
    if end is None or length.months is None or not float(length.months).is_integer():
        return None
    return end[:7]


def _year_month(text: str) -> str | None:
    """ "February 2017" -> "2017-02" (None for any other text)."""
    try:
        return datetime.strptime(text, "%B %Y").strftime("%Y-%m")
    except ValueError:
        return None


def _month_year(iso: str) -> str:
    """ "February 2021"."""
    d = date.fromisoformat(f"{iso}-01")
    return f"{d.strftime('%B')} {d.year}"


def _span(length: Any) -> str:
    """ "five (5) years from" / "the fifth anniversary of", as the clause words it."""
    surface = " ".join(str(length.surface).split())
    if "anniversary" in surface.lower():
        return f"the {surface} of"
    if length.number != 1 and surface.lower().endswith(str(length.unit).lower()):
        surface += "s"  # "three (3) year term" -> "three (3) years"
    return f"{surface} from"


def _term(evidence: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], str, Any, str] | None:
    """(passage, sentence, length, anchor) of the first passage tying the term to a
    start; else of the first sentence giving the agreement's term with no start
    at all ("The term of the Agreement will be for 12 months"): an agreement's
    term runs from its effective date (anchor "Effective Date, by default")."""
    unanchored: tuple[dict[str, Any], str, Any, str] | None = None
    for passage in evidence:
        for sentence in split_sentences(str(passage.get("quote") or "")):
            length = term_length(sentence)
            if length is None or _FROM_EVENT.search(sentence):
                continue
            if _FROM_EFFECTIVE.search(sentence):
                return passage, sentence, length, "Effective Date"
            if _FROM_SIGNING.search(sentence):
                return passage, sentence, length, "Agreement Date"
            if (
                unanchored is None
                and _AGREEMENT_TERM.search(sentence)
                and not _OTHER_START.search(sentence)
            ):
                unanchored = (passage, sentence, length, _BY_DEFAULT)
    return unanchored


def _start(
    anchor: str, opening: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], str, str] | None:
    """(passage, sentence, ISO date) stating the start date, from the opening passages."""
    ordered = in_page_order(opening)
    quotes = [str(e.get("quote") or "") for e in ordered]
    context: dict[str, str] = {}
    for category in ("Agreement Date", anchor):
        value = document_value(category, quotes, context=context)
        if value is not None and value.date and len(value.date) == 10:
            context[category] = value.date
        elif value is not None and value.kind == "date" and (month := _year_month(value.text)):
            context.setdefault(category, month)  # "February 2017": the day left blank
    iso = context.get(anchor)
    if iso is None:
        return None
    for passage, quote in zip(ordered, quotes, strict=True):
        for sentence in split_sentences(quote):
            if any(f.kind == "date" and f.value == iso for f in facts(sentence)):
                return passage, sentence, iso
    return None


def _defined_start(whole: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], str, str] | None:
    """(passage, sentence, ISO date) of the sentence anywhere in the document
    that defines the Effective Date with a date."""
    for passage in whole:
        for sentence in split_sentences(str(passage.get("quote") or "")):
            if not _DEFINES_EFFECTIVE.search(sentence):
                continue
            dates = [f for f in facts(sentence) if f.kind == "date" and len(f.value) == 10]
            if len(dates) == 1:
                return passage, sentence, dates[0].value
    return None


def derive_expiration(
    evidence: Sequence[dict[str, Any]],
    opening: Sequence[dict[str, Any]],
    item_for: Callable[[dict[str, Any]], Evidence],
    whole: Sequence[dict[str, Any]] = (),
) -> Derived | None:
    """The initial term's end, computed from its start date and length, when
    the clause ties the term to the effective date or the agreement's date and
    the opening passages (or, for the effective date, a sentence defining it
    anywhere in ``whole``) state that date."""
    term = _term(evidence)
    if term is None:
        return None
    passage, term_sentence, length, how = term
    anchor = "Effective Date" if how == _BY_DEFAULT else how
    start = _start(anchor, opening)
    if start is None and anchor == "Effective Date":
        start = _defined_start(whole)
    if start is None and anchor == "Effective Date" and (by_signature := _signed_start(whole)):
        return _from_signature(passage, term_sentence, length, by_signature, item_for)
    if start is None:
        return None
    start_passage, start_sentence, iso = start
    end = _shifted(iso, length)
    if end is None:
        return None
    shown_start = next(f.surface for f in facts(start_sentence) if f.value == iso)
    what = "the effective date" if anchor == "Effective Date" else "the date of the agreement"
    span = _span(length)
    if how == _BY_DEFAULT:  # the clause states no start: say which one the count uses
        span = span.removesuffix(" from").removesuffix(" of") + " counted from"
    term_item, start_item = item_for(passage), item_for(start_passage)
    computed = long_date(end) if len(end) == 10 else _month_year(end)
    ends = f"ends on {computed}" if len(end) == 10 else f"ends in {computed}"
    text = (
        f"The initial term {ends}: {span} {what}, "
        f"{' '.join(shown_start.split())} [{term_item.n}][{start_item.n}]."
    )
    return Derived(text, [(term_item, term_sentence), (start_item, start_sentence)], computed)


# -- the date of signing ------------------------------------------------------------
#: How far after "IN WITNESS WHEREOF" the signature block's dates are looked for.
_SIGNATURE_CHARS = 1500
_WITNESS = re.compile(r"\bIN\s+WITNESS\s+WHEREOF\b", re.I)
#: A sentence tying the effective date to the signatures ("the date of last signature",
#: "the date the last party hereto has executed", "signed by both parties as shown below").
_BY_SIGNATURE = re.compile(
    r"date\s+of\s+(?:the\s+)?(?:last|final|latest)\s+signature|most\s+recent\s+(?:final\s+)?signature"
    r"|last\s+party\s+(?:hereto\s+)?(?:has\s+)?(?:executed|signed)|signed\s+by\s+both\s+parties"
    r"|date\s+(?:noted|written|indicated|shown|appearing)\s+below|(?:executed|signed)\s+by\s+(?:both|all)\s+"
    r"(?:of\s+the\s+)?parties",
    re.I,
)


def _dated_slice(quote: str, at: int) -> tuple[str, str, str] | None:
    """(verbatim slice of ``quote`` from ``at`` through its latest full date, ISO, surface)."""
    footers = [m.span() for m in FOOTER.finditer(quote[at:])]
    found = [
        d
        for d in find_dates(quote[at:])
        if d.day is not None and d.start < _SIGNATURE_CHARS
        and not any(s <= d.start < e for s, e in footers)
    ]  # fmt: skip
    if not found:
        return None
    latest = max(found, key=lambda d: (d.year, d.month, d.day or 0))
    end = at + latest.end
    begin = max(at, end - 300)
    return quote[begin:end], latest.iso, quote[at + latest.start : end]


def _signature(
    ordered: Sequence[dict[str, Any]],
) -> tuple[dict[str, Any], str, str, str] | None:
    """(passage, verbatim slice, ISO, surface) of the latest date of the signature
    block (the passages from "IN WITNESS WHEREOF" on)."""
    at = next(
        (i for i, e in enumerate(ordered) if _WITNESS.search(str(e.get("quote") or ""))), None
    )
    if at is None:
        return None
    signed: tuple[dict[str, Any], str, str, str] | None = None
    for i, passage in enumerate(ordered[at : at + 3]):
        quote = str(passage.get("quote") or "")
        start = _WITNESS.search(quote).start() if i == 0 else 0  # type: ignore[union-attr]
        found = _dated_slice(quote, start)
        if found is not None and (signed is None or found[1] > signed[2]):
            signed = (passage, found[0], found[1], " ".join(found[2].split()))
    return signed


def _defined_by_signature(ordered: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], str] | None:
    """(passage, sentence) tying the effective date to the signatures."""
    for defining in ordered:
        for sentence in split_sentences(str(defining.get("quote") or "")):
            if _BY_SIGNATURE.search(sentence) and re.search(
                r"effective|enter\w*\s+into", sentence, re.I
            ):
                return defining, sentence
    return None


def in_page_order(passages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The passages in the order of the document (page, then offset)."""
    return sorted(passages, key=lambda e: (int(e.get("page") or 0), int(e.get("start") or 0)))


def signed_date(
    category: str,
    whole: Sequence[dict[str, Any]],
    item_for: Callable[[dict[str, Any]], Evidence],
) -> Derived | None:
    """For an agreement (or effective) date its opening words do not state: the
    latest date of its signature block (after "IN WITNESS WHEREOF"), quoted; for
    the effective date, with the sentence that ties it to the signatures when
    the contract has one."""
    ordered = in_page_order(whole)
    signed = _signature(ordered)
    if signed is None:
        return None
    passage, shown, _iso, surface = signed
    if category == "Agreement Date":
        item = item_for(passage)
        text = f"This agreement states no date in its opening words; it was signed on {surface} [{item.n}]."
        return Derived(text, [(item, shown)], surface)
    defined = _defined_by_signature(ordered)
    if defined is not None:
        first, second = item_for(defined[0]), item_for(passage)
        text = (
            f"The effective date is the date the agreement was signed, as its signature "
            f"block dates it: {surface} [{first.n}][{second.n}]."
        )
        return Derived(text, [(first, defined[1]), (second, shown)], surface)
    item = item_for(passage)
    text = (
        f"I found no effective date stated in this agreement; it was signed on {surface} "
        f"[{item.n}]."
    )
    return Derived(text, [(item, shown)], surface)


def _signed_start(
    whole: Sequence[dict[str, Any]],
) -> tuple[tuple[dict[str, Any], str], tuple[dict[str, Any], str, str, str]] | None:
    """(definition, signature) when the contract makes the effective date the
    date of its signatures and its signature block dates them."""
    ordered = in_page_order(whole)
    defined = _defined_by_signature(ordered)
    signed = _signature(ordered) if defined is not None else None
    return None if defined is None or signed is None else (defined, signed)
