"""Exact highlight rectangles for a quote on a PDF page, computed on the server.

The quote (a citation's or a finding's verbatim page text) is matched against
the words PyMuPDF reports on the page, never searched fuzzily in the browser.
Both sides are reduced to their letters and digits (NFKC, lower case), so line
breaks, hyphenation at a line end, ligatures and the running headers the loader
removed do not matter; the matched characters map back to word boxes, and the
boxes of one text line are merged into one rectangle.

A quote that does not fit on its page but whose beginning ends it continues on
the next page: the longest prefix found on page N is highlighted there and the
rest on page N+1. Rectangles are fractions of the page's width and height
(``x0, y0, x1, y1`` in [0, 1]) so the browser can lay them over an image of
any size.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Highlight", "find_highlights", "normalise"]

#: Quotes shorter than this (letters and digits) are too ambiguous to place.
MIN_CHARS = 4
#: A continuation on the next page must be at least this long to count.
MIN_CONTINUATION = 8


@dataclass(frozen=True)
class Highlight:
    """One rectangle on one (1-based) page, as fractions of the page size."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float

    def box(self) -> str:
        """``"x0 y0 x1 y1"`` (the page template's ``data-box``)."""
        return f"{self.x0:.5f} {self.y0:.5f} {self.x1:.5f} {self.y1:.5f}"


def normalise(text: str) -> str:
    """Letters and digits only, NFKC-folded and lower case."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if ch.isalnum())


@dataclass
class _PageWords:
    """A page's words and, for each character of their normalised
    concatenation, the index of the word it came from."""

    words: list[tuple[float, float, float, float, str, int, int]]
    chars: str
    owner: list[int]
    width: float
    height: float
    matrix: Any


def _page_words(page: Any) -> _PageWords:
    words = [tuple(w[:7]) for w in page.get_text("words", sort=False)]
    chars: list[str] = []
    owner: list[int] = []
    for i, w in enumerate(words):
        norm = normalise(w[4])
        chars.append(norm)
        owner.extend([i] * len(norm))
    rect = page.rect
    return _PageWords(words, "".join(chars), owner, rect.width, rect.height,
                      page.rotation_matrix if page.rotation else None)  # fmt: skip


def _best_occurrence(haystack: str, needle: str, hint: float | None) -> int:
    """Index of ``needle`` in ``haystack`` (-1: absent); with several, the one
    nearest the relative position ``hint`` (0 = top of the page, 1 = end)."""
    first = haystack.find(needle)
    if first < 0 or hint is None:
        return first
    best, at = first, first
    while True:
        at = haystack.find(needle, at + 1)
        if at < 0:
            return best
        target = hint * max(len(haystack), 1)
        if abs(at - target) < abs(best - target):
            best = at


def _longest_prefix(haystack: str, needle: str) -> int:
    """Length of the longest prefix of ``needle`` found in ``haystack``
    (monotone: if a prefix occurs, every shorter one does; binary search)."""
    lo, hi = 0, len(needle)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if needle[:mid] in haystack:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _rects(pw: _PageWords, page_no: int, start: int, end: int) -> list[Highlight]:
    """One rectangle per text line over the words owning chars [start, end)."""
    indices = sorted(set(pw.owner[start:end]))
    lines: dict[tuple[int, int], list[float]] = {}
    for i in indices:
        x0, y0, x1, y1, _text, block, line = pw.words[i]
        if pw.matrix is not None:
            import pymupdf

            r = pymupdf.Rect(x0, y0, x1, y1) * pw.matrix
            x0, y0, x1, y1 = r.x0, r.y0, r.x1, r.y1
        box = lines.setdefault((block, line), [x0, y0, x1, y1])
        box[0], box[1] = min(box[0], x0), min(box[1], y0)
        box[2], box[3] = max(box[2], x1), max(box[3], y1)
    return [
        Highlight(page_no, b[0] / pw.width, b[1] / pw.height, b[2] / pw.width, b[3] / pw.height)
        for b in lines.values()
    ]


def find_highlights(
    pdf_path: Path, page: int, quote: str, *, hint: float | None = None
) -> list[Highlight]:
    """Rectangles covering ``quote`` on 1-based ``page`` (and on ``page + 1``
    when the quote runs over the page break). Empty when the quote is not on
    the page. ``hint``: where on the page the quote starts (0..1), to choose
    between repeated occurrences."""
    import pymupdf

    needle = normalise(quote)
    if len(needle) < MIN_CHARS:
        return []
    with pymupdf.open(pdf_path) as pdf:
        if not 1 <= page <= pdf.page_count:
            return []
        here = _page_words(pdf[page - 1])
        at = _best_occurrence(here.chars, needle, hint)
        if at >= 0:
            return _rects(here, page, at, at + len(needle))
        if page >= pdf.page_count:
            return []
        head = _longest_prefix(here.chars, needle)
        rest = needle[head:]
        if head < MIN_CONTINUATION or len(rest) < MIN_CONTINUATION:
            return []
        after = _page_words(pdf[page])
        start_next = after.chars.find(rest)
        if start_next < 0:
            return []
        start_here = here.chars.rfind(needle[:head])  # the prefix nearest the page end
        return _rects(here, page, start_here, start_here + head) + _rects(
            after, page + 1, start_next, start_next + len(rest)
        )
