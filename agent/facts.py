"""The checkable facts of a sentence: numbers, dates, amounts, durations,
jurisdictions and names, each in a normal form so that the ways a contract
writes a value meet the ways an answer restates it.

"ninety (90) days" and "90 days" are one duration; "May 8, 2014", "8th day of
May, 2014", "05/08/2014" and "2014-05-08" are one date; "State of New York"
contains the jurisdiction "New York"; "$1,000,000" and "$1 million" are one
amount. :func:`facts` reads a sentence; :func:`unsupported` lists the facts of
a claim that its evidence text does not state.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Literal

from tools.clauses.value_text import find_dates, find_durations, number_value
from tools.clauses.values import _PLACES as PLACES  # the clause values' place names

__all__ = ["Fact", "facts", "normalise_text", "number_value", "shown_results", "unsupported"]

FactKind = Literal["date", "amount", "duration", "number", "jurisdiction", "name"]


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    surface: str  # as written in the sentence
    value: str  # normal form compared between texts


_DIGITS = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_AMOUNT = re.compile(
    r"(?P<cur>US\s?\$|U\.S\.\s?\$|\$|USD\s?|EUR\s?|€|£|GBP\s?|CAD\s?|C\$)\s?"
    rf"(?P<num>{_DIGITS})(?:\s*(?P<mult>million|billion|thousand|m\b|k\b))?",
    re.I,
)
_AMOUNT_WORDS = re.compile(
    rf"(?P<num>{_DIGITS})\s*(?P<mult>million|billion|thousand)?\s*(?P<cur>dollars|euros|pounds)\b",
    re.I,
)
_NUMBER = re.compile(rf"(?<![\w.]){_DIGITS}(?:st|nd|rd|th)?(?![\w])|\b\d+(?:st|nd|rd|th)\b", re.I)
_PERCENT = re.compile(rf"(?P<num>{_DIGITS})\s*(?:%|percent\b|per\s+cent\b)", re.I)
#: Capitalised words that name nothing in particular.
_GENERIC = frozenset(
    re.findall(
        r"\S+",
        "a an the this that these those it its yes no i we you they he she section clause "
        "article paragraph schedule exhibit appendix agreement contract document "
        "documents  dossier party parties page however under in on of for if and or but "
        "as at by to  is are was were each any all such both either neither there here "
        "also note  effective date term renewal notice governing law laws ",
    )
)
_NAME = re.compile(r"\b(?:[A-Z][\w&.'’-]*|&)(?:\s+(?:of|and|de|du|the|&|[A-Z][\w&.'’-]*))*")
_DEFINED = re.compile(r"[\"“]([^\"”]{2,60})[\"”]")
_PUNCT = re.compile(r"[^\w\s]")


def _fmt(value: float) -> str:
    return f"{value:g}"


def _duration_value(number: float, unit: str) -> str:
    """Durations in the smallest exact unit: years and months in months, weeks in days."""
    unit = unit.lower()
    if unit == "year":
        return f"{_fmt(number * 12)} month"
    if unit == "week":
        return f"{_fmt(number * 7)} day"
    return f"{_fmt(number)} {unit}"


def _dates(text: str) -> list[tuple[tuple[int, int], Fact]]:
    return [
        ((d.start, d.end), Fact("date", text[d.start : d.end], d.iso)) for d in find_dates(text)
    ]


def _amounts(text: str) -> list[tuple[tuple[int, int], Fact]]:
    out: list[tuple[tuple[int, int], Fact]] = []
    for pattern in (_AMOUNT, _AMOUNT_WORDS):
        for m in pattern.finditer(text):
            value = number_value(m.group("num"))
            if value is None or _overlaps(m.span(), [s for s, _ in out]):
                continue
            mult = (m.group("mult") or "").lower()
            value *= {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9}.get(
                mult, 1.0
            )
            out.append((m.span(), Fact("amount", m.group(0).strip(), _fmt(value))))
    return out


def _overlaps(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < e and s < span[1] for s, e in taken)


def _places(text: str) -> list[Fact]:
    found: list[Fact] = []
    lowered = text.lower()
    taken: list[tuple[int, int]] = []
    for place in PLACES:
        for m in re.finditer(rf"\b{re.escape(place.lower())}\b", lowered):
            if not _overlaps(m.span(), taken):
                taken.append(m.span())
                found.append(Fact("jurisdiction", text[m.start() : m.end()], place.lower()))
    return found


def _names(text: str, skip: list[tuple[int, int]]) -> list[Fact]:
    """Proper names and defined terms (capitalised runs not at the sentence
    start, and quoted terms), minus generic words."""
    out: list[Fact] = []
    for m in _DEFINED.finditer(text):
        out.append(Fact("name", m.group(1), normalise_text(m.group(1))))
    for m in _NAME.finditer(text):
        if _overlaps(m.span(), skip):
            continue
        words = [w for w in m.group(0).split() if w.lower().strip(".,'’") not in _GENERIC]
        words = [w for w in words if w[:1].isupper() or w == "&"]
        if not words:
            continue
        at_start = m.start() == 0 or text[: m.start()].rstrip().endswith((".", ":", "\n"))
        if at_start and len(words) == 1 and m.group(0).split()[0] == words[0]:
            continue  # a capitalised first word is just a sentence start
        value = normalise_text(" ".join(words))
        if value and not value.isdigit():
            out.append(Fact("name", " ".join(words), value))
    return out


def facts(text: str) -> list[Fact]:
    """Every checkable fact of ``text`` (each value once)."""
    found: list[tuple[tuple[int, int], Fact]] = []
    found += _dates(text)
    taken = [s for s, _ in found]
    for span, fact in _amounts(text):
        if not _overlaps(span, taken):
            found.append((span, fact))
    taken = [s for s, _ in found]
    for m in _PERCENT.finditer(text):
        if not _overlaps(m.span(), taken):
            found.append(
                (m.span(), Fact("number", m.group(0), _fmt(number_value(m.group("num")) or 0)))
            )
    taken = [s for s, _ in found]
    for d in find_durations(text):
        if not _overlaps((d.start, d.end), taken):
            value = _duration_value(d.number, d.unit)
            found.append(((d.start, d.end), Fact("duration", d.surface, value)))
    taken = [s for s, _ in found]
    for m in _NUMBER.finditer(text):
        if not _overlaps(m.span(), taken):
            digits = re.sub(r"(st|nd|rd|th)$", "", m.group(0), flags=re.I)
            value = number_value(digits)
            if value is not None:
                found.append((m.span(), Fact("number", m.group(0), _fmt(value))))
    taken = [s for s, _ in found]
    places = _places(text)
    place_words = {w for p in places for w in p.value.split()}
    names = [n for n in _names(text, taken) if not set(n.value.split()) <= place_words]
    unique: dict[tuple[str, str], Fact] = {}
    for fact in [f for _, f in sorted(found, key=lambda x: x[0])] + places + names:
        unique.setdefault((fact.kind, fact.value), fact)
    return list(unique.values())


def normalise_text(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed (for name matching)."""
    return " ".join(_PUNCT.sub(" ", text.lower().replace("’", "'")).split())


