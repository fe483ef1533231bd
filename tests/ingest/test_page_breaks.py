"""Sentences cut by a page break are whole in the indexed ``chunk.text`` while
``body`` and offsets stay verbatim on one page (ingest/page_breaks.py).

Real CUAD PDFs through the real PDF loader, chunker and MiniLM tokenizer.
"""

from __future__ import annotations

import pytest

from core.settings import IngestSettings
from core.types import BlockKind, Chunk, Document
from ingest.chunking import Chunker
from ingest.loaders import load_document
from ingest.page_breaks import BRIDGE_MAX_CHARS, SEPARATOR
from knowledge_base.tokens import TokenCounter
from tests.conftest import CUAD
from tests.ingest.test_chunking import assemble, check_invariants

PDF_DIR = CUAD / "pdf"
AIMMUNE = "AimmuneTherapeuticsInc_20200205_8-K_EX-10.3_11967170_EX-10.3_Development Agreement.pdf"
ATN = "AtnInternationalInc_20191108_10-Q_EX-10.1_11878541_EX-10.1_Maintenance Agreement.pdf"


def load(name: str, chunker: Chunker) -> tuple[Document, list[Chunk]]:
    document = load_document(PDF_DIR / name, IngestSettings(ocr=False))
    return document, chunker.chunk(document, "doc", "t")


@pytest.fixture(scope="module")
def aimmune(chunker: Chunker) -> tuple[Document, list[Chunk]]:
    return load(AIMMUNE, chunker)


def flat(text: str) -> str:
    return " ".join(text.split())


def on_page(chunks: list[Chunk], page: int) -> list[Chunk]:
    found = [c for c in chunks if c.page == page]
    assert found, page
    return found


def unbridged(chunk: Chunk) -> bool:
    """``text`` is just header + body: nothing carried over either way."""
    return chunk.text == chunk.body or chunk.text.endswith("\n" + chunk.body)


# ------------------------------------------------------------- real contract
def test_sentence_across_page_break_is_whole_in_both_chunks(
    aimmune: tuple[Document, list[Chunk]], chunker: Chunker, counter: TokenCounter
) -> None:
    """Aimmune/Xencor development agreement, section 4.3.3: page 20 ends
    "... warning letter, service of process or other equivalent" and page 21
    starts "communication or action. Without limiting ..."."""
    document, chunks = aimmune
    check_invariants(document, chunks, counter)
    assert document.pages[19].text.rstrip().endswith("service of process or other equivalent")
    assert document.pages[20].text.lstrip().startswith("communication or action.")

    last, first = on_page(chunks, 20)[-1], on_page(chunks, 21)[0]
    # Bodies stay verbatim page text, each on its own page.
    assert last.body.endswith("or other equivalent")
    assert first.body.startswith("communication or action.")
    for c in (last, first):
        assert document.pages[c.page - 1].text[c.start : c.end] == c.body

    # The chunk ending page 20 indexes the whole sentence, its end taken from page 21.
    sentence_start = last.body.index("All material information pertaining")
    whole = flat(last.body[sentence_start:]) + SEPARATOR + "communication or action."
    assert whole in flat(last.text)
    assert last.text.endswith(SEPARATOR + "communication or action.")
    # The chunk starting page 21 indexes the sentence's beginning from page 20.
    assert (
        "warning letter, service of process or other equivalent" + SEPARATOR + first.body
        in first.text
    )
    prefix = first.text[: first.text.rindex(first.body)].split("\n")[-1]
    assert len(prefix) <= BRIDGE_MAX_CHARS + len(SEPARATOR)
    # Header first, as before.
    assert first.text.startswith("Exhibit 10.3\nARTICLE 4 REGULATORY")
    for c in (last, first):
        assert counter.count(c.text) <= chunker.max_tokens


def test_no_bridge_after_full_stop_or_before_a_numbered_clause(
    aimmune: tuple[Document, list[Chunk]],
) -> None:
    document, chunks = aimmune
    # Page 38 ends with a full stop; page 39 starts "As used herein, ...".
    assert document.pages[37].text.rstrip().endswith("permitted by this Agreement.")
    assert document.pages[38].text.lstrip().startswith("As used herein")
    assert unbridged(on_page(chunks, 38)[-1])
    assert unbridged(on_page(chunks, 39)[0])
    # Page 15 ends without punctuation ('... "VAT" 8.3.3'), page 16 opens a new clause.
    assert document.pages[14].text.rstrip().endswith("8.3.3")
    assert document.pages[15].text.lstrip().startswith("2.2.2 No Implied Licenses")
    assert unbridged(on_page(chunks, 15)[-1])
    assert unbridged(on_page(chunks, 16)[0])


