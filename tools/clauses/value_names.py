"""The rules that read names from a clause passage: the parties of a preamble,
the jurisdictions of a choice-of-law clause, and the formula or amount of a
liability cap. Each reader returns its value with a strength (how firmly the
passage states it), as :mod:`tools.clauses.value_rules` does.

- Parties: the names of a preamble ("between A, a Delaware corporation
  ("X"), and B ("Y")"), legal suffixes kept ("Xencor, Inc."), each with its
  defined term when it has one.
- Governing law: each jurisdiction named by a choice-of-law phrase ("laws of
  the State of X", "Swiss law"), in order; a place named by an incorporation
  phrase ("a corporation organized under the laws of X") is not one.
  The CISG counts when the clause applies it (not when it excludes it).
- Cap on liability: the cap's formula ("the fees paid or payable in the
  twelve (12) months preceding the claim"), else the amount it names.
"""

from __future__ import annotations

import re

from tools.clauses.value_rules import prepare

__all__ = ["PLACES", "cap_formula", "document_name", "governing_laws", "law_adjective", "parties"]

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
    "England and Wales", "England", "Wales", "Scotland", "United Kingdom", "Ireland", "Canada",
    "Ontario", "British Columbia", "Quebec", "Alberta", "Germany", "France", "Switzerland",
    "the Netherlands", "Netherlands", "Belgium", "Israel", "Singapore", "Hong Kong", "Japan",
    "People's Republic of China", "China", "India", "Australia", "New South Wales", "Victoria",
    "Sweden", "Italy", "Spain", "Korea", "Taiwan", "Bermuda", "Cayman Islands", "Luxembourg",
    "Cyprus", "Denmark", "Norway", "Finland", "Austria", "Mexico", "Brazil", "United States",
]  # fmt: skip
#: Place names a choice-of-law clause may name (longest first).
PLACES = sorted(_US_STATES + _COUNTRIES, key=len, reverse=True)
_ADJECTIVES = {
    "English": "England", "Swiss": "Switzerland", "German": "Germany", "French": "France",
    "Israeli": "Israel", "Dutch": "Netherlands", "Irish": "Ireland", "Japanese": "Japan",
    "Chinese": "People's Republic of China", "Singaporean": "Singapore", "Italian": "Italy",
    "Spanish": "Spain", "Swedish": "Sweden", "Belgian": "Belgium", "Canadian": "Canada",
    "Scottish": "Scotland", "Luxembourg": "Luxembourg", "Cypriot": "Cyprus",
}  # fmt: skip
_PLACE_RE = "|".join(re.escape(p) for p in PLACES)
_LAWS_OF = re.compile(
    r"\blaws?\s+(?:and\s+\w+\s+)?(?:in force\s+)?(?:of|in)\s+(?:the\s+)?"
    r"(?:(?:State|Commonwealth|Province|Republic|Kingdom|Federal Republic)\s+of\s+)?"
    rf"(?P<place>{_PLACE_RE})\b",
    re.I,
)
_PLACE_LAW = re.compile(
    rf"\b(?P<place>{_PLACE_RE}|{'|'.join(_ADJECTIVES)})\s+(?:substantive\s+)?law\b", re.I
)
_INCORPORATION = re.compile(
    r"(?:incorporated|organi[sz]ed|existing|formed|registered|established|chartered|"
    r"a\s+\w+\s+(?:corporation|company))\W+(?:\w+\W+){0,4}$",
    re.I,
)
_CISG = re.compile(
    r"United Nations Convention on Contracts? for the International Sale of Goods|CISG"
)
_CISG_EXCLUDED = re.compile(r"not apply|shall not|excluded|exclusion|disclaim|will not", re.I)
_GOVERNS = re.compile(r"govern|constru|interpret|enforced|applicable law|laws? applicable", re.I)


