"""Reading the values a contract (or an answer) writes: spelled-out numbers,
durations and dates, each with its position and a normal form.

"ninety (90) days", "90-day" and "ninety days" are one duration; "May 8, 2014",
"8th day of May, 2014", "the eighth day of May 2014", "2014-05-08" and
"05/08/2014" (US order) are one date; "March ___, 1999" is a date whose day
is left blank. Used by the rule-based value extractor
(:mod:`tools.clauses.values`) and by the value scorer of the evaluation
(:mod:`evaluation.value_match`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

__all__ = [
    "DateMention",
    "Duration",
    "clean",
    "find_dates",
    "find_durations",
    "full_year",
    "number_value",
]

_SMALL = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13,
    "fourteenth": 14, "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18,
    "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
}  # fmt: skip
_ORDINALS = dict(_ORDINAL_UNITS)
for _tens, _n in (("twenty", 20), ("thirty", 30)):
    for _unit, _m in list(_ORDINAL_UNITS.items())[:9]:
        _ORDINALS[f"{_tens}-{_unit}"] = _ORDINALS[f"{_tens} {_unit}"] = _n + _m
_MONTHS = [
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
]  # fmt: skip

_WORD = "|".join(sorted(_SMALL, key=len, reverse=True))
_SPELLED = (
    rf"(?:(?:{_WORD})[\s-]+hundred(?:[\s-]+(?:and[\s-]+)?(?:{_WORD})(?:[\s-](?:{_WORD}))?)?"
    rf"|(?:{_WORD})(?:[\s-](?:{_WORD}))?)"
)
_DIGITS = r"\d+(?:\.\d+)?"
#: "ninety (90)", "90", "ninety", "(90)", "one and one-half", "six-month", "a".
_QUANTITY = (
    rf"(?:(?P<w>{_SPELLED})\s*\(\s*(?P<p>{_DIGITS})\s*\)|(?P<d>{_DIGITS})"
    rf"|(?P<half>(?:(?:{_WORD}|\d+)\s+and\s+)?(?:a|one)[\s-]half|half\s+an?)"
    rf"|(?P<s>{_SPELLED})|\(\s*(?P<q>{_DIGITS})\s*\)|(?P<a>\ban?\b))"
)
_DURATION = re.compile(
    rf"(?<![\w$.,/]){_QUANTITY}\s*(?:-\s*)?(?:\(\s*\d+\s*\)\s*)?"
    r"(?:(?:calendar|business|working|consecutive|full|successive|additional|further|"
    r"renewal|extended|contract)[\s-]+)*"
    r"(?P<unit>day|week|month|year)s?\b",
    re.I,
)
_PER_YEAR = re.compile(r"\byear[\s-]to[\s-]year\b|\bannual(?:ly)?\b|\b(?:each|every) year\b", re.I)
_PER_MONTH = re.compile(r"\bmonth[\s-]to[\s-]month\b|\bmonthly\b", re.I)


def clean(text: str) -> str:
    """Unicode-normalised text: NFKC, curly quotes straight, soft hyphens and
    non-breaking spaces removed, accents kept."""
    text = unicodedata.normalize("NFKC", text)
    for a, b in (("\u2018", "'"), ("\u2019", "'"), ("\u201c", '"'), ("\u201d", '"')):
        text = text.replace(a, b)
    return text.replace("\xad", "").replace("\xa0", " ")


def number_value(text: str) -> float | None:
    """The value of a written number: "90", "ninety", "one hundred twenty", "twenty-first"."""
    text = text.strip().lower().replace(",", "")
    try:
        return float(text)
    except ValueError:
        pass
    if text in _ORDINALS:
        return float(_ORDINALS[text])
    current = 0
    for word in re.split(r"[\s-]+", text):
        if word == "and":
            continue
        if word == "hundred":
            current = max(current, 1) * 100
        elif word in _SMALL:
            current += _SMALL[word]
        elif word in _ORDINALS:
            current += _ORDINALS[word]
        else:
            return None
    return float(current)


@dataclass(frozen=True)
class Duration:
    """A period as written: ``number`` of ``unit`` (day/week/month/year).

    ``months`` is the length in months for month/year units, ``days`` the
    length in days for day/week units; the two scales are never converted
    into each other (a month is not 30 days)."""

    number: float
    unit: str
    start: int
    end: int
    surface: str

    @property
    def months(self) -> float | None:
        return {"year": 12.0, "month": 1.0}.get(self.unit, 0.0) * self.number or None

    @property
    def days(self) -> float | None:
        return {"week": 7.0, "day": 1.0}.get(self.unit, 0.0) * self.number or None

    @property
    def approx_days(self) -> float:
        """Length in days (a year = 365, a month = 30): for ordering only."""
        per = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}[self.unit]
        return self.number * per

    def same_length(self, other: Duration) -> bool:
        if self.months is not None and other.months is not None:
            return abs(self.months - other.months) < 1e-6
        if self.days is not None and other.days is not None:
            return abs(self.days - other.days) < 1e-6
        return False

    def label(self) -> str:
        n = f"{self.number:g}"
        return f"{n} {self.unit}{'' if self.number == 1 else 's'}"


def _quantity(m: re.Match[str]) -> float | None:
    digits = m.group("p") or m.group("d") or m.group("q")
    if digits:
        return float(digits)
    if m.group("half"):
        whole = re.match(r"(\S+)\s+and\s+", m.group("half"), re.I)
        base = number_value(whole.group(1)) if whole else 0.0
        return None if base is None else base + 0.5
    if m.group("a"):
        return 1.0
    return number_value(m.group("w") or m.group("s") or "")


def find_durations(text: str) -> list[Duration]:
    """Every period written in ``text``, in reading order. "year-to-year" and
    "annually" read as one year, "month-to-month" as one month."""
    text = clean(text)
    out: list[Duration] = []
    for pattern, unit in ((_PER_YEAR, "year"), (_PER_MONTH, "month")):
        out += [Duration(1.0, unit, m.start(), m.end(), m.group(0)) for m in pattern.finditer(text)]
    for m in _DURATION.finditer(text):
        number = _quantity(m)
        if number and not any(d.start < m.end() and m.start() < d.end for d in out):
            surface = m.group(0).strip()
            out.append(Duration(number, m.group("unit").lower(), m.start(), m.end(), surface))
    return sorted(out, key=lambda d: d.start)


# -- dates ------------------------------------------------------------------------
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORD = "|".join(sorted(_ORDINALS, key=len, reverse=True))
_DAY = rf"(?P<day>\d{{1,2}}(?:\s?(?:st|nd|rd|th|t\s?h|s\s?t|n\s?d|r\s?d)\b)?|{_ORD})"
_BLANK = r"(?P<blank>_+|\[\s*_*\s*\])"
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_DATES = [
    re.compile(rf"\b{_DAY}\s+(?:day\s+)?(?:of\s+)?{_MONTH}\s*,?\s*(?:in\s+the\s+year\s+)?{_YEAR}\b", re.I),
    re.compile(rf"\b{_MONTH}\s*(?:{_DAY}|{_BLANK})?\s*,?\s*{_YEAR}\b", re.I),
    re.compile(r"\b(?P<year>(?:19|20)\d{2})-(?P<mnum>\d{1,2})-(?P<day>\d{1,2})\b"),
    re.compile(r"(?<![\d/])(?P<mnum>\d{1,2})/(?P<day>\d{1,2})/(?P<year>(?:19|20)?\d{2})(?![\d/])"),
    re.compile(r"(?<![\d.])(?P<mnum>\d{1,2})-(?P<day>\d{1,2})-(?P<year>(?:19|20)\d{2})\b"),
    # dotted dates read day first (European use) unless the first number cannot be a day...
    re.compile(r"(?<![\d.])(?P<dotted>\d{1,2})\.(?P<other>\d{1,2})\.(?P<year>(?:19|20)\d{2})\b"),
]  # fmt: skip


@dataclass(frozen=True)
class DateMention:
    """A calendar date written in a text; ``day`` is None when the text leaves it blank."""

    year: int
    month: int
    day: int | None
    start: int
    end: int

    @property
    def iso(self) -> str:
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"


def full_year(year: str) -> int:
    """Two-digit years pivot at 70: "14" -> 2014, "96" -> 1996."""
    y = int(year)
    if len(year) <= 2:
        y += 2000 if y < 70 else 1900
    return y


def _month_of(m: re.Match[str]) -> int:
    if "dotted" in m.re.groupindex:  # ... or the second one is over 12 ("04.18.2018")
        return int(m.group("dotted") if int(m.group("other")) > 12 else m.group("other"))
    if "mnum" in m.re.groupindex:
        return int(m.group("mnum"))
    word = m.group("month").lower()[:3]
    return next(i for i, name in enumerate(_MONTHS, start=1) if name.startswith(word))


def _day_of(raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.lower()
    digits = re.match(r"\d+", raw)
    return int(digits.group(0)) if digits else _ORDINALS.get(raw)


def _dotted_day(m: re.Match[str]) -> str:
    return m.group("other") if int(m.group("other")) > 12 else m.group("dotted")


def find_dates(text: str) -> list[DateMention]:
    """Every date in ``text`` (reading order; numeric dates read month first)."""
    text = clean(text)
    out: list[DateMention] = []
    for pattern in _DATES:
        for m in pattern.finditer(text):
            if any(d.start < m.end() and m.start() < d.end for d in out):
                continue
            year, month = full_year(m.group("year")), _month_of(m)
            day = _day_of(m.group("day") if "day" in m.re.groupindex else _dotted_day(m))
            try:
                date(year, month, day or 1)
            except ValueError:
                continue
            out.append(DateMention(year, month, day, m.start(), m.end()))
    return sorted(out, key=lambda d: d.start)
