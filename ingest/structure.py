"""Shared structure heuristics: clause numbers, headings, and page assembly.

Every loader turns its format into a list of :class:`Para` (one paragraph,
heading, list item or table, in reading order) and hands it to
:func:`assemble_page`, which joins them into ``Page.text`` and records each as a
:class:`~core.types.Block` whose offsets satisfy
``page.text[block.start:block.end] == block.text``.

Clause numbers are recognised in the forms lawyers write them::

    ARTICLE V   Article 5   SECTION 5.2   Section 7   Clause 3
    5.   5.2   5.2.1   5.2.1.   (a)   (iv)   (A)   (1)   a)   iv)   A.   IV.

:func:`clause_level` maps a number to a heading depth (1 = top).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.types import Block, BlockKind, Page

__all__ = [
    "Para",
    "assemble_page",
    "classify_paragraph",
    "clause_level",
    "guess_title",
    "is_all_caps_heading",
    "match_clause_number",
]

_ROMAN = r"(?:[IVXL]{1,7}|[ivxl]{1,7})"
_KEYWORD = r"(?:ARTICLE|Article|SECTION|Section|CLAUSE|Clause|PART|Part|SCHEDULE|Schedule|EXHIBIT|Exhibit|ANNEX|Annex|APPENDIX|Appendix)"

#: A clause number at the start of a text, captured as ``number``; ``rest`` is
#: where the clause text starts. Alternatives, most specific first.
_NUMBER_RE = re.compile(
    rf"""^[ \t]*(?P<number>
        {_KEYWORD}[ \t]+(?:{_ROMAN}|\d{{1,3}}(?:\.\d{{1,3}})*|[A-Z])\b\.?      # ARTICLE V, Section 5.2
      | \d{{1,3}}(?:\.\d{{1,3}})+\.?(?=[ \t\u00a0“"]|$)                      # 5.2, 5.2.1, 5.2.
      | \d{{1,3}}\.(?=[ \t\u00a0]|$)                                       # 5.
      | \d{{1,3}}(?=\t|[ \u00a0]{{2,}}[A-Z“"])                             # 5<tab>Definitions
      | \((?:[a-z]{{1,2}}|[A-Z]{{1,2}}|{_ROMAN}|\d{{1,3}})\)(?=[ \t\u00a0“"A-Za-z]|$)  # (a) (iv) (A) (1)
      | (?:[a-z]|{_ROMAN}|\d{{1,2}})\)(?=[ \t\u00a0])                       # a) iv) 1)
      | (?:[A-Z]|[IVX]{{1,5}})\.(?=[ \t\u00a0]+[A-Z“"])                      # A. Definitions, IV. Term
    )""",
    re.VERBOSE,
)

_ROMAN_ONLY = re.compile(r"^[ivxlIVXL]+$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")


def match_clause_number(text: str) -> tuple[str, int] | None:
    """Find a clause number at the start of ``text``.

    Returns ``(number, end)`` where ``number`` is the number as written
    (trailing period dropped, "5." -> "5"; keyword kept, "ARTICLE V") and
    ``end`` the offset just after it in ``text``; None when there is none.
    Money, years and dates ("2020.", "1,000") are not clause numbers.
    """
    m = _NUMBER_RE.match(text)
    if m is None:
        return None
    raw = m.group("number")
    number = " ".join(raw.split())
    if number.endswith(".") and not number.endswith(".."):
        number = number[:-1]
    if not number:
        return None
    # A four-digit number is a year, not a clause: the regex caps at three
    # digits, so "2020." never matches; guard decimals that look like amounts.
    if re.fullmatch(r"\d+\.\d{3,}", number):
        return None
    return number, m.end("number")


def clause_level(number: str) -> int:
    """Depth of a clause number, 1 (top) to 6.

    ``ARTICLE``/``PART``/``SCHEDULE`` and friends -> 1; ``Section 5`` -> 1,
    ``Section 5.2`` -> 2; ``5`` -> 1, ``5.2`` -> 2, ``5.2.1`` -> 3; Roman
    ``IV`` -> 1; capital letter ``A`` -> 2; ``(a)`` / ``a)`` -> 4;
    ``(i)``, ``(A)``, ``(1)`` -> 5.
    """
    n = number.strip().rstrip(".")
    head, _, tail = n.partition(" ")
    if tail and head.lower() in {
        "article",
        "part",
        "schedule",
        "exhibit",
        "annex",
        "appendix",
    }:
        return 1
    if tail and head.lower() in {"section", "clause"}:
        n = tail
    if re.fullmatch(r"\d+(?:\.\d+)*", n):
        return min(6, n.count(".") + 1)
    if n.startswith("(") or n.endswith(")"):
        inner = n.strip("()")
        if (
            inner.isdigit()
            or (_ROMAN_ONLY.match(inner) and len(inner) > 1)
            or inner in {"i", "v", "x"}
        ):
            return 5
        if inner.isupper():
            return 5
        return 4
    if _ROMAN_ONLY.match(n) and n.isupper():
        return 1
    if len(n) == 1 and n.isupper():
        return 2
    return 1


def is_all_caps_heading(text: str) -> bool:
    """An ALL-CAPS short line that reads as a heading ("GOVERNING LAW",
    "ARTICLE V - TERM"): at most 12 words, at least 3 letters, no lowercase
    letters, not ending like a sentence fragment (",", ";")."""
    t = text.strip()
    if not t or len(t) > 100 or t[-1] in ",;:":
        return False
    letters = [c for c in t if c.isalpha()]
    if len(letters) < 3 or any(c.islower() for c in letters):
        return False
    return len(t.split()) <= 12


def _looks_like_title_text(rest: str) -> bool:
    """Short text after a number that reads as a caption, e.g. "Term and
    Termination" or "DEFINITIONS." rather than a sentence."""
    r = rest.strip().rstrip(".:")
    if not r:
        return True
    if len(r) > 80 or len(r.split()) > 10:
        return False
    if r[-1] in ",;" or not (r[0].isupper() or r[0] in "“\"'"):
        return False
    words = _WORD.findall(r)
    small = {"and", "or", "of", "the", "to", "for", "in", "on", "a", "an", "by", "with", "its"}
    return all(w[0].isupper() or w.lower() in small for w in words)


def classify_paragraph(
    text: str, *, heading_hint: bool = False, hint_level: int | None = None
) -> tuple[BlockKind, int | None, str | None]:
    """Decide the kind, heading level and clause number of one paragraph.

    ``heading_hint`` is the format's own signal (large/bold font in a PDF, a
    heading style in a DOCX); ``hint_level`` its level if known. A paragraph is
    a HEADING when it is short and either hinted, ALL CAPS, or a number
    followed by a caption ("5.2 Term of Agreement", "ARTICLE V"). Long
    paragraphs are TEXT even when hinted (some templates style whole clauses
    as headings); they still carry their clause number.
    """
    t = text.strip()
    found = match_clause_number(t)
    number = found[0] if found else None
    rest = t[found[1] :] if found else t
    short = len(t) <= 120 and len(t.split()) <= 16 and "\n" not in t
    heading = False
    if short:
        if (
            heading_hint and not t.endswith((",", ";")) and not _reads_as_sentence(rest)
        ) or is_all_caps_heading(t):
            heading = True
        elif number is not None and _looks_like_title_text(rest):
            heading = bool(rest.strip()) or number.split(" ")[0].lower() in {
                "article",
                "section",
                "part",
                "schedule",
                "exhibit",
                "annex",
                "appendix",
            }
    if not heading:
        return BlockKind.TEXT, None, number
    if hint_level is not None:
        level = hint_level
    elif number is not None:
        level = clause_level(number)
    else:
        level = 1
    return BlockKind.HEADING, max(1, min(6, level)), number


def _reads_as_sentence(rest: str) -> bool:
    """A clause sentence rather than a caption: more than ten words, or a
    period followed by more text ("Termination. Either party may ...")."""
    r = rest.strip()
    return len(r.split()) > 10 or bool(re.search(r"[.:;]\s+\S+\s+\S+", r))


@dataclass
class Para:
    """One block-to-be: text as it should appear in the page text."""

    text: str
    kind: BlockKind = BlockKind.TEXT
    level: int | None = None
    number: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    #: Separator placed before this paragraph in the page text: "\n\n" for a
    #: new paragraph group, "\n" for the next item of the same group.
    joiner: str = "\n\n"


def assemble_page(
    number: int,
    paras: list[Para],
    *,
    ocr: bool = False,
    width: float | None = None,
    height: float | None = None,
) -> Page:
    """Join ``paras`` into a :class:`Page`: empty paragraphs are dropped, each
    remaining one becomes a Block with exact offsets into ``Page.text``."""
    parts: list[str] = []
    blocks: list[Block] = []
    pos = 0
    for p in paras:
        text = p.text.strip()
        if not text:
            continue
        if parts:
            parts.append(p.joiner)
            pos += len(p.joiner)
        parts.append(text)
        blocks.append(
            Block(
                kind=p.kind,
                text=text,
                start=pos,
                end=pos + len(text),
                bbox=p.bbox,
                level=p.level if p.kind is BlockKind.HEADING else None,
                number=p.number,
            )
        )
        pos += len(text)
    return Page(
        number=number, text="".join(parts), blocks=blocks, ocr=ocr, width=width, height=height
    )


_TITLE_WORDS = re.compile(
    r"\b(AGREEMENT|CONTRACT|LICENSE|LEASE|ADDENDUM|AMENDMENT|MEMORANDUM|"
    r"NOTE|ORDER|TERMS|SAFE|OPINION|COMPLAINT|MOTION|BRIEF|LETTER|PLAN)\b",
    re.IGNORECASE,
)


def guess_title(page: Page | None, fallback: str) -> str:
    """Best guess of a document's title from its first page.

    Prefers a short line that names the instrument ("LICENSE AGREEMENT",
    "Mutual Non-Disclosure Agreement"), then the first heading, then
    ``fallback`` (the file stem).
    """
    if page is None:
        return fallback
    candidates: list[str] = []
    for b in page.blocks[:40]:
        if b.kind is BlockKind.TABLE:
            continue
        first = b.text.split("\n", 1)[0].strip().lstrip("#").strip()
        if 3 <= len(first) <= 120:
            candidates.append(first)
    for raw in candidates:
        line = _clean_title(raw)
        words = line.split()
        if (
            len(words) <= 12
            and _TITLE_WORDS.search(line)
            and not line.endswith((",", ";", ":"))
            and (line.isupper() or _starts_heading(page, line) or _looks_like_title_text(line))
        ):
            return line
    for b in page.blocks[:40]:
        if b.kind is BlockKind.HEADING and len(b.text) >= 3:
            return b.text.split("\n", 1)[0].strip().lstrip("#").strip()
    return fallback


def _clean_title(line: str) -> str:
    """Drop an exhibit label, rule dashes and a page number around a title:
    "EXHIBIT 10.13 JOINT VENTURE AGREEMENT ----" -> "JOINT VENTURE AGREEMENT"."""
    t = re.sub(r"^(?:EXHIBIT|Exhibit)\s+[\w.()\-]+\s+(?=\S)", "", line)
    t = re.sub(r"\s*(?:-{3,}|_{3,}|Page \d+ of \d+)\s*$", "", t)
    return t.strip() if _TITLE_WORDS.search(t) else line


def _starts_heading(page: Page, line: str) -> bool:
    """Whether a heading block of ``page`` starts with ``line``."""
    return any(b.kind is BlockKind.HEADING and b.text.startswith(line) for b in page.blocks)
