"""What a document is, and for a court opinion, what the text says about it.

:func:`detect_kind` scores cue phrases on the opening pages and the last
page: ``opinion``, ``brief`` (briefs, motions, notices and other filings),
``contract``, ``report``, else ``other``.

:func:`opinion_profile` reads an opinion's caption (the text before the
majority opinion begins): case name and parties, court (normalised with the
Free Law Project's courts-db: id and name), decision date (ISO), docket
number, judges, the author, the disposition and the opinion's own official
citations where the caption prints them. Nothing is guessed that the text does
not state: a field the caption lacks is None.

:func:`opinion_parts` finds where the syllabus/headnotes, the majority and
each concurrence or dissent begin; :func:`label_chunks` splits a chunk that
straddles such a boundary and puts the part's label first in each chunk's
heading path, so a dissent is never presented as the holding.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from itertools import pairwise

from eyecite import get_citations
from eyecite.models import FullCaseCitation

from core.types import Chunk, Document, Page, chunk_id
from knowledge_base.citation_graph import DOCUMENT_KINDS, DocumentProfile, OpinionPart

__all__ = [
    "court_name",
    "detect_kind",
    "label_chunks",
    "normalise_court",
    "opinion_parts",
    "opinion_profile",
]

_CUES: dict[str, tuple[tuple[str, int], ...]] = {
    "opinion": (
        (r"delivered the opinion|opinion delivered|opinion of the court|\bper curiam\b", 3),
        (r"\b(?:supreme court|court of appeals?|court of criminal appeals)\b", 1),
        (r"\b(?:affirmed|reversed|remanded|vacated)\b", 1),
        (r"\b[A-Z][a-z]+, (?:C\. ?)?J\.|\bJustice [A-Z]|\bJUSTICE [A-Z]", 1),
        (r"\b(?:appellant|appellee|petitioner|respondent)s?\b", 1),
    ),
    "brief": (
        (r"\bbrief (?:for|of)\b|\brespectfully submitted\b|\bcounsel of record\b", 3),
        (r"\bnotice of (?:appeal|docketing|appearance)\b|\bdocketing notice\b", 3),
        (r"\bmotion (?:to|for)\b|\bpetition for\b|\bcertificate of service\b", 2),
    ),
    "contract": (
        (r"\bagreement\b", 1),
        (r"\bwhereas\b|\bin witness whereof\b|\bhereinafter\b|\bthe parties agree\b", 3),
        (r"\bshall\b", 1),
    ),
    "report": (
        (
            r"\bform (?:10-[kq]|8-k|20-f)\b|\bannual report\b|\bsecurities and exchange commission\b",
            3,
        ),
        (r"\bfiscal (?:year|quarter)\b|\bconsolidated (?:balance sheets?|statements?)\b", 2),
        # earnings releases: "reports second-quarter 2023 results", EPS, guidance
        (
            r"\b(?:quarter|full[- ]year)\b[^.\n]{0,40}\bresults\b|\bearnings per (?:diluted )?share\b",
            2,
        ),
        (r"\bnet (?:sales|revenues?|income)\b|\boperating (?:income|margin)\b|\bguidance\b", 1),
    ),
}
_CUE_RES = {k: [(re.compile(p, re.I), w) for p, w in v] for k, v in _CUES.items()}


def detect_kind(document: Document) -> str:
    """One of :data:`~knowledge_base.citation_graph.DOCUMENT_KINDS`."""
    pages = document.pages
    text = "\n".join(p.text for p in [*pages[:3], *pages[-1:]])[:20000]
    scores = {
        kind: sum(w * min(len(r.findall(text)), 3) for r, w in cues)
        for kind, cues in _CUE_RES.items()
    }
    citations = len(
        re.findall(r"\b\d{1,4} (?:[A-Z][A-Za-z.]*\s?){1,4}(?:2d|3d|4th)? \d{1,5}\b", text)
    )
    scores["opinion"] += 2 if citations >= 3 else 0
    kind, score = max(scores.items(), key=lambda kv: kv[1])
    return kind if score >= 5 and kind in DOCUMENT_KINDS else "other"


# -- parts ------------------------------------------------------------------------
_MAJORITY = re.compile(
    r"(?m)^[ \t]*(?:"
    r"(?P<a1>(?:Mr\. )?(?:Chief )?(?:JUSTICE|Justice|CHIEF JUSTICE) [A-Z][A-Za-z'\-]+)\s*(?:\n\s*)?"
    r"delivered the opinion"
    r"|(?P<a2>[A-Z][A-Za-z.' \-]{1,40}?), (?:Chief |Associate )?Justice\.[ \t]*$"
    r"|(?P<a3>[A-Z][A-Za-z'\-]+), (?:C\. ?)?J\.,? delivered the opinion"
    r"|(?P<pc>PER CURIAM|Per Curiam)\.?"
    r"|(?P<oc>Opinion of the Court|OPINION(?: OF THE COURT)?)[ \t]*$"
    r")"
)
_SEPARATE = re.compile(
    r"(?m)^[ \t]*(?P<who>(?:Mr\. )?(?:CHIEF )?(?:JUSTICE|Justice) [A-Z][A-Za-z'\-]+"
    r"|[A-Z][A-Za-z.' \-]{1,40}?, (?:Chief |Associate )?Justice"
    r"|[A-Z][A-Za-z'\-]+, (?:C\. ?)?J\.)"
    r"(?:,? with whom [^\n]{0,240}? joins?)?,?\s*(?:\n\s*)?"
    r"(?P<kind>dissenting|concurring)\b"
)
_SYLLABUS = re.compile(r"(?m)^[ \t]*(?:Syllabus|SYLLABUS|HEADNOTES?|Headnotes?)[ \t]*$")


def _flat(pages: Sequence[Page]) -> tuple[str, list[int]]:
    starts, pos = [], 0
    for p in pages:
        starts.append(pos)
        pos += len(p.text) + 2
    return "\n\n".join(p.text for p in pages), starts


def _at(pages: Sequence[Page], starts: list[int], offset: int) -> tuple[int, int]:
    i = max(j for j, s in enumerate(starts) if s <= offset)
    return pages[i].number, min(offset - starts[i], len(pages[i].text))


def _name(who: str | None) -> str | None:
    if not who:
        return None
    who = re.sub(r"^(?:Mr\. )?(?:CHIEF |Chief )?(?:JUSTICE|Justice)\s+", "", who.strip())
    who = re.sub(r",\s*(?:Chief |Associate )?(?:Justice|C\. ?J\.|J\.)$", "", who)
    return who.strip(" ,.").title() if who.isupper() else who.strip(" ,.")


def opinion_parts(pages: Sequence[Page]) -> list[OpinionPart]:
    """Where each part begins, in reading order (empty for a non-opinion)."""
    text, starts = _flat(pages)
    found: list[tuple[int, str, str | None]] = []
    major = _MAJORITY.search(text)
    major_at = major.start() if major else 0
    syllabus = _SYLLABUS.search(text, 0, max(major_at, 1))
    if major is not None and (syllabus is not None or major_at > 1500):
        # The reporter's summary: "Syllabus" (US Reports) or, unheaded, headnotes.
        found.append(
            (syllabus.start() if syllabus else 0, "syllabus", None if syllabus else "headnotes")
        )
    if (found and found[0][0] > 0) or (not found and major_at > 0):
        found.insert(0, (0, "caption", None))  # court, parties, counsel
    author = _name(major.group("a1") or major.group("a2") or major.group("a3")) if major else None
    found.append((major_at, "majority", author))
    for m in _SEPARATE.finditer(text, major_at + 1):
        part = "dissent" if m.group("kind") == "dissenting" else "concurrence"
        who = _name(m.group("who"))
        if found and found[-1][1:] == (part, who):
            continue  # a running header repeating the part on each page
        found.append((m.start() + len(m.group(0)) - len(m.group(0).lstrip()), part, who))
    parts = []
    for offset, part, who in found:
        page, start = _at(pages, starts, offset)
        label = {"syllabus": "Syllabus", "majority": "Opinion of the Court"}.get(part, part.title())
        if who == "headnotes":
            label, who = "Headnotes", None
        elif who and part != "caption":
            label += f" ({who})"
        parts.append(OpinionPart(part=part, label=label, page=page, start=start, author=who))
    return parts


def label_chunks(
    document: Document, chunks: list[Chunk], parts: Sequence[OpinionPart]
) -> list[Chunk]:
    """Split chunks at part boundaries and put the part label first in each
    chunk's heading path; ordinals and ids are renumbered in reading order."""
    if not parts:
        return chunks
    out: list[Chunk] = []
    for chunk in chunks:
        cuts = [
            p.start for p in parts if p.page == chunk.page and chunk.start < p.start < chunk.end
        ]
        bounds = [chunk.start, *cuts, chunk.end]
        header = (
            chunk.text[: len(chunk.text) - len(chunk.body)]
            if chunk.text.endswith(chunk.body)
            else ""
        )
        for a, b in pairwise(bounds):
            body = document.pages[chunk.page - 1].text[a:b]
            if not body.strip():
                continue
            piece = chunk.model_copy(
                update={
                    "start": a,
                    "end": b,
                    "body": body,
                    "text": chunk.text if len(bounds) == 2 else f"{header}{body}",
                }
            )
            part = _part_at(parts, chunk.page, a)
            if part is not None:
                piece.heading_path = [part.label, *chunk.heading_path]
            out.append(piece)
    for ordinal, chunk in enumerate(out):
        chunk.ordinal = ordinal
        chunk.id = chunk_id(chunk.document_id, ordinal)
    return out


