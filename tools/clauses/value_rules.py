"""The rules that read a duration or a date from a clause passage, each scored by how firmly
the passage ties the value to its category.

Every reader returns ``(value, strength)`` or None; :mod:`tools.clauses.values`
turns them into :class:`~tools.clauses.values.ClauseValue` and, across one
document's passages, keeps the strongest (the earlier passage on a tie).

- Renewal term: the period that a renewal / extension cue ("renew for
  successive", "additional", "extended for", "year to year") governs, never
  the initial term nor a notice period ("sixty (60) days prior to ...").
- Notice period to terminate renewal: the period that notice cues govern
  ("at least N days prior to", "N days' written notice"), preferring a
  sentence about renewal or expiry.
- Dates: the date that a cue of the category governs (Agreement: "dated",
  "made ... as of"; Effective: "effective as of", ("Effective Date"),
  "commence on"; Expiration: "expire on", "ending", "through", "until").
  An expiration date may be computed from a start date and the initial term
  ("five (5) years from the Effective Date"), as CUAD's annotators do.

Parties, governing law and caps are read by :mod:`tools.clauses.value_names`.

EDGAR page footers ("Source: ACME INC, 10-K, 2/20/2009") are removed first.
"""

from __future__ import annotations

import re
from datetime import date

from tools.clauses.value_text import DateMention, Duration, clean, find_dates, find_durations

__all__ = [
    "BLANK_DATE",
    "FOOTER",
    "date_for",
    "notice_period",
    "prepare",
    "renewal_term",
    "shift",
    "term_length",
]

#: EDGAR's page footer ("Source: IPASS INC, 8-K, 12/3/2018"): the filing's date.
FOOTER = re.compile(r"Source:\s+[^\n]{0,160}?\d{1,2}/\d{1,2}/\d{2,4}", re.I)


def prepare(passage: str) -> str:
    """The passage with EDGAR footers removed and whitespace collapsed."""
    return " ".join(FOOTER.sub(" ", clean(passage)).split())


def _before(text: str, start: int, width: int = 90) -> str:
    """The text before ``start`` within its sentence (at most ``width`` chars)."""
    window = text[max(0, start - width) : start]
    cut = max(window.rfind(". "), window.rfind("; "))
    return window[cut + 1 :] if cut >= 0 else window


def _after(text: str, end: int, width: int = 40) -> str:
    return text[end : end + width]


# -- durations: renewal term, notice period, initial term --------------------------
_NOTICE_AFTER = re.compile(
    r"^\W{0,3}(?:s\b|')?\W*(?:\w+\W+){0,2}?(?:prior|before|in advance|notice|notification|written)",
    re.I,
)
_NOTICE_BEFORE = re.compile(
    r"(?:at least|not less than|no less than|no later than|not later than|minimum of|upon|"
    r"giving|with|provid\w*|give[sn]?)\W+(?:\w+\W+){0,2}$",
    re.I,
)
_RENEW_BEFORE = re.compile(
    r"(?:renew\w*|extend\w*|extension|additional|successive|subsequent|further|consecutive|"
    r"each year|thereafter)\b[^.;]{0,90}$",
    re.I,
)
_INITIAL_BEFORE = re.compile(r"initial\b[^.;]{0,50}$", re.I)
_AFTER_INITIAL = re.compile(r"^[^.;]{0,12}\(?\s*(?:the\s+)?\"?initial", re.I)
#: A period the text names the initial term: "Five (5) years thereafter ("Initial Term")".
_NAMED_INITIAL = re.compile(r"^[^.;()]{0,20}\(\s*(?:the\s+)?\"?initial\s+(?:term|period)", re.I)
_SUCCESSIVE = re.compile(
    r"successive|consecutive|subsequent|each|year[\s-]to[\s-]year|annually|renewals\b|terms\b|"
    r"periods\b",
    re.I,
)
_COUNT = re.compile(
    r"\b(?P<n>two|three|four|five|2|3|4|5)\s*(?:\(\s*\d\s*\)\s*)?(?:additional|successive|"
    r"further|consecutive|renewal)\b",
    re.I,
)
_EVERGREEN = re.compile(
    r"perpetu|indefinite|unlimited number|thereafter,? (?:until|unless) terminated", re.I
)


def _is_notice(text: str, d: Duration) -> bool:
    return bool(
        _NOTICE_AFTER.search(_after(text, d.end))
        or _NOTICE_BEFORE.search(_before(text, d.start, 40))
    )


def _count_value(word: str) -> int:
    return (
        int(word) if word.isdigit() else {"two": 2, "three": 3, "four": 4, "five": 5}[word.lower()]
    )


