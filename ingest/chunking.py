"""Legal-structure-aware chunking: a parsed :class:`Document` into :class:`Chunk` s.

Rules, in order of precedence:

1. Every chunk fits the embedding window: ``counter.count(chunk.text) + 2 <= 256``
   (and ``<= max_tokens``). This is checked, not estimated: sizes come from the
   model's own tokenizer and any chunk whose joins are not exact pre-token
   boundaries is re-counted and, if needed, re-split.
2. ``document.pages[c.page - 1].text[c.start:c.end] == c.body``; chunks never
   span pages; bodies carry no leading/trailing whitespace.
3. Splits fall at structure first (headings, numbered clauses), then sentences
   (:func:`split_sentences`, which knows legal abbreviations), then table rows.
   Only a single sentence (or table row) longer than the limit is cut inside,
   at ``;``, then line breaks, then ``:``/``,``, then whitespace, then tokens.
4. Consecutive small blocks of one section are packed greedily up to
   ``target_tokens``. A heading of level <= 2 or a new top-level number always
   starts a new chunk; a new sub-clause (``7.2`` after ``7.1``) starts one once
   the current chunk holds a quarter of the target. Headings are merged forward
   into the text that follows (taking its heading path); a heading left alone at
   a page end whose section continues on the next page is dropped (it is in the
   next chunks' heading path).
   Tables are never packed with text, and split only between rows.

``chunk.text`` is ``"{title}\\n{heading path}\\n{body}"`` (empty parts omitted),
the header truncated to :data:`HEADER_MAX_TOKENS`. Where a sentence runs across
a page break, ``text`` (never ``body``) of the chunk ending page N also gets the
sentence's rest from page N+1 (``"{body} … {rest}"``) and the chunk starting page
N+1 its beginning (``"{beginning} … {body}"``), within the token limit
(:mod:`ingest.page_breaks`). ``heading_path`` holds the
headings and numbered clauses enclosing every part of the chunk (a TEXT block
numbered ``7.2`` sits under the latest ``7``; the path carries across pages);
``clause_number`` is the innermost number, sub-items included (``7.2(a)``).
"""

from __future__ import annotations

import logging
import re
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

from core.errors import ConfigurationError, IngestError
from core.types import Block, BlockKind, Chunk, Document, chunk_id
from ingest.page_breaks import bridge_page_breaks
from knowledge_base.tokens import TokenCounter, is_pretoken_boundary

__all__ = [
    "HEADER_MAX_TOKENS",
    "WINDOW_TOKENS",
    "Chunker",
    "detect_number",
    "parse_number",
    "split_sentences",
]

logger = logging.getLogger(__name__)

#: The embedding model's window, [CLS] and [SEP] included.
WINDOW_TOKENS = 256
#: Token budget of the title + heading-path header of ``chunk.text``.
HEADER_MAX_TOKENS = 40
_TITLE_MAX_TOKENS = 20
_LABEL_MAX_TOKENS = 10

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_ROW_SPLIT = re.compile(r"\n")
# Last-resort cut classes inside one over-long sentence, best first.
_CUT_CLASSES = (
    re.compile(r";(?=\s)"),
    re.compile(r"(?<=\S)(?=\n)"),
    re.compile(r"[:,](?=\s)"),
    re.compile(r"(?<=\S)(?=\s)"),
)
_HARD, _SOFT, _NONE = 2, 1, 0

