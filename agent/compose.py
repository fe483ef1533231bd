"""Answers composed from what the document says.

:func:`intent` reads which contract term a question asks about (governing
law, dates, renewal, notice, parties, or one of the CUAD presence questions:
non-compete, exclusivity, change of control, ...) and whether it wants a
value or a yes/no. :func:`compose` turns the clause finding for that term
(``extract_clauses`` output: verdict, calibrated confidence, value, verbatim
evidence) into the answer's first sentence, citing the passage it came from.

Yes/no follows the clause model's calibrated presence probability (>= 0.5:
the more likely answer), not the review's recall-oriented threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agent.citations import best_sentence, split_sentences
from agent.derived import Derived, derive_expiration, in_page_order, long_date, signed_date
from agent.facts import facts, unsupported
from tools.clauses.value_names import law_adjective
from tools.clauses.value_rules import BLANK_DATE
from tools.clauses.values import document_value, rule_value
from tools.retrieval import Evidence

__all__ = ["Composed", "Intent", "compose", "intent", "intents"]

#: Calibrated presence probability from which a yes/no question is answered "Yes".
YES_PROBABILITY = 0.5

#: value: the term's value; yes_no: whether the clause is there; clause: what
#: the clause says (an open question about a presence category).
Kind = Literal["value", "yes_no", "clause"]


@dataclass(frozen=True)
class Intent:
    category: str
    kind: Kind


@dataclass
class Composed:
    """A composed sentence; ``item`` is the passage it cites (None: no citation)."""

    text: str
    item: Evidence | None
    quote: str | None = None
    #: The same answer without the value, if the value is not in the quote.
    plain: str | None = None
    #: A value computed from quoted inputs (the expiration of a fixed term).
    derived: Derived | None = None


_YES_NO_START = re.compile(
    r"^\s*(?:does|do|did|is|are|was|were|can|could|may|might|will|would|has|have|had|must|shall|should)\b",
    re.I,
)
#: (category, value pattern) — checked in order; the first match wins.
_VALUE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("Notice Period to Terminate Renewal",
     r"\bnotice\b.*\b(?:renew\w*|non-?renewal|extension|extend)|\b(?:renew\w*|non-?renewal)\b.*\bnotice\b"),
    ("Renewal Term",
     r"\brenewal\s+(?:term|period)s?\b|\brenew(?:s|ed|al)?\b.*\bhow\s+long|\bhow\s+long\b.*\brenew|\bauto(?:matic(?:ally)?)?[- ]?renew"),
    ("Governing Law",
     r"\bgoverning\s+law\b|\blaws?\b.*\bgovern|\bgovern\w*\b.*\blaws?\b|\bwhich\s+(?:law|jurisdiction|state|country)\b|\bchoice\s+of\s+law\b|\bapplicable\s+law\b"),
    ("Parties",
     r"\bwho\s+(?:are|is)\s+(?:the\s+)?(?:parties|party|signator\w*|counterpart\w*)\b|\bparties\s+to\b|\bbetween\s+whom\b|\bwho\s+signed\b"),
    ("Effective Date",
     r"\beffective\s+date\b|\btakes?\s+effect\b|\bbecomes?\s+effective\b|\bcommencement\s+date\b|\bwhen\s+(?:does|did)\b.*\b(?:start|begin|commence)\b"),
    ("Expiration Date",
     r"\bexpir\w*|\bend\s+date\b|\bwhen\s+(?:does|will)\b.*\b(?:end|terminate)\b(?!\s+for)"),
    ("Agreement Date",
     r"\bdate\s+of\s+(?:this|the)\s+(?:agreement|contract)\b|\b(?:agreement|contract)\s+date\b|\bwhen\s+was\b.*\b(?:signed|executed|entered|dated|made)\b|\bwhat\s+date\b|\bdated\b"),
)  # fmt: skip
_PRESENCE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("Uncapped Liability",
     r"\buncapped\b|\bunlimited\s+liabilit|\bliabilit\w*\b.*\b(?:unlimited|uncapped|not\s+(?:capped|limited))\b"),
    ("Cap on Liability",
     r"\b(?:cap|caps|capped|limit|limits|limited|limitation)\b.*\bliabilit|\bliabilit\w*\b.*\b(?:cap|capped|limit\w*)\b"),
    ("Termination for Convenience",
     r"\bfor\s+convenience\b|\bwithout\s+cause\b|\bfor\s+any\s+reason\b|\bat\s+will\b"),
    ("Change of Control", r"\bchange\s+(?:of|in)\s+control\b|\bmerger\b|\bacqui(?:red|sition)\b"),
    ("Anti-Assignment", r"\bassign\w*\b"),
    ("Audit Rights", r"\baudit\w*\b|\binspect\w*\b.*\b(?:books|records)\b"),
    ("Non-Compete", r"\bnon[- ]?compet\w*|\bcompet(?:e|ing|ition)\b"),
    ("Exclusivity", r"\bexclusiv\w*"),
)  # fmt: skip

#: Yes/no categories: (what "yes" says, what "no" says).
_PRESENCE_TEXT: dict[str, tuple[str, str]] = {
    "Non-Compete": ("this agreement restricts a party from competing",
                    "I found no clause in this agreement that restricts a party from competing"),
    "Exclusivity": ("this agreement grants exclusivity",
                    "I found no exclusivity clause in this agreement"),
    "Termination for Convenience": ("a party may terminate this agreement for convenience",
                                    "I found no right to terminate this agreement for convenience"),
    "Change of Control": ("a change of control of a party affects this agreement",
                          "I found no change-of-control clause in this agreement"),
    "Anti-Assignment": ("assigning this agreement requires consent or notice",
                        "I found no clause requiring consent or notice to assign this agreement"),
    "Audit Rights": ("a party has the right to audit the other",
                     "I found no audit right in this agreement"),
    "Uncapped Liability": ("some liability under this agreement is uncapped",
                           "I found no clause leaving liability uncapped in this agreement"),
    "Cap on Liability": ("liability under this agreement is capped",
                         "I found no cap on liability in this agreement"),
}  # fmt: skip
_VALUE_ABSENT: dict[str, str] = {
    "Governing Law": "I found no governing-law clause in this agreement.",
    "Parties": "I could not identify the parties of this agreement.",
    "Agreement Date": "I found no date of this agreement.",
    "Effective Date": "I found no effective date in this agreement.",
    "Expiration Date": "I found no expiration date in this agreement.",
    "Renewal Term": "I found no renewal term in this agreement.",
    "Notice Period to Terminate Renewal": "I found no notice period for stopping renewal in this agreement.",
}


def intent(question: str, categories: frozenset[str] | None = None) -> Intent | None:
    """The contract term ``question`` asks about, or None for an open question."""
    text = " ".join(question.split())
    yes_no = bool(_YES_NO_START.search(text))
    table = (_PRESENCE_PATTERNS + _VALUE_PATTERNS) if yes_no else (
        _VALUE_PATTERNS + _PRESENCE_PATTERNS
    )  # fmt: skip
    for category, pattern in table:
        if categories is not None and category not in categories:
            continue
        if re.search(pattern, text, re.I):
            is_value = any(category == c for c, _ in _VALUE_PATTERNS)
            if yes_no:
                return Intent(category, "yes_no")
            return Intent(category, "value" if is_value else "clause")
    return None


#: Where a question asks a second thing: ", and can ...", "; ", "? Does ...".
_PARTS = re.compile(
    r",?\s+and\s+(?=(?:can|could|does|do|did|is|are|was|what|which|who|when|how|will|may|must|"
    r"has|have|should)\b)|;\s*|\?\s+(?=\S)",
    re.I,
)


def intents(question: str) -> tuple[list[Intent], bool]:
    """The contract terms of every part of ``question`` (one per category), and
    whether some part asks something else (an open question)."""
    found: list[Intent] = []
    open_part = False
    for part in _PARTS.split(question):
        if not part.strip():
            continue
        want = intent(part)
        if want is None:
            open_part = True
        elif all(w.category != want.category for w in found):
            found.append(want)
    return found, open_part


def _surface(kind: str, value: str, quote: str) -> str | None:
    """How ``quote`` writes a fact of ``kind`` whose normal form is ``value``."""
    return next((f.surface for f in facts(quote) if f.kind == kind and f.value == value), None)


def _duration_text(value: dict[str, Any], quote: str) -> str:
    """The value's duration as the quote writes it ("one (1) year"), else its text."""
    text = str(value.get("text") or "")
    for f in facts(text):
        if f.kind == "duration":
            return _surface("duration", f.value, quote) or f.surface
    return text