def law_adjective(place: str, passage: str) -> str | None:
    """The adjective ``passage`` names ``place``'s law with ("English" in "governed by
    English law" for England), when it does not write the place's name."""
    if re.search(rf"\b{re.escape(place)}\b", passage, re.I):
        return None
    for adjective, name in _ADJECTIVES.items():
        if name == place and re.search(rf"\b{adjective}\s+(?:substantive\s+)?law\b", passage, re.I):
            return adjective
    return None


def _canonical_place(name: str) -> str:
    if name.capitalize() in _ADJECTIVES or name in _ADJECTIVES:
        return _ADJECTIVES.get(name, _ADJECTIVES.get(name.capitalize(), name))
    found = next((p for p in PLACES if p.lower() == name.lower()), name)
    return found.removeprefix("the ")


def governing_laws(passage: str) -> tuple[list[str], int] | None:
    """The jurisdictions a choice-of-law passage names, in order, and its strength."""
    text = prepare(passage)
    found: list[tuple[int, str]] = []
    for pattern in (_LAWS_OF, _PLACE_LAW):
        for m in pattern.finditer(text):
            if _INCORPORATION.search(text[max(0, m.start() - 60) : m.start()]):
                continue
            found.append((m.start(), _canonical_place(m.group("place"))))
    cisg = _CISG.search(text)
    if cisg and not _CISG_EXCLUDED.search(text[cisg.start() - 80 : cisg.end() + 80]):
        found.append(
            (
                cisg.start(),
                "United Nations Convention on Contracts for the International Sale of Goods",
            )
        )
    places = list(dict.fromkeys(p for _, p in sorted(found)))
    if "England and Wales" in places:
        places = [p for p in places if p not in ("England", "Wales")]
    if not places:
        return None
    return places, 3 if _GOVERNS.search(text) else 1


# -- parties -------------------------------------------------------------------------
_ANCHOR = re.compile(r"\b(?:by\s+and\s+)?(?:between|among)\s*:?\s+", re.I)
_DEFINED = re.compile(
    r"\(\s*(?:[a-z][a-z\s]{0,80}?,?\s+)?(?:the\s+|hereinafter\s+(?:referred\s+to\s+as\s+|called\s+(?:as\s+)?)?|each\s+a\s+)?"
    r"\"(?P<term>[^\"]{1,60})\"[^()]{0,120}\)"
    r"|(?:hereinafter|hereafter)\s+(?:referred\s+to\s+as\s+|called\s+(?:as\s+)?)?\"(?P<term2>[^\"]{1,60})\"",
    re.I,
)
_NAME_END = re.compile(
    r",\s*(?:a|an|the|whose|located|organi[sz]ed|incorporated (?:in|under)|represented|acting|"
    r"together|on behalf|its|doing business)\b|,?\s+(?:having|with|located|organi[sz]ed|"
    r"incorporated (?:in|under)|represented by|whose|a company|a corporation)\b|\s\d{2,}\s|"
    r"\s+\(\s*(?:hereinafter|the)\b",
    re.I,
)
#: Where the next party starts in the text after a defined term: after "and"
#: at the start, or after an address / description that ends in , ; . ) or a digit.
_NEXT_PARTY = re.compile(
    r"(?:^[\s,;]*|[,;.)\d]\s*)(?:and|AND|And)\b(?!/)\s*:?\s*|\bParty\s+[A-Z]\s*:\s*"
)
#: Else the last "and" before a capitalised word: "(“Allscripts”) on behalf of itself and its
#: Affiliates and Phreesia, Inc.".
_AND_NAME = re.compile(r"\s(?:and|AND|And)\s+(?=[A-Z0-9])")
#: A label before a party's name: "Party A:", "Parties to this agreement".
_LABEL = re.compile(
    r"^(?:Party\s+[A-Z]\s*:|(?:the\s+)?parties(?:\s+to\s+this\s+agreement)?\s*:?)\s*", re.I
)
_GROUP = re.compile(
    r"collectively|individually|each\s+(?:a|of)\b|referred to as (?:the )?\"?part", re.I
)
_SUFFIXED = re.compile(
    r"(?:[A-Z0-9][\w&.'/-]*,?\s+){0,6}?(?:[A-Z0-9][\w&.'/-]*),?\s+(?:Inc|Incorporated|Corp|"
    r"Corporation|LLC|L\.L\.C|Ltd|Limited|Co\.,?\s+Ltd|Company|LP|L\.P|plc|PLC|GmbH|AG|S\.A|SA|"
    r"B\.V|N\.V|N\.A|S\.A\.S)\b\.?"
)