def renewal_term(passage: str) -> tuple[Duration | str, bool, int | None, int] | None:
    """(length or "perpetual", successive, count, strength) of a renewal clause."""
    text = prepare(passage)
    if not re.search(
        r"renew|extend|extension|year[\s-]to[\s-]year|additional terms?\b", text, re.I
    ):
        return None
    for d in find_durations(text):
        before = _before(text, d.start)
        if _is_notice(text, d) or _INITIAL_BEFORE.search(before):
            continue
        if _AFTER_INITIAL.search(_after(text, d.end, 30)):
            continue
        if _RENEW_BEFORE.search(before) or re.match(r"year.to.year|every year", d.surface, re.I):
            near = text[max(0, d.start - 60) : d.end + 40]
            count = _COUNT.search(text[max(0, d.start - 60) : d.end])
            n = _count_value(count.group("n")) if count else None
            return d, bool(_SUCCESSIVE.search(near)), n, 3
    if _EVERGREEN.search(text):
        return "perpetual", False, None, 1
    return None


def notice_period(passage: str) -> tuple[Duration, int] | None:
    """The notice period that stops a renewal, and its strength."""
    text = prepare(passage)
    best: tuple[Duration, int] | None = None
    for d in find_durations(text):
        if not _is_notice(text, d):
            continue
        sentence = text[max(0, d.start - 250) : d.end + 200]
        strength = (
            3 if re.search(r"renew|expir|extension|then[\s-]current|end of", sentence, re.I) else 2
        )
        if best is None or strength > best[1]:
            best = (d, strength)
    return best


_ANNIVERSARY = re.compile(
    r"\b(?P<ord>first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"fifteenth|twentieth)\s*(?:\(\s*\d+\s*(?:st|nd|rd|th|t\s?h)?\s*\)\s*)?anniversary",
    re.I,
)
_ORD_YEARS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "fifteenth": 15, "twentieth": 20,
}  # fmt: skip
_FROM_START = re.compile(
    r"(?:from|after|following|of|commencing on|beginning on|starting on)\s+(?:the\s+)?"
    r"(?:\"?effective date|date (?:hereof|of (?:this|the) agreement|first (?:written|set forth)|of execution)"
    r"|execution)",
    re.I,
)


def term_length(passage: str) -> Duration | None:
    """The initial term's length when the passage ties it to the start date."""
    text = prepare(passage)
    m = _ANNIVERSARY.search(text)
    if m:
        return Duration(
            float(_ORD_YEARS[m.group("ord").lower()]), "year", m.start(), m.end(), m.group(0)
        )
    for d in find_durations(text):
        before = _before(text, d.start)
        initial = _INITIAL_BEFORE.search(before) or _NAMED_INITIAL.search(_after(text, d.end, 40))
        if _is_notice(text, d) or (_RENEW_BEFORE.search(before) and not initial):
            continue
        if re.search(
            r"\bterm\b|period|for\s*$|remain|continue|until|expire|shall be|initial", before, re.I
        ):
            return d
    return None


def shift(iso: str, d: Duration) -> str | None:
    """``iso`` plus ``d`` (whole months or days), the same day of the month."""
    start = date.fromisoformat(iso)
    if d.months is not None and float(d.months).is_integer():
        months = start.month - 1 + int(d.months)
        year, month = start.year + months // 12, months % 12 + 1
        for day in (start.day, 30, 29, 28):
            try:
                return date(year, month, min(day, start.day)).isoformat()
            except ValueError:
                continue
    if d.days is not None and float(d.days).is_integer():
        return date.fromordinal(start.toordinal() + int(d.days)).isoformat()
    return None


# -- dates ---------------------------------------------------------------------------
_CUES: dict[str, re.Pattern[str]] = {
    "Agreement Date": re.compile(
        r"(?:dated|as of|made|entered into|executed|signed|date:?|day of|this)\W*(?:\w+\W+){0,3}$",
        re.I,
    ),
    "Effective Date": re.compile(
        r"(?:effective(?! until)|commenc\w*|begin\w*|start\w*|as of|from)\W*(?:\w+\W+){0,3}$", re.I
    ),
    "Expiration Date": re.compile(
        r"(?:expir\w*|terminat\w*|end(?:ing|s)?|through|until|conclud\w*|later than|last day)"
        r"\W*(?:\w+\W+){0,3}$|\d{4}\s+(?:to|-)\s*$",
        re.I,
    ),
}
#: What says an effective date, not only a date ("effective as of", "commence on", "begin on").
_BEGINS = re.compile(
    r"(?:effective(?! until)|commenc\w*|begin\w*|start\w*)\W*(?:\w+\W+){0,3}$", re.I
)
_START_CUE = re.compile(
    r"(?:commenc\w*|begin\w*|start\w*|from|effective|dated|as of)\W*(?:\w+\W+){0,3}$", re.I
)
_EFFECTIVE_AFTER = re.compile(r"^\W{0,4}(?:the\s+)?\"?effective date", re.I)
_SELF_DATED = re.compile(
    r"date (?:hereof|of (?:this|the) agreement|first (?:written|set forth|above)|of (?:the )?last signature"
    r"|of execution|noted below|on which)|execution date",
    re.I,
)
_OPEN_ENDED = re.compile(
    r"perpetu|indefinite|unlimited period|end when terminated|until full performance|"
    r"until (?:it is |this agreement is )?terminated|for so long as|"
    r"until the (?:expiration|termination|completion|last|end)|continue[sd]? (?:in (?:full )?(?:force|effect) )?"
    r"(?:until|through) (?:the )?(?:completion|expiration|termination|last)",
    re.I,
)