def _sentence_for(category: str, value: dict[str, Any], quote: str) -> str | None:
    """The composed first sentence (without marker) for a value finding."""
    text = str(value.get("text") or "").strip()
    composers: dict[str, Callable[[], str | None]] = {
        "Governing Law": lambda: f"This agreement is governed by the laws of {text}",
        "Parties": lambda: _parties_sentence(value),
        "Agreement Date": lambda: _date_sentence("This agreement is dated", value, quote),
        "Effective Date": lambda: _date_sentence("This agreement takes effect on", value, quote),
        "Expiration Date": lambda: (
            "This agreement has no fixed expiration date: it continues until it is terminated"
            if text.lower().startswith("perpetu")
            else _date_sentence("This agreement expires on", value, quote)
        ),
        "Renewal Term": lambda: _renewal_sentence(value, quote),
        "Notice Period to Terminate Renewal": lambda: (
            f"To stop this agreement from renewing, a party must give {_duration_text(value, quote)} notice"
        ),
        "Cap on Liability": lambda: f"Yes: liability under this agreement is capped at {text}",
    }
    make = composers.get(category)
    return make() if make and text else None


def _date_sentence(lead: str, value: dict[str, Any], quote: str) -> str | None:
    iso = value.get("date")
    if not iso:
        return None
    shown = _surface("date", iso, quote)
    return f"{lead} {long_date(iso) if shown is None or '/' in shown else shown}"