def _part_at(parts: Sequence[OpinionPart], page: int, start: int) -> OpinionPart | None:
    found = None
    for p in parts:
        if (p.page, p.start) <= (page, start):
            found = p
    return found


# -- caption ------------------------------------------------------------------------
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE = rf"(?:{_MONTH} \d{{1,2}}, \d{{4}}|\d{{1,2}} {_MONTH} \d{{4}})"
_DECIDED = re.compile(
    rf"(?:Decided|decided|DECIDED|delivered|Filed:?|FILED:?|Opinion filed|Dated?:)\s*(?:on\s+)?({_DATE})"
)
_ANY_DATE = re.compile(_DATE)
_DOCKET = re.compile(
    r"(?:\bNos?\.|Docket (?:No\.|#):?|Case No\.)\s*([A-Z]{0,4}[\s-]?\d[\w\-–.:/]*[\w])"
    r"|^[ \t]*((?:CR |No\. )?\d{2}-\d{1,5})[ \t]*$",
    re.M,
)
_NOT_COURT = re.compile(
    r"^(?:certiorari|on (?:appeal|petition|writ|discretionary)|appeal from|error to|on certiorari)",
    re.I,
)
_ROLE = re.compile(
    r"^(?:plaintiffs?|defendants?|appellants?|appellees?|petitioners?|respondents?)"
    r"(?:[-–][a-z]+)?[.,]?$",
    re.I,
)


