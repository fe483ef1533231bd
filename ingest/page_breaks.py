"""Sentences that run across a page break, made whole in the indexed text.

Chunks never span pages: ``body`` and its offsets stay verbatim on one page so
that citations can be checked against that page. A sentence cut by a page break
would then be whole in no chunk. :func:`bridge_page_breaks` repairs what is
*indexed* (``chunk.text``) and leaves ``body``/``start``/``end`` untouched:

* the chunk holding the end of page N gets the rest of the sentence from page
  N+1 appended: ``"{header}\\n{body} … {continuation}"``;
* the chunk holding the start of page N+1 gets the sentence's beginning from
  page N prepended: ``"{header}\\n{beginning} … {body}"``.

A page break is bridged only when page N's last text block ends without
sentence-final punctuation (``. ; : ! ?``, closing quotes and brackets aside)
and page N+1's first text block continues it: it is a TEXT block with no clause
number, and starts lower-case (or with ``, ; ) ]``, or with any word when page N
ends on a connective such as "of", "and", "the" or a comma). Headings, tables,
numbered clauses and bullets on page N+1 are never joined. Blocks repeated at
the page edges of three or more pages (running headers/footers the loader kept)
are stepped over. Each addition is at most :data:`BRIDGE_MAX_CHARS` characters
(cut at a word, marked with "…") and the whole ``text`` stays within the
chunker's token limit, counted with the model's tokenizer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from core.types import BlockKind, Chunk, Document
from knowledge_base.tokens import TokenCounter

__all__ = ["BRIDGE_MAX_CHARS", "SEPARATOR", "bridge_page_breaks"]

#: Most characters carried across a page break, each way.
BRIDGE_MAX_CHARS = 300
#: Marks where page text ends and the carried-over sentence part begins.
SEPARATOR = " … "
_ELLIPSIS = "…"
#: Fewest tokens worth carrying over; a smaller remainder of the budget is left empty.
_MIN_TOKENS = 3
#: A block at a page edge repeated on this many pages is a running header/footer.
_REPEATED_PAGES = 3

_CLOSERS = "\"'”’)]»"
_FINAL = ".;:!?"
_CONTINUES_ANY = ",;)]"  # a next page starting with one of these continues the sentence
_BULLETS = "•●▪◦■□-–—*·"
_CONNECTIVES = frozenset(
    re.findall(
        r"\S+",
        "a an the of to in on at by for from with within without into onto upon under over "
        "between among against and or nor but as than that which who whom whose such any all "
        "each every its their his her our your this these those is are be been being was were "
        "shall will may must can would should not including include includes per via thereof "
        "hereof herein hereunder thereunder whether if unless until provided after before during "
        "set forth pursuant",
    )
)
_CONNECTIVE_CHARS = ",(-–—/&"
# List items and references that open a new unit rather than continue a sentence
# (numbered clauses are found by ``detect_number``).
_ITEM_START = re.compile(
    r"(?:[a-zA-Z]|[ivxIVX]{2,4})[.)](?=\s)"
    r"|(?:Schedule|SCHEDULE|Exhibit|EXHIBIT|Annex|ANNEX|Appendix|APPENDIX)\s+[\dA-Z]"
)


class BlockLike(Protocol):
    """What is read of a block: :class:`core.types.Block` or the chunker's paragraphs."""

    @property
    def kind(self) -> BlockKind: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def number(self) -> str | None: ...


def bridge_page_breaks(
    document: Document,
    chunks: Sequence[Chunk],
    counter: TokenCounter,
    limit: int,
    blocks: Sequence[Sequence[BlockLike]] | None = None,
) -> list[Chunk]:
    """``chunks`` with the indexed text of chunks at sentence-cutting page breaks
    completed (see the module docstring); everything but ``text`` is unchanged.

    ``limit`` is the most tokens ``chunk.text`` may have (without [CLS]/[SEP]);
    ``blocks`` are the blocks of each page as the chunker saw them (default:
    ``page.blocks``).
    """
    page_blocks: list[Sequence[BlockLike]] = (
        list(blocks) if blocks is not None else [p.blocks for p in document.pages]
    )
    out = list(chunks)
    if len(document.pages) < 2 or not out:
        return out
    from ingest.chunking import detect_number, split_sentences  # chunking imports us

    repeated = _repeated_blocks(page_blocks)
    by_page: dict[int, list[int]] = {}
    for i, c in enumerate(out):
        by_page.setdefault(c.page, []).append(i)
    for pi in range(len(document.pages) - 1):
        tail = _edge_block(page_blocks[pi], repeated, last=True)
        head = _edge_block(page_blocks[pi + 1], repeated, last=False)
        if tail is None or head is None:
            continue
        bridge = _sentence_across(tail, head, split_sentences, detect_number)
        if bridge is None:
            continue
        beginning, beginning_end, continuation, continuation_start = bridge
        before = _holding(out, by_page.get(pi + 1, []), beginning_end, end=True)
        after = _holding(out, by_page.get(pi + 2, []), continuation_start, end=False)
        if before is not None:
            out[before] = _extend(out[before], continuation, counter, limit, append=True)
        if after is not None:
            out[after] = _extend(out[after], beginning, counter, limit, append=False)
    return out


# ------------------------------------------------------------------ detection
def _norm(text: str) -> str:
    return re.sub(r"\d+", "#", " ".join(text.split())).lower()


