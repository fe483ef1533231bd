"""What a financial report's text says about it: the cover page's issuer,
form, fiscal period and period-end date (:func:`report_profile`), and which
passages are boilerplate (:func:`boilerplate_label`).

Nothing is guessed that the text does not state: a field the cover lacks is
None. ``fiscal_period`` is ``FY<year of the period end>`` for annual reports
(10-K, 20-F, annual report) and ``<year>Q<calendar quarter of the period
end>`` for quarterly ones (a 10-Q for the quarter ended June 30, 2023 is
``2023Q2``; a quarter of a 52/53-week year ending in a month's first week,
July 2, 2023, counts as June's; companies whose fiscal year is not the
calendar year number their quarters differently, so ``period_end`` is the
field to compare).

Boilerplate (cover page and its check boxes, the index, signatures,
certifications, the exhibit index, safe-harbour text and "see accompanying
notes" lines) stays searchable but is ranked below content and never
summarised; the label is carried by :attr:`core.types.Chunk.boilerplate`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from core.reports import ReportProfile

__all__ = ["boilerplate_label", "label_boilerplate", "report_profile", "report_title"]

_MONTHS = {
    m: i + 1
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
        ]
    )
}
_DATE = r"([A-Za-z]{3,9})\.?\s+(\d{1,2}),?\s+(\d{4})"
_PERIOD = re.compile(
    r"for\s+the\s+(fiscal\s+year|year|quarterly\s+period|quarter|(?:three|six|nine|twelve)"
    r"\s+months|period)\s+ended\s*:?\s*" + _DATE,
    re.I,
)
_FORM = re.compile(r"\bform\s+(10-?k|10-?q|8-?k|20-?f)\b", re.I)
_ISSUER_BEFORE = re.compile(r"\(\s*exact\s+name\s+of\s+(?:the\s+)?registrant", re.I)
_FILE_NUMBER = re.compile(
    r"commission\s+file\s+(?:number|no\.?)\s*:?\s*[0-9][0-9-]*\s*(?:_+\s*)?", re.I
)
_ISSUER_STOP = re.compile(
    r"\s*(?:\(|state\s+of\s+incorporation|incorporated\s+in|delaware\b|new\s+york\s+\d|$)",
    re.I,
)
_EARNINGS = re.compile(
    r"\b(?:reports?|announces?)\b[^.\n]{0,80}\b(?:quarter|fourth[- ]quarter|full[- ]year|"
    r"annual)\b[^.\n]{0,40}\bresults\b",
    re.I,
)
_SMALL_WORDS = {"THE", "OF", "AND", "INC", "CO", "CORP", "LTD", "LLC", "PLC", "NV", "SA", "AG"}


def _iso(month: str, day: str, year: str) -> str | None:
    m = _MONTHS.get(month.lower()) or next(
        (v for k, v in _MONTHS.items() if k.startswith(month.lower()[:3])), None
    )
    try:
        return date(int(year), m, int(day)).isoformat() if m else None
    except ValueError:
        return None


def _tidy_name(name: str) -> str:
    """ "CORNING INCORPORATED" -> "Corning Incorporated"; a short all-capital
    word that is not a common one stays ("CVS", "3M")."""
    name = re.sub(r"\s+", " ", name).strip(" ,.;:_-") + ("." if name.rstrip().endswith(".") else "")
    if any(c.islower() for c in name):
        return name
    words = []
    for w in name.split(" "):
        core = re.sub(r"[^A-Za-z]", "", w)
        if (len(core) <= 3 and core.upper() not in _SMALL_WORDS) or any(c.isdigit() for c in w):
            words.append(w)
        else:
            words.append(w[:1] + w[1:].lower())
    return " ".join(words)


def _issuer(cover: str) -> str | None:
    m = _ISSUER_BEFORE.search(cover)
    if m is not None:
        before = cover[: m.start()].rstrip()
        line = before.rsplit("\n", 1)[-1]
        f = list(_FILE_NUMBER.finditer(line))
        if f:
            line = line[f[-1].end() :]
        line = line.strip()
        if 2 <= len(line) <= 120:
            return _tidy_name(line)
    f = _FILE_NUMBER.search(cover)
    if f is not None:
        rest = cover[f.end() : f.end() + 200].lstrip()
        stop = _ISSUER_STOP.search(rest, 1)
        name = rest[: stop.start()] if stop else rest.split("\n", 1)[0]
        name = name.split("\n", 1)[0].strip()
        if 2 <= len(name) <= 120:
            return _tidy_name(name)
    return None


def _form(cover: str, name: str) -> str | None:
    m = _FORM.search(cover)
    if m is not None:
        raw = m.group(1).upper().replace("-", "")
        return f"{raw[:-1]}-{raw[-1]}"
    stem = name.upper()
    for tag, form in (("10K", "10-K"), ("10-K", "10-K"), ("10Q", "10-Q"), ("10-Q", "10-Q")):
        if tag in stem:
            return form
    if _EARNINGS.search(cover[:3000]):
        return "earnings release"
    if re.search(r"\bannual\s+report\b", cover[:3000], re.I):
        return "annual report"
    if "8K" in stem or "8-K" in stem:
        return "8-K"
    return None


def report_profile(pages: Sequence[str], name: str = "") -> ReportProfile:
    """Issuer, form, fiscal period and period end from the first pages'
    text (``pages``: page texts in order; only the first three are read)."""
    cover = "\n".join(pages[:3])[:12000]
    first = "\n".join(pages[:1])[:8000] or cover
    profile = ReportProfile(issuer=_issuer(first) or _issuer(cover), form=_form(cover, name))
    m = _PERIOD.search(cover)
    if m is not None:
        profile.period_end = _iso(m.group(2), m.group(3), m.group(4))
    if profile.period_end:
        year, month = int(profile.period_end[:4]), int(profile.period_end[5:7])
        quarterly = profile.form == "10-Q" or (
            m is not None and re.match(r"quarter|three", m.group(1), re.I)
        )
        if quarterly:
            if int(profile.period_end[8:]) <= 7:  # 52/53-week quarters end early in a month
                year, month = (year, month - 1) if month > 1 else (year - 1, 12)
            profile.fiscal_period = f"{year}Q{(month - 1) // 3 + 1}"
        elif profile.form in ("10-K", "20-F", "annual report") or (
            m is not None and "year" in m.group(1).lower()
        ):
            profile.fiscal_period = f"FY{year}"
    return profile


def report_title(profile: ReportProfile) -> str | None:
    """ "Corning Incorporated 10-Q 2023Q2": the title every chunk of the
    report carries (None without an issuer)."""
    if not profile.issuer:
        return None
    return " ".join(p for p in (profile.issuer, profile.form, profile.fiscal_period) if p)


# ------------------------------------------------------------------ boilerplate
_RULES: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (label, re.compile(pattern, re.I), need)
    for label, pattern, need in (
        (
            "exhibit-index",
            r"exhibit\s+index|index\s+to\s+exhibits|incorporated\s+(?:herein\s+)?by\s+reference\s+"
            r"to\s+exhibit|filed\s+herewith|furnished\s+herewith|\binline\s+xbrl\b|"
            r"(?:^|\n)\s*\(?\d{1,3}(?:\.\d{1,3})?\)?\s+(?:form\s+of\s+|certification\s+of|"
            r"consent\s+of|power\s+of\s+attorney|subsidiaries\s+of)",
            2,
        ),
        (
            "certification",
            r"\bI,\s+[A-Z][^,]{2,60},\s+certify\s+that|certification\s+pursuant\s+to|"
            r"section\s+(?:302|906)\s+certification|hereby\s+certif(?:y|ies),?\s+pursuant\s+to\s+"
            r"18\s+U\.?S\.?C",
            1,
        ),
        (
            "signatures",
            r"registrant\s+has\s+duly\s+caused\s+this\s+report\s+to\s+be\s+signed|/s/\s",
            1,
        ),
        (
            "cover",
            r"indicate\s+by\s+check\s+mark|exact\s+name\s+of\s+registrant|securities\s+registered\s+"
            r"pursuant\s+to\s+section\s+12|commission\s+file\s+(?:number|no)|large\s+accelerated"
            r"\s+filer|aggregate\s+market\s+value\s+of\s+(?:the\s+)?voting|documents\s+"
            r"incorporated\s+by\s+reference|I\.R\.S\.\s+employer",
            1,
        ),
        (
            "safe-harbour",
            r"forward[- ]looking\s+statements?|private\s+securities\s+litigation\s+reform\s+act|"
            r"safe\s+harbou?r|section\s+27A\s+of\s+the\s+securities\s+act",
            2,
        ),
    )
)
_INDEX_ITEM = re.compile(r"\bitem\s+\d{1,2}[A-C]?\.?", re.I)
_INDEX_HEAD = re.compile(r"^\s*(?:table\s+of\s+contents|index)\b", re.I)
_SEE_NOTES = re.compile(
    r"[^.\n]*(?:see\s+(?:the\s+)?accompanying\s+notes|accompanying\s+notes[^.]{0,80}"
    r"integral\s+part)[^.\n]*\.?",
    re.I,
)


def boilerplate_label(text: str) -> str | None:
    """The boilerplate kind of a passage (one of
    :data:`core.reports.BOILERPLATE_LABELS`), or None for content."""
    if len(text) < 400 and _SEE_NOTES.search(text):
        rest = _SEE_NOTES.sub("", text)
        if len(re.sub(r"[\W\d_]+", "", rest)) < 80:
            return "see-notes"
    for label, pattern, need in _RULES:
        found = pattern.findall(text)
        if label == "signatures":
            # the registrant's signatures, a short signed block or several /s/
            if found and (len(found) >= 2 or len(text) < 300 or "duly" in str(found).lower()):
                return label
        elif label == "safe-harbour":
            if len(found) >= need or re.search(r"reform\s+act|safe\s+harbou?r", text, re.I):
                return label
        elif len(found) >= need:
            return label
    items = _INDEX_ITEM.findall(text)
    pages = re.findall(r"(?<![\d,.$])\b\d{1,3}\b(?![\d,.%])", text)
    if (len(items) >= 4 or _INDEX_HEAD.match(text)) and len(pages) >= 4:
        words = len(text.split())
        if len(items) * 8 >= words * 0.4 or (_INDEX_HEAD.match(text) and len(pages) * 6 >= words):
            return "index"
    return None


def label_boilerplate(texts: Sequence[str]) -> list[str | None]:
    """:func:`boilerplate_label` of each passage."""
    return [boilerplate_label(t) for t in texts]