@lru_cache(maxsize=4096)
def _find_court(line: str) -> str | None:
    from courts_db import find_court  # builds its regexes once (~0.5 s)

    found = find_court(line)
    return found[0] if len(found) == 1 else None


@lru_cache(maxsize=512)
def court_name(court_id: str) -> str | None:
    from courts_db import find_court_by_id

    found = find_court_by_id(court_id)
    return str(found[0]["name"]) if found else None


def normalise_court(text: str) -> str:
    """A courts-db id for a court a user names ("ark", "Supreme Court of
    Arkansas"); the text itself when courts-db knows no single court by it."""
    text = text.strip()
    if court_name(text.lower()):
        return text.lower()
    return _find_court(re.sub(r"^(?:in the)\s+", "", text, flags=re.I)) or text


def _court(lines: list[str], caption: str) -> str | None:
    if re.search(
        r"OFFICIAL REPORTS|SUPREME COURT OF THE UNITED STATES|Volume \d+ U\. ?S\.", caption
    ):
        return "scotus"
    for i, line in enumerate(lines[:60]):
        if "court" not in line.lower() or _NOT_COURT.search(line) or len(line) > 160:
            continue
        clean = re.sub(r"^(?:in the|for the)\s+", "", line.strip(), flags=re.I)
        candidates = [
            clean,
            clean.split(",")[0],
            re.sub(r"\s+(?:District|Division)\b.*$", "", clean),
            re.sub(
                r"\s+((?:Eastern|Western|Southern|Northern|Middle|Central) District)",
                r", \1",
                clean,
            ),
        ]
        if i + 1 < len(lines):
            candidates.append(f"{clean} {lines[i + 1].strip()}")
        for c in candidates:
            found = _find_court(c)
            if found:
                return found
    return None