# ------------------------------------------------------------------ sentences
_ABBREVIATIONS = frozenset(
    re.findall(
        r"\S+",
        "sec secs no nos inc ltd co corp llc plc bros art arts para paras cl ch pp p mr mrs ms "
        "dr st jr sr esq approx dept ex exh fig id ibid al et vs v viz cf seq ref sch pt",
    )
)
_REFERENCE_WORDS = frozenset(
    re.findall(
        r"\S+",
        "section sections sec secs article articles art clause clauses paragraph paragraphs "
        "para no nos exhibit schedule annex appendix part rule item §",
    )
)
_SENT_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
# A list item on a new line (or after a layout gap) following ":", ";" or ".".
_LIST_ITEM = re.compile(
    r"(?<=[:;.])(?=(?:[ \t]{2,}|[ \t]*\n\s*)"
    r"(?:\d{1,3}(?:\.\d{1,3})*\.?[ \t]|\([a-zA-Z0-9]{1,4}\)[ \t]|ARTICLE\b|SECTION\b))"
)
_OPENERS = "\"'“‘([§•"
_INITIALS = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]?")
_NUMBERISH = re.compile(r"\(?(?:\d+(?:\.\d+)*|[ivxlcIVXLC]+|[a-zA-Z])\)?")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of ``text``, stripped, in order.

    A sentence ends at ``.``/``!``/``?`` (plus closing quotes/brackets) followed by
    whitespace and an upper-case letter, digit, opening quote/bracket or ``§``;
    not after legal abbreviations (Sec., No., Inc., Ltd., Co., U.S., e.g., i.e.,
    v., ...), single capitals (initials), nor after a clause number that opens
    the sentence (``5.2.``, ``(a).``) or follows a reference word ("Section 5.").
    """
    n = len(text)
    cuts: list[int] = []
    sent_start = 0
    for m in _SENT_END.finditer(text):
        k = m.end()
        while k < n and text[k].isspace():
            k += 1
        if k >= n:
            break
        c = text[k]
        if not (c.isupper() or c.isdigit() or c in _OPENERS):
            continue
        if text[m.start()] == "." and not _ends_sentence(text, m.start(), sent_start):
            continue
        cuts.append(m.end())
        sent_start = k
    cuts.extend(m.start() for m in _LIST_ITEM.finditer(text))
    spans, pos = [], 0
    for cut in [*sorted(set(cuts)), n]:
        s, e = _strip(text, pos, cut)
        if s < e:
            spans.append((s, e))
        pos = cut
    return spans


def _ends_sentence(text: str, p: int, sent_start: int) -> bool:
    """Whether the period at ``p`` ends a sentence (see :func:`split_sentences`)."""
    w0 = p
    while w0 > sent_start and not text[w0 - 1].isspace():
        w0 -= 1
    core = text[w0:p].lstrip('("“‘[')
    if core.lower() in _ABBREVIATIONS or (len(core) == 1 and core.isupper()):
        return False
    if _INITIALS.fullmatch(core) and "." in core:
        return False
    if _NUMBERISH.fullmatch(core):
        if w0 <= sent_start or "." in core:  # "5.2." is a clause number, not an end
            return False
        gap = w0
        while gap > sent_start and text[gap - 1].isspace():
            gap -= 1
        if w0 - gap >= 2 or "\n" in text[gap:w0] or text[gap - 1 : gap] in (":", ";"):
            return False  # a list item number after a layout gap
        q = w0
        while q > sent_start and text[q - 1].isspace():
            q -= 1
        q0 = q
        while q0 > sent_start and not text[q0 - 1].isspace():
            q0 -= 1
        if text[q0:q].rstrip(".").lower() in _REFERENCE_WORDS:
            return False
    return True


# -------------------------------------------------------------------- numbers
_NUM_START = re.compile(
    r"(?:(?P<kw>ARTICLE|SECTION|Article|Section)\s+(?P<kn>\d{1,3}(?:\.\d{1,3})*|[IVXLC]{1,7})\b(?P<kp>[.:]?)"
    r"|(?P<num>\d{1,3}(?:\.\d{1,3})+\.?|\d{1,3}\.)"
    r"|(?P<sub>\((?:[a-z]{1,4}|[A-Z]{1,2}|\d{1,2})\)))(?=\s|$)"
)
_PARSE = re.compile(
    r"(?i)(?:(?:article|section|sec\.?|§|clause|part)\s*)?"
    r"(?P<main>\d{1,3}(?:\.\d{1,3})*|[ivxlc]{1,7})?\.?\s*(?P<subs>(?:\([a-z0-9]{1,4}\))*)\.?"
)
_BARE_ITEM = re.compile(r"([a-zA-Z]{1,4}|\d{1,2})[.)]")
_ROMAN = re.compile(r"(?i)(?=[ivxlc])(c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_CAPTION = re.compile(r"[ \t]*([A-Z][^.:;\n]{0,78}?)(?:[.:](?=\s|$)|(?=[ \t]{3,}|\n|$))")


def _roman(token: str) -> int | None:
    """Value of a Roman numeral; single letters other than I, V, X are not numerals."""
    if not _ROMAN.fullmatch(token) or (len(token) == 1 and token.lower() not in "ivx"):
        return None
    values = [_ROMAN_VALUES[c] for c in token.lower()]
    return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))


def detect_number(text: str, strict: bool = True) -> str | None:
    """The clause number opening ``text`` as written ("ARTICLE 5", "5.2", "(a)"), or None.

    ``strict`` (for body text) accepts "Section 5" only in capitals or followed by
    ``.``/``:``, so that "Section 5 of this Agreement ..." is not a clause start.
    """
    m = _NUM_START.match(text)
    if m is None:
        return None
    if m.group("kw") and strict and not (m.group("kw").isupper() or m.group("kp")):
        return None
    return m.group(0).rstrip(".:")


def parse_number(number: str) -> tuple[tuple[int, ...] | None, list[str]]:
    """``"7.2(a)(i)"`` -> ``((7, 2), ["a", "i"])``; ``"ARTICLE V"`` -> ``((5,), [])``."""
    number = " ".join(number.split())
    m = _PARSE.fullmatch(number)
    if m is None:
        bare = _BARE_ITEM.fullmatch(number)  # "a)", "iv)", "A." list items
        return None, [bare.group(1)] if bare else []
    subs = re.findall(r"\(([a-z0-9]{1,4})\)", m.group("subs") or "", re.I)
    main = m.group("main")
    if not main:
        return None, subs
    if main[0].isdigit():
        return tuple(int(p) for p in main.split(".")), subs
    value = _roman(main)
    return ((value,) if value else None), subs


# -------------------------------------------------------------------- outline
@dataclass(eq=False, slots=True)
class _Entry:
    """One heading-path element: a heading or a numbered clause."""

    label: str
    key: tuple[int, ...] | None  # dotted number, for nesting ("7.2" under "7")
    level: int | None  # heading level; None for a numbered TEXT clause
    clause: str | None  # canonical number ("7.2"), or None
    short: str | None = None  # label truncated for the chunk header
    short_tokens: int = -1  # -1: not counted yet


def _keeps(old: _Entry, new: _Entry) -> bool:
    """Whether ``old`` stays on the path above ``new``."""
    if old.key is not None and new.key is not None:
        return len(old.key) < len(new.key) and new.key[: len(old.key)] == old.key
    if new.level is None:  # numbered clause under an unnumbered heading
        return old.key is None
    return old.level is not None and old.level < new.level


class _Outline:
    """The running heading path while walking a document in reading order."""

    def __init__(self) -> None:
        self.stack: list[_Entry] = []
        self.subs: list[tuple[str, str]] = []  # (style, token) of (a)/(i)/(A)/(1) items
        self.path: tuple[_Entry, ...] = ()
        self.clause_number: str | None = None
        self.entries: list[_Entry] = []  # every entry ever pushed

    def heading(self, level: int, number: str | None, text: str) -> int:
        key, subs = parse_number(number) if number else (None, [])
        label = " ".join(text.split())[:160].rstrip(" .:")
        self._push(_Entry(label, key, max(1, level), ".".join(map(str, key)) if key else None))
        for sub in subs:
            self._sub(sub)
        self._refresh()
        return _HARD if level <= 2 or (key is not None and len(key) == 1) else _SOFT

    def clause(self, number: str | None, text: str) -> int:
        key, subs = parse_number(number) if number else (None, [])
        brk = _NONE
        if key is not None:
            self._push(
                _Entry(_clause_label(text, number or ""), key, None, ".".join(map(str, key)))
            )
            brk = _HARD if len(key) == 1 else _SOFT
        for sub in subs:
            self._sub(sub)
        if key is not None or subs:
            self._refresh()
        return brk

    def _push(self, entry: _Entry) -> None:
        keep = 0
        while keep < len(self.stack) and _keeps(self.stack[keep], entry):
            keep += 1
        del self.stack[keep:]
        self.stack.append(entry)
        self.entries.append(entry)
        self.subs = []

    def _sub(self, token: str) -> None:
        prev_alpha = next((t for s, t in self.subs if s in "aA"), "")
        follows = len(token) == 1 and len(prev_alpha) == 1 and ord(token) == ord(prev_alpha) + 1
        if token.isdigit():
            style = "1"
        elif _roman(token) and not follows:
            style = "i" if token.islower() else "I"
        else:
            style = "a" if token.islower() else "A"
        styles = [s for s, _ in self.subs]
        if style in styles:
            del self.subs[styles.index(style) :]
        self.subs.append((style, token))

    def _refresh(self) -> None:
        self.path = tuple(self.stack)
        base = next((e.clause for e in reversed(self.stack) if e.clause), "")
        suffix = "".join(f"({t})" for _, t in self.subs)
        self.clause_number = (base + suffix) or None


def _clause_label(text: str, number: str) -> str:
    """ "7.2 Termination for Cause. Either party ..." -> "7.2 Termination for Cause";
    without a short Title-Case caption, just the number as written."""
    m = _NUM_START.match(text)
    head_end = m.end() if m else 0
    head = text[:head_end] if m else number
    cap = _CAPTION.match(text, head_end) if m else None
    if cap:
        words = cap.group(1).split()
        if len(words) <= 8 and all(
            not w[0].isalpha() or w[0].isupper() or len(w) <= 3 for w in words
        ):
            return " ".join(text[: cap.end(1)].split())
    return " ".join(head.split()).rstrip(".:")


# ------------------------------------------------------------------- chunker
@dataclass(slots=True)
class _Seg:
    """A piece never cut further: a block, sentence, table row or last-resort part."""

    page: int  # 0-based index into document.pages
    start: int
    end: int
    tokens: int
    block: int  # document-wide block index
    table: bool
    heading: bool  # a heading, or a numbered clause that is only its caption
    brk: int  # _HARD / _SOFT / _NONE: the structure boundary opening this piece
    path: tuple[_Entry, ...]
    clause: str | None


@dataclass(slots=True)
class _Para:
    """A paragraph of a page without blocks; quacks like :class:`Block`."""

    kind: BlockKind
    text: str
    start: int
    end: int
    level: int | None
    number: str | None


_Draft = tuple[list[_Seg], tuple[_Entry, ...]]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _fallback_blocks(text: str) -> list[_Para]:
    """Paragraphs at blank lines; numbered ones get ``number``, short all-caps or
    "ARTICLE 5"-style lines become headings."""
    paras: list[_Para] = []
    pos = 0
    for m in [*_BLANK_LINE.finditer(text), None]:
        end = m.start() if m else len(text)
        s, e = _strip(text, pos, end)
        pos = m.end() if m else len(text)
        if s == e:
            continue
        para = text[s:e]
        number = detect_number(para)
        key = parse_number(number)[0] if number else None
        short = "\n" not in para and len(para) <= 120 and len(para.split()) <= 12
        caps = short and not any(c.islower() for c in para) and sum(c.isalpha() for c in para) > 2
        heading = (
            short
            and (number is None or key is not None)
            and (caps or (key is not None and para[0] in "AaSs"))
            and not para.endswith((",", ";"))
        )
        level = (len(key) if key else 1) if heading else None
        kind = BlockKind.HEADING if heading else BlockKind.TEXT
        paras.append(_Para(kind, para, s, e, level, number))
    return paras


class Chunker:
    """Splits documents into window-safe, structure-aligned chunks (see module doc).

    ``target_tokens`` is the packing goal and ``max_tokens`` the hard limit, both
    for the whole ``chunk.text`` (header included) in embedding-model tokens.
    Deterministic: the same document and id give the same chunks and ids.
    Stateless between calls, so one instance may serve several threads.
    """

    def __init__(
        self, counter: TokenCounter, target_tokens: int = 160, max_tokens: int = 240
    ) -> None:
        if max_tokens + 2 > WINDOW_TOKENS:
            raise ConfigurationError(
                f"chunk max_tokens={max_tokens} exceeds the embedding window of "
                f"{WINDOW_TOKENS} tokens incl. [CLS]/[SEP]: use at most {WINDOW_TOKENS - 2}"
            )
        if max_tokens < HEADER_MAX_TOKENS + 32:
            raise ConfigurationError(
                f"chunk max_tokens={max_tokens} is too small: use at least {HEADER_MAX_TOKENS + 32}"
            )
        if not 0 < target_tokens <= max_tokens:
            raise ConfigurationError(
                f"chunk target_tokens={target_tokens} must be between 1 and max_tokens={max_tokens}"
            )
        self.counter = counter
        self.target_tokens = target_tokens
        self.max_tokens = max_tokens
        self._cap = max_tokens - HEADER_MAX_TOKENS  # most body tokens of one piece

    def chunk(self, document: Document, document_id: str, tenant: str) -> list[Chunk]:
        """Chunks of ``document`` in reading order, ``ordinal`` 0..n-1.

        Raises :class:`IngestError` naming the document when a block's offsets do
        not match its page text. Empty pages give no chunks.
        """
        t0 = time.perf_counter()
        title, title_tokens = self._title(document)
        # Blocks as the chunker reads each page (paragraphs at blank lines for
        # a page without parsed blocks); the page-break bridge reads the same.
        page_blocks: list[list[Block] | list[_Para]] = [
            page.blocks or _fallback_blocks(page.text) for page in document.pages
        ]
        segs, entries = self._segments(document, page_blocks)
        self._count_labels(entries)
        cache: dict[tuple[int, ...], tuple[str, int]] = {}

        def header(path: tuple[_Entry, ...]) -> tuple[str, int]:
            key = tuple(id(e) for e in path)  # entries outlive this call's cache
            if key not in cache:
                cache[key] = _header(title, title_tokens, path)
            return cache[key]

        drafts = self._pack(segs, header)
        chunks = self._finish(document, document_id, tenant, drafts, header)
        chunks = bridge_page_breaks(
            document,
            chunks,
            self.counter,
            min(self.max_tokens, WINDOW_TOKENS - 2),
            page_blocks,
        )
        logger.debug(
            "ingest.chunked doc=%s pages=%d chunks=%d ms=%.1f",
            document_id,
            len(document.pages),
            len(chunks),
            (time.perf_counter() - t0) * 1000,
        )
        return chunks

    # ------------------------------------------------------------ segmenting
    def _segments(
        self, document: Document, page_blocks: Sequence[list[Block] | list[_Para]]
    ) -> tuple[list[_Seg], list[_Entry]]:
        """Walk blocks in reading order: structure events, then pieces with sizes.

        Sizes come from one batched count over sentences/rows (a block's size is
        the sum of its pieces', exact because pieces are whitespace-separated);
        only pieces over the limit are re-encoded, with offsets, to be cut.
        """
        items: list[tuple[int, Block | _Para, list[tuple[int, int]]]] = []
        for pi, (page, blocks) in enumerate(zip(document.pages, page_blocks, strict=True)):
            for bi, b in enumerate(blocks):
                if page.text[b.start : b.end] != b.text:
                    raise IngestError(
                        document.name,
                        f"page {pi + 1}, block {bi}: offsets {b.start}..{b.end} "
                        "do not match the page text",
                    )
                if b.kind is BlockKind.TABLE:
                    pieces = _rows(b.text)
                elif b.kind is BlockKind.HEADING:
                    pieces = [_strip(b.text, 0, len(b.text))]
                else:
                    pieces = split_sentences(b.text)
                if pieces and pieces[0][0] < pieces[0][1]:
                    items.append((pi, b, pieces))
        texts = [b.text[s:e] for _, b, pieces in items for s, e in pieces]
        counts = self.counter.count_batch(texts)
        over = [i for i, n in enumerate(counts) if n > self._cap]
        offsets = dict(zip(over, self.counter.offsets_batch([texts[i] for i in over]), strict=True))
        outline = _Outline()
        segs: list[_Seg] = []
        k = 0
        for gi, (pi, b, pieces) in enumerate(items):
            table = b.kind is BlockKind.TABLE
            heading = b.kind is BlockKind.HEADING
            brk = _NONE
            if heading:
                number = b.number or detect_number(b.text, strict=False)
                brk = outline.heading(b.level or 1, number, b.text)
            elif not table:
                brk = outline.clause(b.number or detect_number(b.text), b.text)
                heading = brk != _NONE and " ".join(b.text.split()).rstrip(".:") == (
                    outline.path[-1].label
                )
            sizes = counts[k : k + len(pieces)]
            if sum(sizes) <= self._cap:
                start, end = b.start + pieces[0][0], b.start + pieces[-1][1]
                segs.append(_Seg(pi, start, end, sum(sizes), gi, table, heading, brk,
                                 outline.path, outline.clause_number))  # fmt: skip
                k += len(pieces)
                continue
            for j, ((s, e), n) in enumerate(zip(pieces, sizes, strict=True)):
                if j > 0 and not table and not heading:
                    number = detect_number(b.text[s:e])
                    brk = outline.clause(number, b.text[s:e]) if number else _NONE
                parts = [(s, e, n)]
                if k + j in offsets:
                    toks = offsets[k + j]
                    parts = [
                        (s + qs, s + qe, qn) for qs, qe, qn in _cut(b.text[s:e], toks, self._cap)
                    ]
                for qs, qe, qn in parts:
                    segs.append(_Seg(pi, b.start + qs, b.start + qe, qn, gi, table, heading, brk,
                                     outline.path, outline.clause_number))  # fmt: skip
                    brk = _NONE
            k += len(pieces)
        return segs, outline.entries

    # --------------------------------------------------------------- packing
    def _pack(
        self, segs: list[_Seg], header: Callable[[tuple[_Entry, ...]], tuple[str, int]]
    ) -> list[_Draft]:
        """Greedy packing of consecutive pieces (rules in the module docstring)."""
        drafts: list[_Draft] = []
        cur: list[_Seg] = []
        cur_path: tuple[_Entry, ...] = ()
        body = 0
        for seg in segs:
            if cur:
                last = cur[-1]
                # Headings with nothing under them yet go with what follows.
                nested = not seg.table and all(s.heading for s in cur)
                path = seg.path if nested else _common(cur_path, seg.path)
                total = header(path)[1] + body + seg.tokens
                roomy = nested or (seg.table and last.table)  # fill to the limit
                split = (
                    seg.page != last.page
                    or seg.start < last.end
                    or ((seg.table or last.table) and seg.block != last.block)
                    or total > (self.max_tokens if roomy else self.target_tokens)
                    or (seg.brk == _HARD and not nested)
                    or (seg.brk == _SOFT and not nested and body >= self.target_tokens // 4)
                )
                if not split:
                    cur.append(seg)
                    cur_path, body = path, body + seg.tokens
                    continue
                drafts.append((cur, cur_path))
            cur, cur_path, body = [seg], seg.path, seg.tokens
        if cur:
            drafts.append((cur, cur_path))
        kept: list[_Draft] = []
        for i, (draft, path) in enumerate(drafts):
            # A heading alone at a page end whose section goes on next page: its
            # text is in the next chunks' heading path.
            if path and all(s.heading for s in draft) and i + 1 < len(drafts):
                nxt, nxt_path = drafts[i + 1]
                if nxt[0].page > draft[-1].page and nxt_path[: len(path)] == path:
                    continue
            kept.append((draft, path))
        return kept

    # --------------------------------------------------------------- headers
    def _title(self, document: Document) -> tuple[str, int]:
        title = " ".join((document.title or document.name or "").split())
        offsets = self.counter.offsets(title)
        if len(offsets) > _TITLE_MAX_TOKENS:  # keep both ends: "ACME_2010 … SUPPLY AGREEMENT"
            head = offsets[_TITLE_MAX_TOKENS * 3 // 5 - 2][1]
            tail = offsets[len(offsets) - (_TITLE_MAX_TOKENS * 2 // 5 - 1)][0]
            title = f"{title[:head].rstrip()} … {title[tail:].lstrip()}"
        return title, self.counter.count(title)

    def _count_labels(self, entries: list[_Entry]) -> None:
        """Truncate every heading label to ``_LABEL_MAX_TOKENS``, one batched encode."""
        todo = [e for e in entries if e.short_tokens < 0]
        for e, toks in zip(todo, self.counter.offsets_batch([e.label for e in todo]), strict=True):
            if len(toks) <= _LABEL_MAX_TOKENS:
                e.short, e.short_tokens = e.label, len(toks)
                continue
            cut = toks[_LABEL_MAX_TOKENS - 1][1]
            while cut > 0 and not is_pretoken_boundary(e.label, cut):
                cut -= 1
            e.short = e.label[:cut].rstrip() if cut else e.label[: toks[0][1]]
            e.short_tokens = self.counter.count(e.short)

    # ------------------------------------------------------------- finishing
    def _finish(
        self,
        document: Document,
        document_id: str,
        tenant: str,
        drafts: list[_Draft],
        header: Callable[[tuple[_Entry, ...]], tuple[str, int]],
    ) -> list[Chunk]:
        """Enforce the token limit exactly, then build the chunks in reading order."""
        limit = min(self.max_tokens, WINDOW_TOKENS - 2)
        queue, done = drafts, []
        while queue:
            # Sizes are exact sums when every join is a pre-token boundary; else re-count.
            unsure = [
                i
                for i, (segs, path) in enumerate(queue)
                if header(path)[1] + sum(s.tokens for s in segs) > limit
                or not _exact_joins(document, segs)
            ]
            texts = [_chunk_text(document, queue[i][0], header(queue[i][1])[0]) for i in unsure]
            counts = dict(zip(unsure, self.counter.count_batch(texts), strict=True))
            nxt: list[_Draft] = []
            for i, (segs, path) in enumerate(queue):
                if counts.get(i, 0) <= limit:
                    done.append((segs, path))
                else:
                    budget = limit - header(path)[1]
                    nxt.extend((part, path) for part in self._resplit(document, segs, budget))
            queue = nxt
        done.sort(key=lambda d: (d[0][0].page, d[0][0].start))
        chunks = []
        for ordinal, (segs, path) in enumerate(done):
            first, last = segs[0], segs[-1]
            clauses = {s.clause for s in segs}
            clause = (
                clauses.pop()
                if len(clauses) == 1
                else next((e.clause for e in reversed(path) if e.clause), None)
            )
            kind = BlockKind.TEXT
            if all(s.table for s in segs):
                kind = BlockKind.TABLE
            elif all(s.heading for s in segs):
                kind = BlockKind.HEADING
            chunks.append(
                Chunk(
                    id=chunk_id(document_id, ordinal),
                    document_id=document_id,
                    tenant=tenant,
                    document_name=document.name,
                    ordinal=ordinal,
                    page=first.page + 1,
                    start=first.start,
                    end=last.end,
                    body=document.pages[first.page].text[first.start : last.end],
                    text=_chunk_text(document, segs, header(path)[0]),
                    heading_path=[e.label for e in path],
                    clause_number=clause,
                    kind=kind,
                )
            )
        return chunks

    def _resplit(self, document: Document, segs: list[_Seg], budget: int) -> list[list[_Seg]]:
        """Halve an over-limit draft between pieces; a single piece is cut by tokens."""
        if len(segs) > 1:
            total, acc = sum(s.tokens for s in segs), 0
            for i, s in enumerate(segs[:-1], start=1):
                acc += s.tokens
                if acc * 2 >= total:
                    return [segs[:i], segs[i:]]
            return [segs[:-1], segs[-1:]]
        seg = segs[0]
        piece = document.pages[seg.page].text[seg.start : seg.end]
        toks = self.counter.offsets(piece)
        cap = max(1, min(budget - 2, len(toks) - 1))
        return [
            [
                replace(
                    seg,
                    start=seg.start + qs,
                    end=seg.start + qe,
                    tokens=n,
                    brk=seg.brk if j == 0 else _NONE,
                )
            ]
            for j, (qs, qe, n) in enumerate(_cut(piece, toks, cap))
        ]


def _header(title: str, title_tokens: int, path: tuple[_Entry, ...]) -> tuple[str, int]:
    """Title and ``" > "``-joined path within ``HEADER_MAX_TOKENS``, dropping outer
    entries first; the size is a sum (``">"`` is one token, spaces are free)."""
    labels = [(e.short or "", e.short_tokens) for e in path]
    while labels and title_tokens + sum(n for _, n in labels) + len(labels) - 1 > HEADER_MAX_TOKENS:
        labels.pop(0)
    path_text = " > ".join(t for t, _ in labels)
    tokens = title_tokens + (sum(n for _, n in labels) + len(labels) - 1 if labels else 0)
    return "\n".join(p for p in (title, path_text) if p), tokens


def _chunk_text(document: Document, segs: list[_Seg], header: str) -> str:
    body = document.pages[segs[0].page].text[segs[0].start : segs[-1].end]
    return f"{header}\n{body}" if header else body


def _exact_joins(document: Document, segs: list[_Seg]) -> bool:
    text = document.pages[segs[0].page].text
    for a, b in pairwise(segs):
        gap = text[a.end : b.start]
        if gap.strip() or (not gap and not is_pretoken_boundary(text, a.end)):
            return False
    return True


def _common(a: tuple[_Entry, ...], b: tuple[_Entry, ...]) -> tuple[_Entry, ...]:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x is not y:
            break
        n += 1
    return a[:n]


def _rows(text: str) -> list[tuple[int, int]]:
    """Table rows (lines) as stripped spans, empty lines skipped."""
    spans, pos = [], 0
    for m in [*_ROW_SPLIT.finditer(text), None]:
        s, e = _strip(text, pos, m.start() if m else len(text))
        if s < e:
            spans.append((s, e))
        pos = m.end() if m else len(text)
    return spans


def _cut(text: str, toks: list[tuple[int, int]], cap: int) -> list[tuple[int, int, int]]:
    """Last resort for one piece over the limit: ``(start, end, tokens)`` parts of
    at most ``cap`` tokens each, cut at the best class of ``_CUT_CLASSES`` that
    fills a third of ``cap``, else at the furthest cut of any class, else at a
    token end. ``toks`` are the token spans of ``text``."""
    starts, ends = [a for a, _ in toks], [z for _, z in toks]
    classes = [[m.end() for m in rx.finditer(text)] for rx in _CUT_CLASSES]
    parts: list[tuple[int, int, int]] = []
    pos = 0
    while True:
        first = bisect_left(starts, pos)
        if len(toks) - first <= cap:
            break
        limit = ends[first + cap - 1]
        best = None
        for cands in classes:
            i = bisect_right(cands, limit) - 1
            if i >= 0 and cands[i] > pos:
                best = best or cands[i]
                if bisect_right(ends, cands[i]) - first >= cap // 3:
                    best = cands[i]
                    break
        cut = best if best is not None else limit
        s, e = _strip(text, pos, cut)
        if s < e:
            parts.append((s, e, bisect_right(ends, e) - bisect_left(starts, s)))
        pos = cut
    s, e = _strip(text, pos, len(text))
    if s < e:
        parts.append((s, e, bisect_right(ends, e) - bisect_left(starts, s)))
    return parts
