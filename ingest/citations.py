"""Citations in a document, found by the Free Law Project's ``eyecite``.

:func:`extract_citations` reads the whole document at once (so ``Id.``,
short forms and ``supra`` resolve across pages) and reports every case,
statute, regulation and journal citation with the page it is on and its
character offsets in that page's text: ``pages[page-1].text[start:end] ==
text`` (a citation cut by a page break is skipped, never mis-placed). Each
citation carries its pin cite, parenthetical, case name and year where the
text gives them, the authority it resolves to ("volume reporter page", as
reporters-db writes the reporter), the parallel citations written beside it,
the sentence that cites it (verbatim, on its page) and a lexical treatment
signal read from that sentence (:data:`TREATMENTS`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from eyecite import get_citations, resolve_citations
from eyecite.models import (
    FullCaseCitation,
    FullJournalCitation,
    FullLawCitation,
    IdCitation,
    ReferenceCitation,
    ShortCaseCitation,
    SupraCitation,
)

from core.types import Page
from knowledge_base.citation_graph import CitationRef, OpinionPart

__all__ = ["TREATMENTS", "extract_citations", "normalise_authority", "treatment_of"]

log = logging.getLogger(__name__)
# eyecite logs citation text and case names at WARNING ("Unknown overlap case.
# Last cite: ..."): document text must not reach the logs.
logging.getLogger("eyecite").setLevel(logging.ERROR)

_SEP = "\n\n"

#: Strongest first: a sentence that overrules and cites is "overruled".
TREATMENTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in (
        ("overruled", r"\boverrul(?:e|ed|es|ing)\b|\bno longer (?:good|the) law\b"),
        ("abrogated", r"\babrogat(?:e|ed|es|ing)\b|\bsuperseded by (?:statute|rule)\b"),
        (
            "questioned",
            r"\bquestion(?:s|ed|ing)? (?:the )?(?:validity|soundness|continuing|vitality)\b"
            r"|\bcall(?:s|ed)? into (?:question|doubt)\b|\bcast(?:s|ing)? doubt\b|\bdoubtful\b",
        ),
        ("criticized", r"\bcriticiz(?:e|ed|es|ing)\b|\bdisapprov(?:e|ed|es|ing)\b"),
        ("limited", r"\blimit(?:ed|s|ing)? (?:\w+ )?to its (?:own )?facts\b"),
        (
            "distinguished",
            r"\bdistinguish(?:ed|es|ing|able)?\b|\binapposite\b|\bnot controlling\b"
            r"|\bunlike (?:in )?\b|\bdiffers? from\b",
        ),
        (
            "followed",
            r"\bfollow(?:ed|ing|s)?\b|\badhere[ds]? to\b|\breaffirm(?:ed|s|ing)?\b"
            r"|\bcontrolled by\b|\bis controlling\b|\bas we (?:held|said|stated|explained)\b"
            r"|\bwe (?:have )?(?:held|recognized|approved)\b|\bin accord(?:ance)? with\b",
        ),
    )
)
_PASSIVE = re.compile(r"\b(?:was|were|been|is|are|be|being)\s+(?:\w+ly\s+)?$", re.I)
_NEGATION = re.compile(
    r"(?:\bnot|n't|\bdecline[sd]? to|\brefuse[sd]? to|\bnever)\s+(?:\w+\s+){0,2}$", re.I
)

# Sentence ends: [.?!] (and closing quotes) then space and a capital/quote,
# unless the word before is an abbreviation common in legal text.
_BOUNDARY = re.compile(r"[.?!][\"”’')\]]*\s+(?=[\"“‘(\[]?[A-Z0-9])")
_ABBREV = re.compile(
    r"(?:\b(?:v|vs|al|Id|id|Ibid|No|Nos|Co|Corp|Inc|Ltd|Mr|Mrs|Ms|Dr|St|Ct|App|Ark|Ann|Stat|"
    r"Gen|Supp|Rev|Cir|Dist|Div|Cal|Civ|Crim|Proc|Evid|Const|Art|art|cl|ch|pt|seq|cf|Cf|e\.g|"
    r"i\.e|U\.S|J|JJ|C\.J|P|S\.W|N\.E|N\.W|S\.E|S\.Ct|L\.Ed|F|So|Pa|Tex|Mo|N\.C|Okla|La|Ga)"
    r"|\b[A-Z])\.$"
)


def normalise_authority(text: str) -> str | None:
    """'288 ark 37' / '200 U. S. 321' -> '288 Ark. 37' / '200 U.S. 321'; None
    when eyecite finds no full citation in ``text``."""
    for variant in (text, re.sub(r"\b[a-z]", lambda m: m.group(0).upper(), text)):
        for cite in get_citations(variant):
            if isinstance(cite, FullCaseCitation | FullLawCitation | FullJournalCitation):
                return _authority(cite)
    return None


def _authority(cite: Any) -> str | None:
    try:
        corrected = cite.corrected_citation()
    except Exception:  # a reporter variant reporters-db cannot map
        corrected = cite.matched_text()
    return re.sub(r"\s+", " ", corrected).strip() or None


def _form(cite: Any) -> str | None:
    if isinstance(cite, FullCaseCitation):
        return "full"
    if isinstance(cite, ShortCaseCitation):
        return "short"
    if isinstance(cite, IdCitation):
        return "id"
    if isinstance(cite, SupraCitation):
        return "supra"
    if isinstance(cite, ReferenceCitation):
        return "reference"
    if isinstance(cite, FullLawCitation):
        reporter = str(cite.groups.get("reporter", ""))
        return "regulation" if re.search(r"C\.\s?F\.\s?R|Fed\.\s?Reg", reporter) else "statute"
    if isinstance(cite, FullJournalCitation):
        return "journal"
    return None  # UnknownCitation: a bare "§" and the like


def _sentence_bounds(
    text: str, start: int, end: int, masks: list[tuple[int, int]]
) -> tuple[int, int]:
    """The sentence around text[start:end]; boundaries inside a citation
    (``masks``) or after an abbreviation do not count."""
    lo, hi = max(0, start - 1200), min(len(text), end + 800)

    def is_boundary(m: re.Match[str]) -> bool:
        p = m.start()
        if any(a <= p < b for a, b in masks):
            return False
        word = (
            text[max(lo, p - 12) : p + 1].split()[-1]
            if text[max(lo, p - 12) : p + 1].split()
            else ""
        )
        return not _ABBREV.search(word)

    s, e = lo, hi
    for m in _BOUNDARY.finditer(text, lo, hi):
        if not is_boundary(m):
            continue
        if m.end() <= start:
            s = m.end()
        elif m.start() >= end - 1:
            e = m.start() + 1
            break
    para = text.rfind("\n\n", s, start)
    s = para + 2 if para != -1 else s
    para = text.find("\n\n", end, e)
    e = para if para != -1 else e
    return s, e


def treatment_of(
    sentence: str, cite: tuple[int, int], others: Sequence[tuple[int, int]] = ()
) -> str:
    """The strongest treatment word in ``sentence`` that belongs to this
    citation (span ``cite`` in the sentence); "cited" if none.

    A word belongs to the first citation that starts within 60 characters
    after it ("overruling Smith v. Jones, ..."), else to the nearest citation
    that ends before it ("Smith v. Jones, ..., was overruled"); a negated
    word ("should not be overruled") belongs to none."""
    spans = sorted([cite, *others])
    for name, pattern in TREATMENTS:
        for m in pattern.finditer(sentence):
            if _NEGATION.search(sentence[max(0, m.start() - 40) : m.start()]):
                continue
            passive = bool(_PASSIVE.search(sentence[max(0, m.start() - 30) : m.start()]))
            if _owner(spans, m.start(), m.end(), passive) == cite:
                return name
    return "cited"


def _owner(
    spans: list[tuple[int, int]], start: int, end: int, passive: bool = False
) -> tuple[int, int] | None:
    after = [s for s in spans if end <= s[0] <= end + 60]
    before = [s for s in spans if s[1] <= start + 1]
    if passive and before:  # "Smith, ..., was overruled in Jones": Smith
        return before[-1]
    if after:
        return after[0]
    before = [s for s in spans if s[1] <= start + 1 or s[0] <= start < s[1]]
    return before[-1] if before else (spans[0] if spans else None)


class _Pages:
    def __init__(self, pages: Sequence[Page]) -> None:
        self.pages = list(pages)
        self.starts, pos = [], 0
        for page in self.pages:
            self.starts.append(pos)
            pos += len(page.text) + len(_SEP)
        self.text = _SEP.join(p.text for p in self.pages)

    def locate(self, start: int, end: int) -> tuple[int, int, int] | None:
        """(index, local start, local end), or None when the span crosses pages."""
        for i in range(len(self.starts) - 1, -1, -1):
            if self.starts[i] <= start:
                a, b = start - self.starts[i], end - self.starts[i]
                return (i, a, b) if b <= len(self.pages[i].text) else None
        return None


def extract_citations(
    pages: Sequence[Page], parts: Sequence[OpinionPart] = ()
) -> list[CitationRef]:
    """Every citation in ``pages`` (see the module docstring), in reading order."""
    doc = _Pages(pages)
    cites = [c for c in get_citations(doc.text) if _form(c) is not None]
    resolved: dict[int, Any] = {}
    for resource, members in resolve_citations(cites).items():
        target = getattr(resource, "citation", None)
        for member in members:
            resolved[id(member)] = target
    masks = [c.full_span() for c in cites]
    refs: list[CitationRef] = []
    previous: tuple[Any, CitationRef] | None = None
    for cite in cites:
        ref = _ref(doc, cite, resolved.get(id(cite)), masks, cites, parts)
        if ref is None:
            continue
        if previous is not None and _parallel(doc.text, previous[0], cite):
            previous[1].parallels.append(ref.authority or "")
            ref.parallels.append(previous[1].authority or "")
        refs.append(ref)
        previous = (cite, ref) if ref.form == "full" else None
    _resolve_supra_by_name(doc, refs)
    _unify_parallel_treatment(refs)
    return refs


_STRENGTH = {name: i for i, (name, _) in enumerate(TREATMENTS)}


def _unify_parallel_treatment(refs: list[CitationRef]) -> None:
    """Parallel citations of one case in one sentence get the strongest
    treatment any of them got."""
    groups: dict[tuple[str, int, str], list[CitationRef]] = {}
    for ref in refs:
        if ref.form == "full" and ref.authority:
            key = min([ref.authority, *ref.parallels]), ref.page, ref.sentence
            groups.setdefault(key, []).append(ref)
    for members in groups.values():
        best = min(members, key=lambda r: _STRENGTH.get(r.treatment, len(_STRENGTH)))
        for ref in members:
            ref.treatment = best.treatment


def _resolve_supra_by_name(doc: _Pages, refs: list[CitationRef]) -> None:
    """``the Clayborn decision, supra``: eyecite guesses the antecedent from the
    word before "supra"; failing that, a party name of an earlier full
    citation in the 60 characters before it resolves it."""
    names: dict[str, str] = {}
    for ref in refs:
        if ref.form == "full" and ref.authority and ref.case_name:
            for party in ref.case_name.split(" v. "):
                word = party.split(",")[0].split()[0] if party.split() else ""
                if len(word) > 2 and word[0].isupper():
                    names.setdefault(word, ref.authority)
        if ref.form in ("supra", "reference") and ref.authority is None:
            page_text = next(p.text for p in doc.pages if p.number == ref.page)
            before = page_text[max(0, ref.start - 60) : ref.start]
            hits = [
                (m.end(), authority)
                for word, authority in names.items()
                for m in re.finditer(rf"\b{re.escape(word)}\b", before)
            ]
            if hits:
                ref.authority = max(hits)[1]  # the name nearest to "supra"


def _parallel(text: str, a: Any, b: Any) -> bool:
    """b is a parallel citation of a: both full case citations of one case
    name, separated by a comma (and a pin cite) only."""
    if not (isinstance(a, FullCaseCitation) and isinstance(b, FullCaseCitation)):
        return False
    gap = text[a.span()[1] : b.span()[0]]
    same = (a.metadata.plaintiff, a.metadata.defendant) == (
        b.metadata.plaintiff,
        b.metadata.defendant,
    )
    return same and bool(re.fullmatch(r"(?:,\s*(?:at\s+)?[\d\-–, n.]*)?,\s*", gap))


def _ref(
    doc: _Pages,
    cite: Any,
    target: Any,
    masks: list[tuple[int, int]],
    cites: list[Any],
    parts: Sequence[OpinionPart],
) -> CitationRef | None:
    start, end = cite.span()
    where = doc.locate(start, end)
    if where is None:
        return None
    index, a, b = where
    form = _form(cite)
    assert form is not None
    if form in ("full", "statute", "regulation", "journal"):
        authority = _authority(cite)
    else:
        authority = _authority(target) if target is not None else None
    meta = cite.metadata
    s, e = _sentence_bounds(doc.text, start, end, masks)
    s, e = _evidence_span(doc.text, s, e, masks, start)
    page_start = doc.starts[index]
    s, e = max(s, page_start), min(e, page_start + len(doc.pages[index].text))
    sentence = doc.text[s:e]
    others = [
        (c.full_span()[0] - s, c.full_span()[1] - s)
        for c in cites
        if c is not cite and s <= c.span()[0] < e
    ]
    mine = (max(cite.full_span()[0], s) - s, cite.full_span()[1] - s)
    page = doc.pages[index].number
    part = None
    for p in parts:
        if (p.page, p.start) <= (page, a):
            part = p.part
    return CitationRef(
        form=form,
        authority=authority,
        page=page,
        start=a,
        end=b,
        text=doc.pages[index].text[a:b],
        pin=getattr(meta, "pin_cite", None),
        parenthetical=getattr(meta, "parenthetical", None),
        case_name=_case_name(meta, target),
        year=getattr(meta, "year", None)
        or getattr(getattr(target, "metadata", None), "year", None),
        treatment=treatment_of(sentence, mine, others),
        sentence=sentence.strip(),
        part=part,
    )


def _evidence_span(
    text: str, s: int, e: int, masks: list[tuple[int, int]], start: int
) -> tuple[int, int]:
    """A sentence that is only citations ("Troxell v. Sandusky, 247 Ark. 898
    (1969).") states no proposition: the sentence before it is added."""
    rest = text[s:e]
    for a, b in masks:
        if s <= a < e:
            rest = rest.replace(text[a:b], " ")
    if len(re.findall(r"[A-Za-z]{3,}", rest)) >= 6 or s == 0:
        return s, e
    prev_s, _ = _sentence_bounds(text, max(0, s - 2), max(0, s - 1), masks)
    return (prev_s if prev_s < s and s - prev_s < 800 else s), e


def _case_name(meta: Any, target: Any) -> str | None:
    for m in (meta, getattr(target, "metadata", None)):
        plaintiff, defendant = getattr(m, "plaintiff", None), getattr(m, "defendant", None)
        if plaintiff and defendant:
            plaintiff = re.sub(
                r"^(?:In|See|See also|But see|Cf\.|Accord),?\s+",
                "",
                plaintiff.split("\n")[-1].strip(),
            )
            return re.sub(r"\s+", " ", f"{plaintiff} v. {defendant}")
        if getattr(m, "resolved_case_name", None):
            return str(m.resolved_case_name)
    return None
