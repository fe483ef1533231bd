"""Does an answer state CUAD's normalised value? The scorer of value questions.

:func:`states_value` reads ``text`` (what a lawyer reads: an answer, or an
extracted value's text) and says whether it states the gold value of
``category`` in any usual form. The rules, strict but fair:

- **Dates** (Agreement / Effective / Expiration Date). Gold "5/8/14" matches
  "May 8, 2014", "8th day of May, 2014", "2014-05-08", "05/08/2014" (numbers
  read month first, as CUAD writes them). The text must contain THAT date:
  other dates beside it do not matter, a text without it is wrong. A gold
  with a blank day ("03/[]/1999") matches a mention of March 1999 that names
  no day ("March ___, 1999"); a gold with only a year, or none, is unscorable.
  "perpetual" matches "perpetual", "in perpetuity", "indefinitely", "no fixed
  expiration date" or "until terminated".
- **Durations** (Renewal Term, Notice Period To Terminate Renewal). Gold
  "30 days" matches "thirty (30) days" or "30-day"; months and years convert
  (12 months = 1 year, "0.5 year" = "six (6) months"), days and weeks convert
  (6 weeks = 42 days), but months are never turned into days (a month is not
  30 days; "3 months" is not "ninety days"). "successive 1 year" is a renewal
  term of one year each: the text must state one year ("successive one-year
  terms", "one (1) year renewal term", "year-to-year"); "successive" itself
  is not required, the length is what is asked. "2 successive 10 years" also
  needs the count (two). "perpetual" renewals match "perpetual" /
  "indefinitely" / "unlimited number of" renewals.
- **Governing Law**. Every jurisdiction of the gold appears ("New York" in
  "laws of the State of New York"); a trailing country after a province or
  state may be left out ("Ontario, Canada" matches "Province of Ontario").
  "Virginia" is not found inside "West Virginia" (nor "York" in "New York").
- **Parties**. Every party's legal name appears, compared case-insensitively
  with punctuation and corporate suffixes normalised (Inc/Inc./Incorporated,
  Ltd/Limited, Corp/Corporation, Co/Company, LLC/L.L.C.); defined terms
  ("Licensor"), group lines ("A and B (collectively the "Parties")") and
  blanks ("[]") are not parties. A suffix may be left out when the rest of
  the name has two words or more ("Cisco Systems"); a one-word name keeps it
  ("Vivint, Inc." is not "Vivint Solar, Inc."). A name off by a typo (the gold
  has a few) matches at similarity >= 0.9.
- **Document Name**: the title appears (case and punctuation aside).

Several golds separated by ";" must all appear. :func:`gold_scorable` says
whether a gold can be scored at all; unscorable golds make
:func:`states_value` return None, to be counted and reported, never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from tools.clauses.value_text import Duration, clean, find_dates, find_durations, full_year

__all__ = ["gold_parties", "gold_scorable", "states_value"]

_PERPETUAL_DATE = re.compile(
    r"perpetu|indefinite|no (?:fixed |set |specific |specified |stated |definite )?"
    r"(?:expiration|expiry|end|termination)(?: date)?|until (?:it is |this agreement is )?terminated"
    r"|evergreen|no fixed term",
    re.I,
)
_PERPETUAL_RENEWAL = re.compile(r"perpetu|indefinite|unlimited number", re.I)


def _key(category: str) -> str:
    return re.sub(r"[^a-z]+", " ", category.lower()).strip()


# -- dates -------------------------------------------------------------------------
def _gold_date(part: str) -> tuple[int, int, int | None] | str | None:
    """(year, month, day|None) of a CUAD date, "perpetual", or None (unscorable)."""
    part = part.strip().lower()
    if part.startswith("perpetu"):
        return "perpetual"
    m = re.fullmatch(r"(\d{1,2}|\[\s*\])/(\d{1,2}|\[\s*\])/(\d{2}|\d{4})", part)
    if not m or not m.group(1).isdigit():
        return None
    day = int(m.group(2)) if m.group(2).isdigit() else None
    return full_year(m.group(3)), int(m.group(1)), day


def _states_date(gold: tuple[int, int, int | None] | str, text: str) -> bool:
    if gold == "perpetual":
        return bool(_PERPETUAL_DATE.search(text))
    return any((d.year, d.month, d.day) == gold for d in find_dates(text))


# -- durations ---------------------------------------------------------------------
_GOLD_DURATION = re.compile(
    r"(?:(?P<count>\d+)\s+)?(?:succ?ess?ive\s+)?(?P<num>\d+(?:\.\d+)?)\s+(?P<unit>day|week|month|year)s?"
)
_COUNT_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight"}


def _gold_duration(part: str) -> tuple[Duration, int | None] | str | None:
    part = " ".join(part.strip().lower().split())
    if part.startswith("perpetu"):
        return "perpetual"
    m = _GOLD_DURATION.fullmatch(part)
    if not m:
        return None
    count = int(m.group("count")) if m.group("count") else None
    if count is not None and "success" not in part and "succes" not in part:
        return None  # "10 1 years": no reading is defensible
    return Duration(float(m.group("num")), m.group("unit"), 0, 0, part), count


def _states_duration(gold: tuple[Duration, int | None] | str, text: str) -> bool:
    if gold == "perpetual":
        return bool(_PERPETUAL_RENEWAL.search(text))
    assert not isinstance(gold, str)
    want, count = gold
    found = find_durations(text)
    if not any(want.same_length(d) for d in found):
        return False
    if count is None:
        return True
    words = {str(count), _COUNT_WORDS.get(count, str(count))}
    lowered = re.sub(r"\(\s*\d+\s*\)", " ", text.lower())
    for d in found:  # the count must be written outside the durations themselves
        lowered = lowered.replace(d.surface.lower(), " ")
    return any(re.search(rf"\b{w}\b", lowered) for w in words)


# -- governing law ---------------------------------------------------------------
_ALIASES = {
    "peoples republic of china": ("peoples republic of china", "prc", "china"),
    "united nations convention on contract for the international sale of goods": (
        "cisg",
        "international sale of goods",
    ),
    "united states": ("united states", "usa", "u s a", "u s"),
}
_COUNTRIES = frozenset({"canada", "united states", "usa", "australia", "china", "india", "germany"})


def _words(text: str) -> str:
    text = unicodedata.normalize("NFKD", clean(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower().replace("&", " and ").replace("'", "")
    return " " + " ".join(re.sub(r"[^a-z0-9]+", " ", text).split()) + " "


def _has_place(place: str, words: str) -> bool:
    pattern = rf"(?<!west)(?<!new)(?<!south)(?<!north) {re.escape(place)} "
    return re.search(pattern, words) is not None


def _gold_places(gold: str) -> list[list[tuple[str, ...]]] | None:
    """Per ";" part: the places required, each as its accepted spellings."""
    out: list[list[tuple[str, ...]]] = []
    for part in gold.split(";"):
        pieces = [_words(p).strip() for p in part.split(",") if _words(p).strip()]
        if len(pieces) > 1 and pieces[-1] in _COUNTRIES:
            pieces = pieces[:-1]  # "Ontario, Canada": the province is the value
        out.append([_ALIASES.get(p, (p,)) for p in pieces])
    return out if any(out) else None


def _states_places(gold: list[list[tuple[str, ...]]], text: str) -> bool:
    words = _words(text)
    return all(any(_has_place(s, words) for s in spellings) for part in gold for spellings in part)


# -- parties -----------------------------------------------------------------------
_SUFFIX = {
    "incorporated": "inc", "corporation": "corp", "limited": "ltd", "company": "co",
    "l l c": "llc", "l p": "lp", "n a": "na", "s a": "sa", "b v": "bv", "n v": "nv",
    "s a s": "sas", "p l c": "plc", "a g": "ag",
}  # fmt: skip
_SUFFIX_TOKENS = frozenset(
    {*_SUFFIX.values(), "gmbh", "pty", "spa", "ab", "as", "kk", "pte", "srl", "sarl"}
)
_CUT = re.compile(
    r"\s+d/b/a\s|,?\s+on behalf of\s|\s+and/or\s|\s+operating (?:with|under|as)\s|,?\s+which\s|\s+and its\s",
    re.I,
)
_GROUP = re.compile(
    r"collectively|individually|referred to|together with|each a\b|sometimes|\baffiliates? of\b",
    re.I,
)
_HONORIFIC = re.compile(r"\b(?:mr|ms|mrs|dr)\.?\s+", re.I)


def _name_key(name: str) -> str:
    words = _words(name)
    for long, short in sorted(_SUFFIX.items(), key=lambda kv: -len(kv[0])):
        words = words.replace(f" {long} ", f" {short} ")
    return words.strip().removeprefix("the ")


def _strip_defined(piece: str) -> tuple[str, str]:
    """(name, defined-term text): the name ends at the first quote or at a
    parenthesis holding a quote or closing the piece."""
    for m in re.finditer(r"\(([^()]*)\)?|\"", piece):
        inner, rest = m.group(1) or "", piece[m.end() :].strip(" ,;")
        if m.group(0) == '"' or '"' in inner or not rest or rest.startswith("("):
            return piece[: m.start()], piece[m.start() :]
    return piece, ""


def gold_parties(gold: str) -> list[str]:
    """The legal names of a CUAD Parties gold, defined terms and group lines removed."""
    names: list[str] = []
    for piece in clean(gold).split(";"):
        name, defined = _strip_defined(piece.strip())
        name = _CUT.split(name)[0].strip(" ,.;:")
        if not re.search(r"[A-Za-z0-9]{2}", name) or _GROUP.search(name):
            continue
        if _GROUP.search(defined) and re.search(r"\sand\s", name, re.I):
            continue  # "A and B (collectively the "Parties")"
        if name.lower().startswith("the ") and name == name.lower():
            continue  # "the seller": a role, not a name
        if _HONORIFIC.search(name):
            names += [_HONORIFIC.sub("", n).strip() for n in re.split(r",|\sand\s", name)]
        else:
            names.append(name)
    return [n for n in dict.fromkeys(names) if _name_key(n)]


def _has_name(name: str, words: str) -> bool:
    key = _name_key(name)
    if f" {key} " in words:
        return True
    tokens = key.split()
    core = tokens[:]
    while core and core[-1] in _SUFFIX_TOKENS:
        core.pop()
    if len(core) >= 2 and f" {' '.join(core)} " in words:
        return True
    if len(key) < 10:
        return False
    text_tokens = words.split()
    n = len(tokens)
    return any(
        SequenceMatcher(None, key, " ".join(text_tokens[i : i + n])).ratio() >= 0.9
        for i in range(len(text_tokens) - n + 1)
    )


# -- entry points --------------------------------------------------------------------
_DATE_CATEGORIES = {"agreement date", "effective date", "expiration date"}
_DURATION_CATEGORIES = {"renewal term", "notice period to terminate renewal"}


def _parse(category: str, gold: str) -> object | None:
    key = _key(category)
    gold = clean(gold).strip()
    if not gold:
        return None
    if key in _DATE_CATEGORIES | _DURATION_CATEGORIES:
        read = _gold_date if key in _DATE_CATEGORIES else _gold_duration
        parts = [read(p) for p in gold.split(";") if p.strip()]
        return parts if parts and all(p is not None for p in parts) else None
    if key == "governing law":
        return _gold_places(gold)
    if key == "parties":
        return gold_parties(gold) or None
    if key == "document name":
        return _name_key(gold) or None
    return None


def gold_scorable(category: str, gold: str) -> bool:
    """Whether ``gold`` (CUAD's normalised answer for ``category``) can be scored."""
    return _parse(category, gold) is not None


def states_value(category: str, gold: str, text: str) -> bool | None:
    """True when ``text`` states ``gold`` for ``category`` (see the module
    docstring for the rules), False when not, None when the gold is unscorable."""
    parsed = _parse(category, gold)
    if parsed is None:
        return None
    key = _key(category)
    if key in _DATE_CATEGORIES:
        return all(_states_date(p, text) for p in parsed)  # type: ignore[attr-defined]
    if key in _DURATION_CATEGORIES:
        return all(_states_duration(p, text) for p in parsed)  # type: ignore[attr-defined]
    if key == "governing law":
        return _states_places(parsed, text)  # type: ignore[arg-type]
    words = f" {_name_key(text)} "
    if key == "parties":
        return all(_has_name(n, words) for n in parsed)  # type: ignore[attr-defined]
    return f" {parsed} " in words