def _repeated_blocks(page_blocks: list[Sequence[BlockLike]]) -> set[str]:
    """Normalised texts of blocks that sit at a page edge on several pages."""
    seen: Counter[str] = Counter()
    for blocks in page_blocks:
        edges = {_norm(b.text) for b in (*blocks[:2], *blocks[-2:])}
        seen.update(edges)
    return {t for t, n in seen.items() if n >= _REPEATED_PAGES and t}


def _edge_block(blocks: Sequence[BlockLike], repeated: set[str], *, last: bool) -> BlockLike | None:
    """The last (or first) block of a page that is not a repeated header/footer."""
    order = reversed(blocks) if last else iter(blocks)
    for b in order:
        if b.text.strip() and _norm(b.text) not in repeated:
            return b
    return None


def _sentence_across(
    tail: BlockLike,
    head: BlockLike,
    split_sentences: Callable[[str], list[tuple[int, int]]],
    detect_number: Callable[[str], str | None],
) -> tuple[str, int, str, int] | None:
    """``(beginning, end offset on page N, continuation, start offset on page N+1)``
    of a sentence cut by the page break between blocks ``tail`` and ``head``."""
    if tail.kind is not BlockKind.TEXT or head.kind is not BlockKind.TEXT:
        return None
    if head.number is not None:
        return None
    tail_spans = split_sentences(tail.text)
    head_spans = split_sentences(head.text)
    if not tail_spans or not head_spans:
        return None
    ts, te = tail_spans[-1]
    hs, he = head_spans[0]
    beginning, continuation = tail.text[ts:te], head.text[hs:he]
    if beginning.rstrip(_CLOSERS)[-1:] in ("", *_FINAL) or beginning.endswith("-"):
        return None
    first = continuation[0]
    if first in _BULLETS or _ITEM_START.match(continuation) or detect_number(continuation):
        return None
    last_word = re.split(r"\s+", beginning)[-1].lower()
    continues = (
        first.islower()
        or first in _CONTINUES_ANY
        or (
            (first.isalnum() or first in "\"“‘'(")
            and (last_word in _CONNECTIVES or beginning[-1] in _CONNECTIVE_CHARS)
        )
    )
    if not continues:
        return None
    return beginning, tail.start + te, continuation, head.start + hs


def _holding(chunks: list[Chunk], indices: list[int], pos: int, *, end: bool) -> int | None:
    """Index of the chunk among ``indices`` whose body ends (or starts) at ``pos``,
    or failing that contains it."""
    for i in indices:
        c = chunks[i]
        if (c.end if end else c.start) == pos:
            return i
    for i in indices:
        c = chunks[i]
        if c.start <= pos <= c.end:
            return i
    return None


# ------------------------------------------------------------------- joining
def _clip(text: str, *, keep_start: bool) -> str:
    """``text`` within :data:`BRIDGE_MAX_CHARS`, cut at a word, the cut marked "…"."""
    text = " ".join(text.split())
    if len(text) <= BRIDGE_MAX_CHARS:
        return text
    room = BRIDGE_MAX_CHARS - 2
    if keep_start:
        cut = text.rfind(" ", 0, room + 1)
        return text[: cut if cut > 0 else room].rstrip() + " " + _ELLIPSIS
    cut = text.find(" ", len(text) - room - 1)
    return _ELLIPSIS + " " + text[(cut + 1 if cut >= 0 else len(text) - room) :].lstrip()


def _fit(text: str, tokens: int, counter: TokenCounter, *, keep_start: bool) -> str:
    """The part of ``text`` (kept from its start or its end) of at most ``tokens``
    tokens, cut between words and marked "…"; "" when nothing useful fits."""
    offsets = counter.offsets(text)
    if len(offsets) <= tokens:
        return text
    room = tokens - 1  # the "…" marking the cut
    if room < _MIN_TOKENS:
        return ""
    if keep_start:
        cut = text.rfind(" ", 0, offsets[room - 1][1] + 1)
        part = text[:cut].rstrip() if cut > 0 else ""
        return f"{part} {_ELLIPSIS}" if part else ""
    cut = text.find(" ", offsets[len(offsets) - room][0] - 1)
    part = text[cut:].lstrip() if cut >= 0 else ""
    return f"{_ELLIPSIS} {part}" if part else ""


def _extend(chunk: Chunk, extra: str, counter: TokenCounter, limit: int, *, append: bool) -> Chunk:
    """``chunk`` with ``extra`` joined after (or before) its body in ``text``,
    shortened so that ``text`` keeps within ``limit`` tokens."""
    text = chunk.text
    extra = _clip(extra, keep_start=append)
    # ``text`` is "{header}\n{body}" (plus any earlier addition after the body);
    # a beginning goes right in front of the body.
    at = len(text) - len(chunk.body) if text.endswith(chunk.body) else text.rfind(chunk.body)
    head, rest = text[: max(at, 0)], text[max(at, 0) :]
    budget = limit - counter.count(text) - 1  # the separator "…" is one token
    while True:
        part = _fit(extra, budget, counter, keep_start=append)
        if not part:
            return chunk
        joined = f"{text}{SEPARATOR}{part}" if append else f"{head}{part}{SEPARATOR}{rest}"
        n = counter.count(joined)
        if n <= limit:
            return chunk.model_copy(update={"text": joined})
        budget -= n - limit