def _iso(date: str) -> str | None:
    date = re.sub(r"\s+", " ", date.replace("Sept", "Sep"))
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%b. %d, %Y", "%d %B %Y", "%d %b %Y"):
        try:
            return datetime.strptime(date, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _boxed_caption(line: str) -> str | None:
    """A caption drawn as a box of ')' (Missouri): 'JAGELS, ) No. ) Appellant, ) vs. ) STATE, )'."""
    if line.count(")") < 3 or not re.search(r"\b(?:v|vs)\.", line):
        return None
    names = [s.strip().rstrip(",") for s in line.split(")") if s.strip().isupper()]
    names = [n for n in names if n and not _ROLE.match(n)]
    return f"{names[0]} v. {names[1]}" if len(names) >= 2 else None


def _case_name(lines: list[str]) -> str | None:
    for i, line in enumerate(lines[:40]):
        s = line.strip()
        if boxed := _boxed_caption(s):
            return boxed
        if s in ("v.", "vs.", "V.", "VS."):  # a caption with the parties on their own lines
            before = [
                x for x in lines[max(0, i - 4) : i] if x.strip() and not _ROLE.match(x.strip())
            ]
            after = [x for x in lines[i + 1 : i + 5] if x.strip() and not _ROLE.match(x.strip())]
            if before and after:
                return _tidy(f"{before[-1]} v. {after[0]}")
        if re.match(r"^(?:in the matter of|in re|ex parte|matter of)\b", s, re.I) and len(s) < 300:
            return _tidy(s)  # a one-party caption
        if (
            re.search(r"\s(?:v\.|vs\.?)(?:\s|$)", s)
            and not re.search(r"\d{2,}", s)
            and len(s) < 1000
        ):
            if re.search(r"\s(?:v|vs)\.?$", s) and i + 1 < len(lines):
                s = f"{s} {lines[i + 1].strip()}"
            if re.match(r"^(?:see|in|and|the court)\b", s, re.I):
                continue
            return _tidy(s)
    return None


def _tidy(name: str) -> str:
    name = re.sub(r"\s+", " ", name).strip().rstrip(".,;")
    return name


def _own_citations(caption: str, lines: list[str]) -> list[str]:
    own: list[str] = []
    volume = re.search(r"Volume (\d+) U\. ?S\.", caption)
    first = re.search(r"(?m)^OCTOBER TERM, \d{4} (\d+)$", caption) or re.search(
        r"(?m)^Pages (\d+)[–-]\d+$", caption
    )
    if volume and first:
        own.append(f"{volume.group(1)} U.S. {first.group(1)}")
    for line in lines[:25]:
        s = line.strip()
        if not s or len(s) > 40:
            continue
        for cite in get_citations(s):
            if isinstance(cite, FullCaseCitation) and cite.matched_text().strip() == s.rstrip("."):
                own.append(re.sub(r"\s+", " ", cite.corrected_citation()))
    return list(dict.fromkeys(own))


def _disposition(text: str, whole: str) -> str | None:
    word = r"(?:affirmed|reversed|remanded|vacated|dismissed|modified|denied|granted)"
    # The reporter's line under the syllabus: "251 Ariz. 203, ..., vacated and remanded."
    line = re.search(
        rf"(?m)^\d[^\n]{{0,120}}?,\s+({word}(?:,? (?:and|in part,? and) {word})*(?: in part)?)\.\s*$",
        whole,
        re.I,
    )
    if line:
        return line.group(1).lower()
    paras = [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    for para in reversed(paras[-40:]):
        m = re.match(
            rf"^(?:(?:the )?judgment (?:is |of [^.]{{0,80}} is )?)?({word}(?:[ ,]+(?:and |in part|as modified|{word})){{0,4}})\.?$",
            para,
            re.I,
        )
        if m:
            return m.group(1).lower().strip(" ,")
    m = re.search(rf"\b{word}(?:,? (?:and|in part and) {word})*(?= in part|\.)", whole[:6000], re.I)
    return m.group(0).lower() if m else None


def _judges(caption: str) -> list[str]:
    names = re.findall(
        r"\b((?:[A-Z]\. )*[A-Z][A-Za-z'\-]+(?: [A-Z]\.)?(?: [A-Z][A-Za-z'\-]+)?), (?:P\. ?J\.|C\. ?J\.|JJ?\.|Justice)",
        caption,
    )
    names += re.findall(r"\b(?:Mr\. )?Justice ([A-Z][a-z]+)", caption)
    return list(dict.fromkeys(n.strip() for n in names))


def opinion_profile(
    document: Document, parts: Sequence[OpinionPart] | None = None
) -> DocumentProfile:
    """Metadata of an opinion, from its caption (see the module docstring)."""
    parts = list(parts) if parts is not None else opinion_parts(document.pages)
    text, starts = _flat(document.pages)
    majority = next((p for p in parts if p.part == "majority"), None)
    body_at = 0
    if majority is not None:
        body_at = starts[majority.page - 1] + majority.start
    caption = text[: max(body_at, 600)][:6000]
    lines = [ln for ln in caption.splitlines() if ln.strip()]
    court_id = _court(lines, caption)
    decided = _DECIDED.search(caption) or _ANY_DATE.search(caption)
    docket = _DOCKET.search(caption)
    case_name = _case_name(lines)
    separate = next((p for p in parts if p.part in ("dissent", "concurrence")), None)
    majority_text = text[
        body_at : starts[separate.page - 1] + separate.start if separate else len(text)
    ]
    return DocumentProfile(
        kind="opinion",
        case_name=case_name,
        court_id=court_id,
        court_name=court_name(court_id) if court_id else None,
        decided=_iso(decided.group(decided.lastindex or 0)) if decided else None,
        docket=(docket.group(1) or docket.group(2)).strip() if docket else None,
        author=majority.author if majority else None,
        judges=list(dict.fromkeys([*_judges(caption), *(p.author for p in parts if p.author)])),
        parties=[_tidy(p) for p in re.split(r"\s+(?:v\.|vs\.?)\s+", case_name)]
        if case_name
        else [],
        disposition=_disposition(majority_text, text),
        own_citations=_own_citations(caption, lines),
        parts=parts,
    )
