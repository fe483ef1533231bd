"""CASEMETS pages: a CAP case body laid out on its reporter pages, with the
opinion parts its elements type (see :mod:`ingest.casemets`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from core.types import Block, Page
from knowledge_base.citation_graph import OpinionPart

__all__ = ["METS_NS", "casebody_pages", "flat_text", "local_name", "namespace"]

METS_NS = "http://www.loc.gov/METS/"
_WORD = re.compile(r"[^\s\xad]+")
_PGMAP = re.compile(r"(\d+)(?:\((\d+)\))?")
_BLOCK_ID = re.compile(r"b(\d+)-(\d+)")


def namespace(el: Element) -> str:
    """The element's namespace URI ("" for none)."""
    return el.tag[1:].split("}", 1)[0] if el.tag.startswith("{") else ""


def local_name(el: Element) -> str:
    """The element's name without its namespace."""
    return el.tag.rsplit("}", 1)[-1]


def flat_text(el: Element) -> str:
    """All the element's text, whitespace collapsed to single spaces."""
    return " ".join("".join(el.itertext()).split())


@dataclass(frozen=True)
class _Part:
    part: str
    label: str
    author: str | None = None


@dataclass
class _Piece:
    """One element's words on one physical page."""

    order: int  # physical page (METS ORDER)
    key: tuple[int, int, int]  # reading order on that page
    text: str
    part: _Part


_SEPARATE = {
    "majority": ("majority", "Opinion of the Court"),
    "rehearing": ("majority", "Opinion on Rehearing"),
    "dissent": ("dissent", "Dissent"),
    "concurrence": ("concurrence", "Concurrence"),
    "concurring-in-part-and-dissenting-in-part": (
        "dissent",
        "Concurrence in Part and Dissent in Part",
    ),
}


def _author(text: str) -> str | None:
    """'Mr. Chief Justice English,' -> 'English'; 'Jack Holt, Jr., Chief
    Justice.' -> 'Jack Holt, Jr.'; 'Per Curiam.' -> None."""
    who = text.strip(" ,.")
    if re.fullmatch(r"(?i)per curiam", who):
        return None
    who = re.sub(r"^(?:Hon\.|Mr\.|Mi\*\.|Judge)\s*", "", who)
    title = r"(?:Special\s+)?(?:Chief\s+)?(?:Justice|Judge)"
    who = re.sub(rf"^{title}\s*", "", who)
    who = re.sub(rf",?\s*{title}\W*$", "", who)
    return who.strip(" ,.") or None


def _opinion_part(opinion: Element) -> _Part:
    kind = (opinion.get("type") or "majority").strip().lower()
    part, label = _SEPARATE.get(kind, ("majority", kind.replace("-", " ").title()))
    found = next((e for e in opinion if local_name(e) == "author"), None)
    author = _author(flat_text(found)) if found is not None else None
    return _Part(part, f"{label} ({author})" if author else label, author)


def _element_part(el: Element) -> _Part:
    tag = local_name(el)
    if tag == "headnotes":
        return _Part("syllabus", "Headnotes")
    if tag == "summary":
        return _Part("syllabus", "Summary")
    return _Part("caption", "Caption")


def _blocks(casebody: Element) -> list[tuple[Element, _Part]]:
    """Every element with a ``pgmap``, in document order, with its part."""
    out: list[tuple[Element, _Part]] = []

    def walk(el: Element, part: _Part) -> None:
        for child in el:
            if child.get("pgmap") is not None:
                out.append((child, part))
            else:
                walk(child, _opinion_part(child) if local_name(child) == "opinion" else part)

    for child in casebody:
        if child.get("pgmap") is not None:
            out.append((child, _element_part(child)))
        elif local_name(child) == "opinion":
            walk(child, _opinion_part(child))
        else:  # a footnote or other container outside the opinions
            walk(child, _Part("caption", "Caption"))
    return out


def _split(text: str, pgmap: str) -> list[tuple[int, str]]:
    """(physical page, text) pieces of one element by its pgmap word counts;
    a page break inside a word moves to the word's start."""
    spans = [(int(p), int(n) if n else None) for p, n in _PGMAP.findall(pgmap)]
    if not spans:
        return []
    words = list(_WORD.finditer(text))
    counts = [n for _, n in spans]
    if len(spans) == 1 or None in counts or sum(counts) != len(words):  # type: ignore[arg-type]
        return [(spans[0][0], text)]
    pieces, start, seen = [], 0, 0
    for page, n in spans[:-1]:
        seen += n or 0
        cut = words[seen].start() if seen < len(words) else len(text)
        while cut > start and not text[cut - 1].isspace():
            cut -= 1
        pieces.append((page, text[start:cut].strip()))
        start = cut
    pieces.append((spans[-1][0], text[start:].strip()))
    return [(p, t) for p, t in pieces if t]


def _page_labels(root: Element) -> dict[int, str]:
    """Physical page (METS ORDER) -> printed page number (ORDERLABEL)."""
    labels = {}
    for div in root.iter(f"{{{METS_NS}}}div"):
        order, label = div.get("ORDER"), div.get("ORDERLABEL")
        if div.get("TYPE") == "page" and order and order.isdigit() and label:
            labels[int(order)] = label.strip()
    return labels


def _pieces(casebody: Element) -> list[_Piece]:
    pieces: list[_Piece] = []
    prev: tuple[int, int, int] | None = None
    for index, (el, part) in enumerate(_blocks(casebody)):
        text = flat_text(el)
        split = _split(text, el.get("pgmap") or "")
        if not split:
            continue
        first = split[0][0]
        m = _BLOCK_ID.fullmatch(el.get("id") or "")
        if m and int(m.group(1)) == first:
            key = (first, int(m.group(2)), 0)
        elif prev is not None and prev[0] == first:  # an id without a place: after the last
            key = (first, prev[1], prev[2] + 1)
        else:
            key = (first, 1 << 30, index)
        prev = key
        pieces.append(_Piece(first, key, split[0][1], part))
        for page, rest in split[1:]:  # continued at the top of the next pages
            pieces.append(_Piece(page, (page, -1, index), rest, part))
    return sorted(pieces, key=lambda p: p.key)


def _build_pages(
    pieces: list[_Piece], labels: dict[int, str], first_label: str | None
) -> tuple[list[Page], list[OpinionPart]]:
    orders = sorted({p.order for p in pieces})
    pages: list[Page] = []
    parts: list[OpinionPart] = []
    current: _Part | None = None
    for order in orders:
        label = labels.get(order)
        if label is None and first_label and first_label.isdigit():
            label = str(int(first_label) + order - orders[0])
        text = f"{label}\n\n" if label else ""
        blocks = []
        for piece in (p for p in pieces if p.order == order):
            if blocks:
                text += "\n\n"
            start = len(text)
            text += piece.text
            blocks.append(Block(text=piece.text, start=start, end=len(text)))
            if piece.part != current:
                current = piece.part
                parts.append(
                    OpinionPart(
                        part=current.part,
                        label=current.label,
                        page=len(pages) + 1,
                        start=start,
                        author=current.author,
                    )
                )
        pages.append(Page(number=len(pages) + 1, text=text, blocks=blocks))
    return pages, parts


def casebody_pages(root: Element, casebody: Element) -> tuple[list[Page], list[OpinionPart]]:
    """The case body's reporter pages (labels from the METS structMap, else
    counted from the case body's ``firstpage``) and its parts."""
    return _build_pages(_pieces(casebody), _page_labels(root), casebody.get("firstpage"))