def _parties_sentence(value: dict[str, Any]) -> str | None:
    parties = [p for p in value.get("parties") or [] if p]
    if len(parties) < 2:
        return None
    listed = ", ".join(parties[:-1]) + f" and {parties[-1]}"
    return f"The parties to this agreement are {listed}"


def _renewal_sentence(value: dict[str, Any], quote: str) -> str:
    span = _duration_text(value, quote)
    if value.get("successive"):
        return f"After its initial term, this agreement renews for successive periods of {span}"
    return f"After its initial term, this agreement renews for a period of {span}"


def compose(
    want: Intent,
    finding: dict[str, Any] | None,
    item_for: Callable[[dict[str, Any]], Evidence],
    question: str = "",
    searched: Sequence[Evidence] = (),
    opening: Sequence[dict[str, Any]] = (),
    whole: Sequence[dict[str, Any]] = (),
) -> Composed:
    """The first sentence for ``want`` from its clause ``finding`` (review JSON).

    ``item_for`` registers a finding's evidence in the turn's ledger and
    returns its numbered passage. ``searched``: the search passages of the
    same document, tried for a governing-law value the clause passages lack.
    ``opening``: the document's first passages (same shape as clause
    evidence), candidates for its parties and dates; ``whole``: all its
    passages (where the effective date may be defined, for a computed expiration).
    """
    evidence = (finding or {}).get("evidence") or []
    if want.category in _OPENING and want.kind == "value":
        raw = evidence
        evidence = _with_opening(opening, evidence)
        if want.category == "Parties":  # a preamble cut between two passages, joined
            joined = _with_opening(raw, _joined(opening))
            if len(_valued_evidence("Parties", joined)[1].get("parties") or []) >= 2:
                evidence = joined
    if want.kind == "yes_no":
        return _compose_yes_no(want, finding, evidence, item_for)
    chosen, value = _valued_evidence(want.category, evidence) if evidence else (None, {})
    if not value and want.kind == "value":
        found = _searched_value(want.category, searched)
        if found is not None:
            item, value = found
            sentence = _sentence_for(want.category, value, item.quote)
            if sentence is not None:
                return Composed(f"{sentence.rstrip('. ')} [{item.n}].", item)
    if want.kind == "value" and want.category in _SIGNED and value.get("text") == "blank":
        item = item_for(chosen)  # a form: its date is left blank; say so, in its words
        quote = next((q for q in split_sentences(item.quote) if BLANK_DATE.search(q)), item.quote)
        shown = " ".join(quote.split())
        return Composed(f'This agreement leaves its date blank: "{shown}" [{item.n}].', item, quote)
    if want.kind == "value" and want.category in _SIGNED and not value.get("date"):
        signed = signed_date(want.category, whole, item_for)
        if signed is not None:
            return Composed(signed.text, signed.inputs[0][0], derived=signed)
    if chosen is None:
        absent = _PRESENCE_TEXT.get(
            want.category, ("", f"I found no {want.category.lower()} clause")
        )
        return Composed(_VALUE_ABSENT.get(want.category, absent[1] + "."), None)
    if want == Intent("Expiration Date", "value") and not _stated_date(value, chosen):
        derived = derive_expiration(evidence, opening, item_for, whole)
        if derived is not None:
            return Composed(derived.text, derived.inputs[0][0], derived=derived)
    if want == Intent("Governing Law", "value"):
        named = _law_by_adjective(value, chosen, item_for)
        if named is not None:
            return Composed(named.text, named.inputs[0][0], derived=named)
    item = item_for(chosen)
    sentence = _sentence_for(want.category, value, item.quote) if want.kind == "value" else None
    if sentence is None:
        quote = best_sentence(item.quote, f"{question} {want.category}")
        shown = " ".join(quote.split())
        return Composed(
            f'The {want.category.lower()} clause says: "{shown}" [{item.n}].', item, quote
        )
    return Composed(f"{sentence.rstrip('. ')} [{item.n}].", item)