def _numbers(text: str) -> set[str]:
    """Every number the text states, in any form (digits, words, inside dates)."""
    values = {f.value for f in facts(text) if f.kind == "number"}
    values |= {_fmt(d.number) for d in find_durations(text)}
    for m in re.finditer(_DIGITS, text):
        number = number_value(m.group(0))
        if number is not None:
            values.add(_fmt(number))
    words = re.findall(r"[a-z]+", text.lower())
    run: list[str] = []
    for word in [*words, ""]:  # runs of number words: "one hundred twenty"
        if word and (word in ("hundred", "and") or number_value(word) is not None):
            run.append(word)
            continue
        while run and run[-1] == "and":
            run.pop()
        number = number_value(" ".join(run)) if run else None
        if number is not None:
            values.add(_fmt(number))
        run = []
    return values


#: Constants a shown computation may use without a source: averages of two or
#: three periods, percent, days in a year, thousands.
FORMULA_CONSTANTS = frozenset({"2", "3", "4", "12", "100", "360", "365", "1000"})
_SHOWN = re.compile(r"=\s*(?P<result>-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)")
_ARITHMETIC = re.compile(r"[\d,.\s()+\-*/×÷−]+$")


_OPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}


def _calc(node: ast.AST) -> float:
    """Numbers, + - * / and parentheses only; anything else raises ValueError."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _calc(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_calc(node.left), _calc(node.right))
    raise ValueError("not arithmetic")


def _evaluate(expr: str) -> float | None:
    """The value of an arithmetic expression with at least one operator, or None."""
    text = re.sub(r"\d{1,3}(?:,\d{3})+", lambda m: m.group(0).replace(",", ""), expr)
    text = text.replace("×", "*").replace("÷", "/").replace("−", "-")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
        return _calc(tree) if isinstance(tree, ast.BinOp) else None
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None


def shown_results(text: str) -> set[str]:
    """Numbers ``text`` shows as the result of its own arithmetic ("(9,178 +
    9,429) / 2 = 9,303.5"), checked at the result's rounding, plus the
    :data:`FORMULA_CONSTANTS` that such arithmetic uses. The operands are
    facts like any other: evidence must state them."""
    out: set[str] = set()
    for m in _SHOWN.finditer(text):
        left = _ARITHMETIC.search(text[: m.start()])
        if left is None:
            continue
        expr = left.group(0).strip().lstrip(")")
        while expr.count("(") > expr.count(")") and expr.startswith("("):
            expr = expr[1:].strip()
        value = _evaluate(expr)
        raw = m.group("result").replace("$", "").replace(" ", "")
        result = number_value(raw.lstrip("-"))
        if value is None or result is None:
            continue
        result = -result if raw.startswith("-") else result
        places = len(raw.split(".")[1]) if "." in raw else 0
        if abs(value - result) <= 0.5 * 10**-places + 1e-9 * abs(value):
            out.add(_fmt(result))
            operands = {_fmt(number_value(n) or 0) for n in re.findall(_DIGITS, expr)}
            out |= operands & FORMULA_CONSTANTS
    return out


def _bare_number(fact: Fact) -> str | None:
    m = re.search(_DIGITS, fact.surface)
    value = number_value(m.group(0)) if m else None
    return None if value is None else _fmt(-value if "-" in fact.surface[: m.start()] else value)  # type: ignore[union-attr]


def unsupported(claim: str, evidence: str) -> list[Fact]:
    """The facts of ``claim`` that ``evidence`` does not state.

    A number the claim shows as the result of its own arithmetic on stated
    numbers is supported (:func:`shown_results`); an amount with a scale word
    ("$1,577 million") is stated by its figure in a table whose evidence gives
    that scale ("(Millions) ... 1,577")."""
    shown = shown_results(claim)
    stated = facts(evidence)
    by_kind: dict[str, set[str]] = {}
    for fact in stated:
        by_kind.setdefault(fact.kind, set()).add(fact.value)
    numbers = _numbers(evidence)
    plain = f" {normalise_text(evidence)} "
    missing: list[Fact] = []
    lowered = evidence.lower()
    for fact in facts(claim):
        if fact.kind in ("number", "amount", "duration") and _bare_number(fact) in shown:
            continue
        if fact.kind in ("date", "amount", "duration"):
            ok = fact.value in by_kind.get(fact.kind, set())
            if not ok and fact.kind == "amount":
                ok = fact.value in numbers
            scale = re.search(r"\b(thousand|million|billion)s?\b", fact.surface, re.I)
            if not ok and scale and scale.group(1).lower() + "s" in lowered:
                ok = _bare_number(fact) in numbers
        elif fact.kind == "number":
            ok = fact.value in numbers
        else:  # jurisdiction, name: the words occur in the evidence
            ok = f" {normalise_text(fact.surface)} " in plain or all(
                f" {w} " in plain for w in normalise_text(fact.surface).split()
            )
        if not ok:
            missing.append(fact)
    return missing