#: The same, "&" allowed between the words ("Physician Sales & Service, Inc.").
_SUFFIXED_AMP = re.compile(
    _SUFFIXED.pattern.replace(
        r"(?:[A-Z0-9][\w&.'/-]*,?\s+)", r"(?:(?:[A-Z0-9][\w&.'/-]*|&),?\s+)", 1
    )
)


def _name_of(segment: str) -> str | None:
    segment = re.sub(r"^[\s,;:]*(?:and|&)?[\s,;:]*(?:\(\w\)|\d\.)?\s*", "", segment)
    segment = _LABEL.sub("", segment)
    if not segment or _GROUP.search(segment):
        return None
    end = _NAME_END.search(segment)
    name = segment[: end.start()] if end else segment
    name = _DATED.sub("", name).strip(' ,;:"')
    if len(name) > 90 or re.search(r"agreement", name, re.I):
        suffixed = list(_SUFFIXED_AMP.finditer(name))
        name = suffixed[-1].group(0).strip(" ,") if suffixed else ""
    return name if re.search(r"[A-Za-z]{2}", name) else None


def parties(passage: str) -> tuple[list[tuple[str, str | None]], int] | None:
    """[(legal name, defined term)] of a preamble, and the strength."""
    text = prepare(passage)
    anchor = _ANCHOR.search(text)
    start = anchor.end() if anchor else 0
    window = text[start : start + 1500]
    out: list[tuple[str, str | None]] = []
    cursor = 0
    for m in _DEFINED.finditer(window):
        segment = window[cursor : m.start()]
        cursor = m.end()
        if out:
            after = _next_party(segment)
            if after is None:  # a second defined term of the same party
                continue
            segment = segment[after:]
        name = _name_of(segment)
        if name is None:
            if out:
                break
            continue
        out.append((name, m.group("term") or m.group("term2")))
        if re.match(r"\s*[.]", window[cursor:]):
            break
    tail = re.match(r"[\s,]*(?:and|AND|And)\s+(?=[A-Z0-9])", window[cursor:]) if out else None
    if tail is not None:  # "... (the "Sponsor") and ACM.": a last party without a defined term
        last = _name_of(re.split(r"\.(?:\s|$)", window[cursor + tail.end() :][:200])[0])
        if last and _proper(last):
            out.append((last, None))
    defined = len(out) >= 2  # each party named with its defined term
    if len(out) < 2 and anchor:
        names = [_name_of(s) for s in re.split(r"\s+and\s+", window[:400], maxsplit=1, flags=re.I)]
        if all(names) and len(names) == 2:
            out = [(n, None) for n in names if n]
    out = [(trimmed, t) for n, t in out if (trimmed := _trim_name(n))]
    out = list(dict.fromkeys((_legal_name(n, text), t) for n, t in _listed(out, text)))
    if not out:
        return None
    strength = 3 if anchor and len(out) >= 2 else 2 if len(out) >= 2 else 1
    if strength == 3 and defined:
        strength = 4  # a preamble's "A ("X") and B ("Y")", firmer than a title's "between A and B"
    if not all(_proper(n) for n, _ in out):
        strength = 1  # "between the Owner and the Licensee": a later reference, not the preamble
    return out, strength


def _next_party(segment: str) -> int | None:
    """Where the next party's name starts in the text after a defined term: the
    last "and" after punctuation that a name follows, else the last "and" before
    a capitalised word ("..., United Kingdom and CERES, INC.")."""
    for pattern in (_NEXT_PARTY, _AND_NAME):
        for m in reversed(list(pattern.finditer(segment))):
            if _name_of(segment[m.end() :]) and _trim_name(_name_of(segment[m.end() :]) or ""):
                return m.end()
    return None