def _law_by_adjective(
    value: dict[str, Any], chosen: dict[str, Any], item_for: Callable[[dict[str, Any]], Evidence]
) -> Derived | None:
    """ "governed by English law": the clause names the law by its adjective; the answer
    quotes it and says whose law that is (the place, shown as read from the quote)."""
    places = value.get("jurisdictions") or []
    quote = str(chosen.get("quote") or "")
    if len(places) != 1 or (adjective := law_adjective(str(places[0]), quote)) is None:
        return None
    item = item_for(chosen)
    sentence = best_sentence(item.quote, f"{adjective} law governed")
    text = f"This agreement is governed by {adjective} law, the law of {places[0]} [{item.n}]."
    return Derived(text, [(item, sentence)], str(places[0]))


def _stated_date(value: dict[str, Any], passage: dict[str, Any]) -> bool:
    """Whether the value is a date (or "perpetual") that the passage writes."""
    iso = value.get("date")
    if iso == "perpetual" or str(value.get("text") or "").lower().startswith("perpetu"):
        return True
    return bool(iso) and _surface("date", str(iso), str(passage.get("quote") or "")) is not None


#: A passage that chooses a law (not one that only mentions a place).
_CHOOSES_LAW = re.compile(
    r"\b(?:govern\w*|constru\w*|interpret\w*)\b.{0,160}?\blaws?\b|\blaws?\b.{0,100}?\bgovern\w*",
    re.I | re.S,
)


def _searched_value(
    category: str, searched: Sequence[Evidence]
) -> tuple[Evidence, dict[str, Any]] | None:
    """A governing-law value from the search passages, best ranked first."""
    if category != "Governing Law":
        return None
    for item in searched:
        if _CHOOSES_LAW.search(item.quote):
            value = rule_value(category, item.quote)
            if value is not None:
                return item, value.model_dump(mode="json")
    return None


def _with_opening(
    evidence: Sequence[dict[str, Any]], opening: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``evidence`` plus ``opening`` (one copy of each place: the second list's)."""
    known = {(e.get("page"), e.get("start")) for e in opening}
    return [*(e for e in evidence if (e.get("page"), e.get("start")) not in known), *opening]


def _joined(opening: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The opening passages with each run of adjacent ones (same page, a few
    spaces apart) joined into one: a preamble cut between two passages
    ("BETWEEN: EMERALD ..., ("Emerald") AND:" | "DR. GAETANO MORELLO N.D. INC. ...")."""
    out: list[dict[str, Any]] = []
    for o in in_page_order(opening):
        last = out[-1] if out else None
        if (
            last is not None
            and last.get("page") == o.get("page")
            and 0 <= int(o.get("start") or 0) - int(last.get("end") or 0) <= 3
        ):
            out[-1] = {
                **last,
                "quote": f"{last['quote']} {o['quote']}",
                "end": o.get("end"),
                "chunk_id": f"{last.get('chunk_id')}+{o.get('chunk_id')}",
            }
        else:
            out.append(dict(o))
    return out


#: Dates that a contract silent in its opening words has in its signature block.
_SIGNED = frozenset({"Agreement Date", "Effective Date"})

#: Categories whose value the agreement's opening words state.
_OPENING = frozenset({"Parties", "Agreement Date", "Effective Date"})


def _valued_evidence(
    category: str, evidence: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The clause passage the document's value comes from, and that value (JSON).

    Parties and dates of the agreement are stated in its opening words: their
    passages are tried in reading order, the others best first."""
    if category in _OPENING:
        evidence = sorted(
            evidence, key=lambda e: (int(e.get("page") or 0), int(e.get("start") or 0))
        )
    quotes = [str(e.get("quote") or "") for e in evidence]
    value = document_value(category, quotes)
    if value is None:
        return evidence[0], {}
    for e, quote in zip(evidence, quotes, strict=True):  # the passage stating it all
        if not unsupported(value.text.replace(";", ","), quote):
            return e, value.model_dump(mode="json")
    for e, quote in zip(evidence, quotes, strict=True):
        mine = rule_value(category, quote)
        if mine is not None and mine.text == value.text:
            return e, value.model_dump(mode="json")
    return evidence[0], value.model_dump(mode="json")


def _compose_yes_no(
    want: Intent,
    finding: dict[str, Any] | None,
    evidence: list[dict[str, Any]],
    item_for: Callable[[dict[str, Any]], Evidence],
) -> Composed:
    yes_text, no_text = _PRESENCE_TEXT.get(
        want.category, (f"this agreement has a {want.category.lower()} clause",
                        f"I found no {want.category.lower()} clause in this agreement")
    )  # fmt: skip
    confidence = float((finding or {}).get("confidence") or 0.0)
    if not evidence or confidence < YES_PROBABILITY:
        return Composed(f"No: {no_text}.", None)
    chosen, value = _valued_evidence(want.category, evidence)
    item = item_for(chosen)
    plain = f"Yes: {yes_text} [{item.n}]."
    if want.category == "Cap on Liability" and value.get("text"):
        return Composed(f"Yes: {yes_text} at {value['text']} [{item.n}].", item, plain=plain)
    return Composed(plain, item)
