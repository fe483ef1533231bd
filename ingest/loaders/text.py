"""Plain-text and Markdown loader.

The whole file is ONE page whose ``text`` is exactly the decoded file content
(UTF-8, falling back to latin-1; no newline translation, no BOM stripping, no
whitespace changes), so character offsets are offsets into the file as
Python decodes its bytes. Retrieval benchmarks over CUAD's text files rely on
this.

Blocks are found without touching the text: paragraphs are separated by
blank lines; inside a paragraph a new block starts at a line that begins with
a clause number ("5.2", "(a)", "ARTICLE V") or reads as a heading, and at a
clause number that follows a run of three or more spaces inside a long line
(CUAD's text renderings put several clauses on one line that way). Because
the page text is the file text, the gap between two blocks is whatever
whitespace the file has there (not necessarily "\\n" or "\\n\\n").
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from core.errors import EmptyDocumentError
from core.types import Block, BlockKind, Page
from ingest.structure import classify_paragraph, match_clause_number

__all__ = ["decode_text", "load_text_page", "text_blocks"]

logger = logging.getLogger(__name__)

_BLANK_LINES = re.compile(r"\n[ \t\f\v\u00a0]*\n\s*")
#: A clause number after a run of >= 3 spaces inside a line.
_INLINE_CLAUSE = re.compile(
    r"(?<=\S)[ \t\u00a0]{3,}(?=(?:ARTICLE|Article|SECTION|Section)\s+\w|"
    r"\d{1,3}(?:\.\d{1,3})*\.?\s|\((?:[a-z]{1,2}|[ivx]{1,5}|\d{1,2})\)\s)"
)
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*)$")


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8, else latin-1 (which cannot fail). Never normalises."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        logger.info("ingest.text_latin1_fallback file=%s", path.name)
        return data.decode("latin-1")


def _segments(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split ``text[start:end]`` (one paragraph) into candidate block spans:
    lines, further cut before inline clause numbers."""
    spans: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        line_end = end if nl == -1 else nl
        cut = pos
        for m in _INLINE_CLAUSE.finditer(text, pos, line_end):
            spans.append((cut, m.start()))
            cut = m.end()
        spans.append((cut, line_end))
        pos = line_end + 1
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def text_blocks(text: str, markdown: bool = False) -> list[Block]:
    """Blocks over ``text`` with exact offsets (``text[b.start:b.end] == b.text``)."""
    blocks: list[Block] = []
    para_spans: list[tuple[int, int]] = []
    pos = 0
    for m in _BLANK_LINES.finditer(text):
        para_spans.append((pos, m.start()))
        pos = m.end()
    para_spans.append((pos, len(text)))

    for p_start, p_end in para_spans:
        cur: tuple[int, int] | None = None
        cur_heading = False
        for s, e in _segments(text, p_start, p_end):
            s, e = _trim(text, s, e)
            if s >= e:
                continue
            seg = text[s:e]
            md = _MD_HEADING.match(seg) if markdown else None
            kind, _, _ = classify_paragraph(seg)
            starts_new = (
                cur is None
                or cur_heading
                or md is not None
                or match_clause_number(seg) is not None
                or kind is BlockKind.HEADING
            )
            if starts_new:
                if cur is not None:
                    blocks.append(_make_block(text, cur, markdown))
                cur = (s, e)
                cur_heading = md is not None or kind is BlockKind.HEADING
            else:
                assert cur is not None
                cur = (cur[0], e)
        if cur is not None:
            blocks.append(_make_block(text, cur, markdown))
    return blocks


def _make_block(text: str, span: tuple[int, int], markdown: bool) -> Block:
    s, e = span
    body = text[s:e]
    md = _MD_HEADING.match(body) if markdown and "\n" not in body else None
    if md is not None:
        caption = md.group(2).strip()
        found = match_clause_number(caption)
        return Block(
            kind=BlockKind.HEADING,
            text=body,
            start=s,
            end=e,
            level=len(md.group(1)),
            number=found[0] if found else None,
        )
    kind, level, number = classify_paragraph(body)
    return Block(kind=kind, text=body, start=s, end=e, level=level, number=number)


def load_text_page(path: Path, data: bytes, fmt: str) -> Page:
    """Load a .txt/.md file's bytes as one page. Raises EmptyDocumentError
    when the file holds only whitespace."""
    text = decode_text(path, data)
    if not text.strip():
        raise EmptyDocumentError(path, "the text file is empty")
    return Page(number=1, text=text, blocks=text_blocks(text, markdown=fmt == "md"))