def _last(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text):  # noqa: B007  (the last one is kept)
        pass
    return found


def _listed(found: list[tuple[str, str | None]], text: str) -> list[tuple[str, str | None]]:
    """Names split where a list joins parties named by their defined terms ("among
    PSS, PSS Merger Corp. ("Merger Corp.") and GSMS": "PSS" is defined earlier)."""
    out: list[tuple[str, str | None]] = []
    for name, term in found:
        first, _, rest = name.partition(", ")
        suffix = re.fullmatch(
            r"(?:inc|incorporated|corp|corporation|co|company|ltd|limited|llc|"
            r"l\.l\.c|lp|l\.p|plc|gmbh|ag|s\.?a|b\.?v|n\.?v)\.?",
            rest.strip().lower(),
        )
        if (
            rest
            and not suffix
            and _proper(rest)
            and re.search(rf"\(\s*(?:the\s+)?\"{re.escape(first)}\"", text)
        ):
            out += [(first, None), (rest, term)]
        else:
            out.append((name, term))
    return out


def _legal_name(name: str, text: str) -> str:
    """The legal name of a party named by its defined term ("... between Shun Li De
    Commerce & Trading Ltd ("SLD") and ACM", where "American Champion Media, Inc.
    ("ACM")" comes earlier): the suffixed name written before that term."""
    defined = re.search(rf"\(\s*(?:the\s+)?\"{re.escape(name)}\"", text)
    if defined is None or len(name.split()) > 2:
        return name
    before = text[max(0, defined.start() - 120) : defined.start()]
    suffixed = _last(_SUFFIXED_AMP, before)
    if suffixed is None or before[suffixed.end() :].strip(" ,"):
        return name
    return re.sub(r"^.*\b(?:19|20)\d{2},?\s+(?=[A-Z])", "", suffixed.group(0)).strip(" ,")


#: Connectors a name holds but cannot end with ("Bank of America", "Shun Li De Commerce").
_CONNECTING = frozenset(
    ("of", "and", "&", "for", "de", "du", "des", "la", "le", "del", "der", "van", "von", "y",
     "e", "und", "the")
)  # fmt: skip
#: Lower-case words a name may hold: connectors and lower-case company suffixes.
_NAME_CONNECTORS = _CONNECTING | frozenset(
    ("plc", "inc", "inc.", "ltd", "ltd.", "llc", "co", "co.", "corp", "corp.", "gmbh", "a.s",
     "a.s.", "s.a", "s.a.", "b.v.", "n.v.", "s.r.l.", "s.p.a.")
)  # fmt: skip
_SUFFIX_WORD = re.compile(
    r"(?:inc|ltd|llc|l\.l\.c|corp|plc|gmbh|limited|incorporated|corporation)\.?"
)
_DATED = re.compile(r"\s+(?:dated|effective)\b.*$", re.I | re.S)


def _word_starts_name(word: str) -> bool:
    """ "Acme", "551", "eFashion", "theglobe.com" — not "records" or "a.s."."""
    core = word.strip("().,;:\"“”'")
    return bool(core) and (
        core[0].isupper() or core[0].isdigit() or bool(re.search(r"[A-Z]|\.com\b", core))
    )


def _trim_name(name: str) -> str | None:
    """The legal name without the sentence that runs on after it ("Jaguar
    Investments, Inc. and its affiliates", "551 FX IB Associates, LLC a
    Delaware ...", "... LTD Dated as of ..."); None when it is no name at all
    ("records office at", "the company set forth below")."""
    words = _DATED.sub("", name).split()
    if not words or not _word_starts_name(words[0]):
        return None
    kept: list[str] = []
    for word in words:
        if kept and kept[-1].endswith(",") and _SUFFIX_WORD.fullmatch(kept[-1].lower().strip(",")):
            break  # "DR. GAETANO MORELLO N.D. INC., Businessperson"
        bare = word.lower().strip(",;:")
        if (
            not _word_starts_name(word)
            and bare not in _NAME_CONNECTORS
            and re.search(r"[a-z]", bare)
        ):
            break
        kept.append(word)
    while kept and (kept[-1].lower().strip(",.") in _CONNECTING or not re.search(r"\w", kept[-1])):
        kept.pop()
    trimmed = " ".join(kept).strip(" ,;:")
    return trimmed if re.search(r"[A-Za-z]{2}", trimmed) else None