def test_bridge_steps_over_a_repeated_footer(chunker: Chunker, counter: TokenCounter) -> None:
    """AT&T maintenance agreement: the sentence of 2.10 "Control" runs from
    page 7 to page 8, with a "Proprietary and Confidential" footer between."""
    document, chunks = load(ATN, chunker)
    check_invariants(document, chunks, counter)
    before = next(c for c in on_page(chunks, 7) if "at least fifty percent (50%)" in c.body)
    first = on_page(chunks, 8)[0]
    assert first.body.startswith("of the voting power or voting equity of such Person")
    assert "(50%)" + SEPARATOR + "of the voting power or voting equity" in before.text
    assert "at least fifty percent (50%)" + SEPARATOR + first.body in first.text


@pytest.mark.slow
def test_all_cuad_pdfs_keep_offsets_and_window_with_bridges(
    chunker: Chunker, counter: TokenCounter
) -> None:
    paths = sorted(p for p in PDF_DIR.iterdir() if p.suffix.lower() == ".pdf")
    assert len(paths) == 101
    bridged = 0
    for path in paths:
        document = load_document(path, IngestSettings(ocr=False))
        chunks = chunker.chunk(document, "doc", "t")
        check_invariants(document, chunks, counter)
        counts = counter.count_batch([c.text for c in chunks])
        assert max(counts, default=0) <= chunker.max_tokens, path.name
        bridged += sum(not c.text.endswith(c.body) for c in chunks)
    assert bridged > 100  # about one page break in five cuts a sentence


# --------------------------------------------------------------- hand-built
TEXT, HEADING, TABLE = BlockKind.TEXT, BlockKind.HEADING, BlockKind.TABLE


def two_pages(end: str, start: tuple[BlockKind, str, int | None, str | None]) -> Document:
    p1 = assemble(
        1, [(TEXT, "1. Delivery. The Supplier shall deliver the Goods. " + end, None, "1")]
    )
    p2 = assemble(2, [start, (TEXT, "Title passes on delivery.", None, None)])
    return Document(name="supply.pdf", mime="application/pdf", pages=[p1, p2])


@pytest.mark.parametrize(
    ("end", "start"),
    [
        ("Risk passes to the Buyer.", (TEXT, "when the Goods arrive, title passes.", None, None)),
        ("Risk passes to the Buyer on", (HEADING, "2. PAYMENT", 1, "2")),
        ("Risk passes to the Buyer on", (TEXT, "(a) delivery at the port;", None, "(a)")),
        ("Risk passes to the Buyer on", (TABLE, "Item  Price\nGoods  100", None, None)),
        ("Risk passes to the Buyer on", (TEXT, "• delivery at the port;", None, None)),
        ("Risk passes to the Buyer", (TEXT, "Title passes on payment.", None, None)),
    ],
    ids=["full-stop", "heading", "numbered-clause", "table", "bullet", "new-sentence"],
)
def test_no_bridge_hand_built(
    chunker: Chunker,
    counter: TokenCounter,
    end: str,
    start: tuple[BlockKind, str, int | None, str | None],
) -> None:
    document = two_pages(end, start)
    chunks = chunker.chunk(document, "doc", "t")
    check_invariants(document, chunks, counter)
    assert all(unbridged(c) for c in chunks), [c.text for c in chunks]


def test_bridge_hand_built_connective_and_upper_case(
    chunker: Chunker, counter: TokenCounter
) -> None:
    document = two_pages(
        "Risk passes to the Buyer on delivery at the premises of the",
        (TEXT, "Buyer named in the Order. Title passes on payment.", None, None),
    )
    chunks = chunker.chunk(document, "doc", "t")
    check_invariants(document, chunks, counter)
    assert chunks[0].text.endswith("premises of the" + SEPARATOR + "Buyer named in the Order.")
    assert (
        "Risk passes to the Buyer on delivery at the premises of the" + SEPARATOR + chunks[1].body
    ) in chunks[1].text


def test_bridge_is_cut_to_the_token_limit(counter: TokenCounter) -> None:
    """With a small window the carried-over part is shortened (marked "…") so
    that ``text`` stays within max_tokens; bodies are untouched."""
    small = Chunker(counter, target_tokens=60, max_tokens=72)
    clause = "the Supplier shall keep complete and accurate records of every delivery"
    p1 = assemble(1, [(TEXT, f"Records. During the Term {clause}, {clause} and of", None, None)])
    rest = (
        "all invoices, credit notes, purchase orders, delivery notes and shipping documents, "
        f"and {clause} and every invoice for seven years after the end of the Term."
    )
    p2 = assemble(2, [(TEXT, rest, None, None)])
    document = Document(name="records.pdf", mime="application/pdf", pages=[p1, p2])
    chunks = small.chunk(document, "doc", "t")
    check_invariants(document, chunks, counter)
    assert [c.page for c in chunks] == [1, 2]
    for c in chunks:
        assert counter.count(c.text) <= 72
    assert chunks[0].text.startswith("records.pdf\n")
    # Both carried-over parts were cut at a word to fit, and say so.
    assert chunks[0].text.endswith(" …")
    assert (chunks[0].body + SEPARATOR + "all invoices, credit notes") in chunks[0].text
    assert chunks[1].text.startswith("records.pdf\n… ")
    assert ("records of every delivery and of" + SEPARATOR + chunks[1].body) in chunks[1].text