#: The date of another agreement this one refers to: "to the Manufacturing and Supply
#: Agreement dated as of December 8, 2009", "pursuant to a Subscription Agreement dated".
_REFERENCED = re.compile(
    r"\b(?:to|under|by|pursuant\s+to|amend\w*)\s+(?:the|a|an|that\s+certain)\s+(?:[\w&-]+\s+){0,6}?"
    r"(?:agreement|contract)\s*,?\s*(?:\([^()]{0,80}\)\s*)?dated\s+(?:as\s+of\s+)?$",
    re.I,
)
#: A date left blank, month and day: "dated as of ___________, 2015", "as of [Date]".
BLANK_DATE = re.compile(
    r"(?:_{3,}|\[\s*(?:date|•|\*)\s*\])(?:\s*,?\s*(?:19|20)(?:\d{2}|\[\s*•?\s*\]))?", re.I
)
#: What is left blank is the agreement's date: "dated", "as of", "effective", "made".
_BLANK_CUE = re.compile(
    r"(?:dated|as of|effective|made|entered into|this)\W*(?:\w+\W+){0,2}$", re.I
)


def _blank_date(category: str, text: str, dates: list[DateMention]) -> tuple[str, int] | None:
    """("blank", strength) when the agreement's date is left blank in ``text``
    before any date it writes (a form: "dated as of ___________, 2015")."""
    if category not in ("Agreement Date", "Effective Date"):
        return None
    for m in BLANK_DATE.finditer(text):
        if any(d.start <= m.start() < d.end for d in dates) or not _BLANK_CUE.search(
            _before(text, m.start(), 40)
        ):
            continue  # "March ___, 1999": the month is written
        if any(d.start < m.start() and _cued(category, text, d) for d in dates):
            return None
        tagged = _EFFECTIVE_AFTER.search(_after(text, m.end(), 30))
        return "blank", 5 if tagged and category == "Effective Date" else 3
    return None


def _cued(category: str, text: str, d: DateMention) -> bool:
    return bool(_CUES[category].search(_before(text, d.start, 60)))


def date_for(category: str, passage: str, context: dict[str, str]) -> tuple[str, int] | None:
    """(ISO date or "perpetual", strength) of a date category in ``passage``.

    ``context`` holds ISO dates already read from the same document
    ("Agreement Date", "Effective Date"): an effective date "as of the date
    hereof" is the agreement date; an expiration "N years from the Effective
    Date" is computed from the effective date.
    """
    text = prepare(passage)
    dates = find_dates(text)
    if category in ("Agreement Date", "Effective Date"):  # not another agreement's date
        dates = [d for d in dates if not _REFERENCED.search(_before(text, d.start, 120))]
    blank = _blank_date(category, text, dates)
    if blank is not None:
        return blank
    if category == "Effective Date":
        tagged = [d for d in dates if _EFFECTIVE_AFTER.search(_after(text, d.end, 30))]
        if tagged:
            return tagged[0].iso, 5
        begins = [d for d in dates if _BEGINS.search(_before(text, d.start, 60))]
        if begins:  # "shall begin on January 1, 2000": firmer than "made as of ..."
            return begins[0].iso, 4
    cued = [d for d in dates if _cued(category, text, d)]
    if category == "Expiration Date":
        cued = [d for d in cued if not _START_CUE.search(_before(text, d.start, 40))] or cued
    if (
        category == "Agreement Date"
        and len(cued) > 1
        and all(re.search(r"date:?\s*$", _before(text, d.start, 12), re.I) for d in cued)
    ):
        return max(cued, key=lambda d: (d.year, d.month, d.day or 0)).iso, 3  # last signature
    if cued:
        return cued[0].iso, 3
    if category == "Expiration Date":
        return _expiration_without_date(text, dates, context)
    if category == "Effective Date" and _SELF_DATED.search(text) and context.get("Agreement Date"):
        return context["Agreement Date"], 2
    if dates and not (category == "Effective Date" and len(dates) > 1):
        return dates[0].iso, 1
    if category == "Effective Date" and context.get("Agreement Date"):
        return context["Agreement Date"], 0  # an agreement takes effect on its date
    return None


def _expiration_without_date(
    text: str, dates: list[DateMention], context: dict[str, str]
) -> tuple[str, int] | None:
    start = context.get("Effective Date") or context.get("Agreement Date")
    length = term_length(text)
    if length is not None and start and len(start) == 10:
        end = shift(start, length)
        if end:
            return end, 2
    if _OPEN_ENDED.search(text) and length is None:
        return "perpetual", 2
    return None