def _proper(name: str) -> bool:
    """Not a later reference to a party ("the Owner", "any of the Suppliers")."""
    return not re.match(r"(?:the|any|such|each|said|all)\s", name)


# -- cap on liability ----------------------------------------------------------------
_CAP_FORMULA = re.compile(
    r"(?:(?:exceed|to|of|than|limited to|capped at)\s+)(?P<f>(?:the\s+)?(?:(?:total|aggregate|amount|"
    r"sum|greater|lesser)\b[^.;]{0,40}?\b)?(?:fees?|amounts?|charges?|payments?|consideration|price)"
    r"\b[^.;]{0,240})",
    re.I,
)
_AMOUNT = re.compile(
    r"(?:US\$|U\.S\.\s?\$|\$|USD\s?|EUR\s?|€|£|GBP\s?)\s?\d{1,3}(?:,\d{3})+(?:\.\d+)?"
    r"(?:\s*(?:million|billion|thousand))?|(?:US\$|\$|USD\s?|EUR\s?|€|£)\s?\d+(?:\.\d+)?"
    r"(?:\s*(?:million|billion|thousand))?",
    re.I,
)


def cap_formula(passage: str) -> tuple[str, int] | None:
    """The cap's formula ("fees paid ... in the twelve (12) months preceding the
    claim") or amount, and the strength."""
    text = prepare(passage)
    formula = _CAP_FORMULA.search(text)
    if formula and re.search(
        r"month|year|agreement|order|claim|hereunder|event", formula.group("f"), re.I
    ):
        return re.split(r",\s+(?:and|or|but|provided|except)\b", formula.group("f"))[0].strip(
            " ,"
        ), 3
    amount = _AMOUNT.search(text)
    return (amount.group(0).strip(), 2) if amount else None


# -- document name -------------------------------------------------------------------
_UPPER_RUN = re.compile(
    r"(?:\b[A-Z0-9][A-Z0-9&'.,/()-]*|\s-)(?:\s+(?:[A-Z0-9][A-Z0-9&'.,/()-]*|-))*"
)
_TITLE_WORD = re.compile(r"^(?:AGREEMENT|CONTRACT|AMENDMENT|LICENSE|LEASE)[,.]?$")
_BOILERPLATE = re.compile(
    r"^(?:EXHIBIT\s+[\w.()-]+\s+|CONFIDENTIAL\s+|EXECUTION\s+(?:VERSION|COPY)\s+)+"
)
_MIXED_TITLE = re.compile(
    r"\b[Tt]his\s+(?P<t>(?:[A-Z][\w-]*\s+|-\s+|(?:and|of|for|to)\s+){0,8}?(?:Agreement|Contract|Amendment))\b"
)


def document_name(passage: str) -> tuple[str, int] | None:
    """The instrument's title: the first upper-case run naming an agreement
    ("WEBSITE CONTENT LICENSE AGREEMENT"), else "This <Title> Agreement"."""
    text = prepare(passage)
    for m in _UPPER_RUN.finditer(text):
        words = re.split(r"\s+(?=THIS\b)", m.group(0))[0].split()
        keys = [i for i, w in enumerate(words) if _TITLE_WORD.match(w)]
        if not keys or (len(words) < 2 and words[0].startswith("AGREEMENT")):
            continue
        title = " ".join(words[max(0, keys[0] - 7) : keys[-1] + 6]).strip(" ,-")
        title = _BOILERPLATE.sub("", title)
        if len(title.split()) >= 2:
            return title, 3
    mixed = _MIXED_TITLE.search(text)
    return (" ".join(mixed.group("t").split()), 2) if mixed else None
