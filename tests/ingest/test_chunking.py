"""Chunking invariants on real CUAD contracts and hand-built structured documents.

Oracles: every chunk's body is the exact page text at its offsets; every
chunk's ``text`` fits the MiniLM window (``count + 2 <= 256``); splits fall at
structure, sentence or row boundaries.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from core.errors import ConfigurationError, IngestError
from core.types import Block, BlockKind, Chunk, Document, Page, chunk_id
from ingest.chunking import Chunker, split_sentences
from ingest.page_breaks import SEPARATOR
from knowledge_base.tokens import TokenCounter

CUAD_TXT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev" / "txt"
WINDOW = 256


def paragraph_page(number: int, text: str) -> Page:
    """A page whose blocks are its blank-line paragraphs (TEXT, no numbers)."""
    blocks = []
    for m in re.finditer(r"\S(?:.*?\S)??(?=\s*\n[ \t]*\n|\s*\Z)", text, re.S):
        blocks.append(Block(kind=BlockKind.TEXT, text=m.group(), start=m.start(), end=m.end()))
    return Page(number=number, text=text, blocks=blocks)


def assemble(number: int, parts: list[tuple[BlockKind, str, int | None, str | None]]) -> Page:
    """A page from (kind, text, level, number) blocks joined by blank lines."""
    text, blocks = "", []
    for kind, body, level, num in parts:
        if text:
            text += "\n\n"
        blocks.append(
            Block(
                kind=kind,
                text=body,
                start=len(text),
                end=len(text) + len(body),
                level=level,
                number=num,
            )
        )
        text += body
    return Page(number=number, text=text, blocks=blocks)


def check_invariants(document: Document, chunks: list[Chunk], counter: TokenCounter) -> None:
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        page_text = document.pages[c.page - 1].text
        assert page_text[c.start : c.end] == c.body, (document.name, c.ordinal)
        assert c.body, (document.name, c.ordinal)
        assert c.body == c.body.strip(), (document.name, c.ordinal)
        # text = header, [sentence beginning from the page before " … "], body,
        # [" … " sentence end from the page after] (ingest/page_breaks.py).
        before, found, after = c.text.rpartition(c.body)
        assert found, (document.name, c.ordinal)
        assert not after or after.startswith(SEPARATOR), (document.name, c.ordinal)
        assert not before or before.endswith(("\n", SEPARATOR)), (document.name, c.ordinal)
        assert c.document_name == document.name
    counts = counter.count_batch([c.text for c in chunks])
    for c, n in zip(chunks, counts, strict=True):
        assert n + 2 <= WINDOW, (document.name, c.ordinal, n)
    # Reading order: pages ascending, offsets ascending and disjoint within a page.
    for a, b in itertools.pairwise(chunks):
        assert (a.page, a.end) <= (b.page, b.start)


def cuad_docs(blocks: bool) -> list[Document]:
    paths = sorted(CUAD_TXT.glob("*.txt"))
    assert len(paths) == 101, CUAD_TXT
    docs = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        page = paragraph_page(1, text) if blocks else Page(number=1, text=text)
        docs.append(Document(name=path.name, mime="text/plain", pages=[page]))
    return docs


# ------------------------------------------------------------------ tokens
def test_token_counter_counts_without_special_tokens_and_untruncated(counter: TokenCounter) -> None:
    assert counter.count("Hello world") == 2
    assert counter.count("") == 0
    long_text = "indemnification " * 400
    assert counter.count(long_text) > 400  # the shipped tokenizer.json truncates at 128
    texts = ["Section 5.2(a)", "Governing law.", long_text]
    assert counter.count_batch(texts) == [counter.count(t) for t in texts]
    assert counter.count_batch([]) == []


def test_token_counter_bad_path_names_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"missing\.json"):
        TokenCounter(tmp_path / "missing.json")


# ---------------------------------------------------------------- sentences
def test_sentence_splitter_knows_legal_abbreviations() -> None:
    text = (
        "Acme Holdings Co. Ltd. and Widget Inc. agree per Sec. 5.2 of the U.S. Code, e.g. the "
        "rules in No. 12 and J. Smith v. Jones, i.e. as applied. "
        "5.2. The Supplier shall deliver the Products. (a) Each party shall comply!"
    )
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences == [
        "Acme Holdings Co. Ltd. and Widget Inc. agree per Sec. 5.2 of the U.S. Code, e.g. the "
        "rules in No. 12 and J. Smith v. Jones, i.e. as applied.",
        "5.2. The Supplier shall deliver the Products.",
        "(a) Each party shall comply!",
    ]


def test_sentence_splitter_breaks_before_list_items_after_colon() -> None:
    text = "The parties agree as follows:\n1. DEFINITIONS. Terms have meanings.\n(a) first;\n(b) second."
    sentences = [text[s:e] for s, e in split_sentences(text)]
    assert sentences[0] == "The parties agree as follows:"
    assert sentences[1] == "1. DEFINITIONS."
    assert sentences[-2:] == ["(a) first;", "(b) second."]


# ------------------------------------------------------------------- CUAD
@pytest.mark.slow
@pytest.mark.parametrize("blocks", [True, False], ids=["paragraph-blocks", "no-blocks"])
def test_cuad_offsets_and_window_on_all_101_contracts(
    chunker: Chunker, counter: TokenCounter, blocks: bool
) -> None:
    total = 0
    for i, doc in enumerate(cuad_docs(blocks)):
        chunks = chunker.chunk(doc, f"cuad-{i}", "tenant-a")
        assert chunks, doc.name
        check_invariants(doc, chunks, counter)
        assert all(c.tenant == "tenant-a" and c.document_id == f"cuad-{i}" for c in chunks)
        total += len(chunks)
    assert total > 5000


def test_cuad_sample_never_cuts_a_sentence(chunker: Chunker, counter: TokenCounter) -> None:
    docs = cuad_docs(blocks=True)[::20]
    cut_inside = total = 0
    for doc in docs:
        page = doc.pages[0]
        ends: set[int] = set()
        long_sentence: dict[int, bool] = {}
        for b in page.blocks:
            ends.add(b.end)
            for s, e in split_sentences(b.text):
                ends.add(b.start + e)
                too_long = counter.count(b.text[s:e]) > chunker.max_tokens - 40
                for pos in range(b.start + s, b.start + e + 1):
                    long_sentence[pos] = too_long
        chunks = chunker.chunk(doc, "d", "t")
        check_invariants(doc, chunks, counter)
        total += len(chunks)
        for c in chunks:
            if c.end not in ends:
                # The documented last resort: only inside an over-long sentence.
                assert long_sentence.get(c.end), (doc.name, c.ordinal, c.body[-80:])
                cut_inside += 1
    assert cut_inside < total * 0.1


def test_title_and_heading_path_lead_the_text(chunker: Chunker) -> None:
    doc = cuad_docs(blocks=False)[2]  # Aduro Biotech consulting agreement
    chunks = chunker.chunk(doc, "d", "t")
    services = next(c for c in chunks if c.body.startswith("1. Services."))
    assert services.clause_number == "1"
    assert services.heading_path[-1] == "1. Services"
    title_line, path_line, *_ = services.text.split("\n")
    assert "CONSULTING AGREEMENT" in title_line
    assert path_line.endswith("1. Services")


# ------------------------------------------------------------- hand-built
def termination_document() -> Document:
    H, T = BlockKind.HEADING, BlockKind.TEXT
    p1 = assemble(
        1,
        [
            (H, "MASTER SUPPLY AGREEMENT", 1, None),
            (H, "6. Payment", 1, "6"),
            (T, "6.1 Fees. Buyer shall pay all fees within thirty days of invoice.", None, "6.1"),
            (H, "7. Termination", 1, "7"),
            (
                T,
                "7.1 Term. This Agreement runs for three years from the Effective Date. It renews "
                "automatically for successive one-year terms unless either party gives notice of "
                "non-renewal at least ninety days before the end of the then-current term.",
                None,
                "7.1",
            ),
            (
                T,
                "7.2 Termination for Cause. Either party may terminate this Agreement on written "
                "notice if the other party:",
                None,
                "7.2",
            ),
            (
                T,
                "(a) materially breaches this Agreement and fails to cure within 30 days;",
                None,
                "(a)",
            ),
        ],
    )
    p2 = assemble(
        2,
        [
            (
                T,
                "(b) becomes insolvent or makes an assignment for the benefit of creditors.",
                None,
                "(b)",
            ),
            (T, "8. Governing Law. This Agreement is governed by the laws of New York.", None, "8"),
        ],
    )
    return Document(
        name="msa.pdf", mime="application/pdf", pages=[p1, p2], title="Master Supply Agreement"
    )


def test_heading_path_and_clause_numbers(chunker: Chunker, counter: TokenCounter) -> None:
    doc = termination_document()
    chunks = chunker.chunk(doc, "doc-1", "t")
    check_invariants(doc, chunks, counter)
    by_start = {c.body.split()[0]: c for c in chunks}
    a = next(c for c in chunks if "materially breaches" in c.body)
    assert a.heading_path[-2:] == ["7. Termination", "7.2 Termination for Cause"]
    assert "7. Termination > 7.2 Termination for Cause" in a.text.split("\n")[1]
    assert a.text.startswith("Master Supply Agreement\n")
    b = next(c for c in chunks if "insolvent" in c.body)  # page 2: path carried over
    assert b.page == 2
    assert b.heading_path[-2:] == ["7. Termination", "7.2 Termination for Cause"]
    assert b.clause_number == "7.2(b)"
    law = by_start["8."]
    assert law.heading_path[-1] == "8. Governing Law"
    assert law.clause_number == "8"
    assert "7. Termination" not in law.heading_path
    # Never merged across a top-level section; "6. Payment" heading merged forward.
    for c in chunks:
        assert not ("Buyer shall pay" in c.body and "three years" in c.body)
    pay = next(c for c in chunks if "Buyer shall pay" in c.body)
    assert pay.body.startswith("MASTER SUPPLY AGREEMENT\n\n6. Payment")
    assert pay.heading_path == ["6. Payment", "6.1 Fees"]
    assert pay.clause_number == "6.1"
    assert all(c.kind is not BlockKind.HEADING for c in chunks)


def test_clause_a_gets_composed_number(counter: TokenCounter) -> None:
    doc = termination_document()
    chunks = Chunker(counter, target_tokens=20).chunk(doc, "doc-1", "t")  # one clause per chunk
    check_invariants(doc, chunks, counter)
    a = next(c for c in chunks if "materially breaches" in c.body)
    assert a.clause_number == "7.2(a)"
    assert a.body.startswith("(a)")


def test_long_table_split_only_between_rows(chunker: Chunker, counter: TokenCounter) -> None:
    rows = [
        f"Product SKU-{i:03d} | Radiosurgery system component {i} | Unit price USD {1000 + i * 17:,} | Lead time {i % 9 + 2} weeks"
        for i in range(80)
    ]
    table = "\n".join(rows)
    page = assemble(
        1,
        [
            (BlockKind.HEADING, "Schedule A. Pricing", 1, None),
            (BlockKind.TEXT, "The prices below apply to all Purchase Orders.", None, None),
            (BlockKind.TABLE, table, None, None),
            (BlockKind.TEXT, "Prices exclude VAT.", None, None),
        ],
    )
    doc = Document(name="pricing.docx", mime="application/docx", pages=[page])
    chunks = chunker.chunk(doc, "doc-t", "t")
    check_invariants(doc, chunks, counter)
    tables = [c for c in chunks if c.kind is BlockKind.TABLE]
    assert len(tables) > 1
    assert [r for c in tables for r in c.body.split("\n")] == rows  # whole rows, in order
    assert all("Prices exclude" not in c.body and "apply to all" not in c.body for c in tables)


def test_over_long_sentence_is_cut_at_clause_punctuation(
    chunker: Chunker, counter: TokenCounter
) -> None:
    items = "; ".join(
        f"({i}) the obligation of the Supplier under paragraph {i} to deliver goods"
        for i in range(120)
    )
    text = f"The Supplier warrants that {items}."
    doc = Document(name="long.txt", mime="text/plain", pages=[Page(number=1, text=text)])
    chunks = chunker.chunk(doc, "doc-l", "t")
    check_invariants(doc, chunks, counter)
    assert len(chunks) > 3
    assert all(c.body.endswith((";", ".")) for c in chunks)


def test_unbreakable_text_still_fits_the_window(chunker: Chunker, counter: TokenCounter) -> None:
    text = "x" * 3000 + " " + "Zq9" * 800
    doc = Document(name="blob.txt", mime="text/plain", pages=[Page(number=1, text=text)])
    check_invariants(doc, chunker.chunk(doc, "doc-b", "t"), counter)


def test_ids_are_deterministic(chunker: Chunker) -> None:
    first = chunker.chunk(termination_document(), "doc-1", "t")
    second = chunker.chunk(termination_document(), "doc-1", "t")
    assert [c.model_dump() for c in first] == [c.model_dump() for c in second]
    assert [c.id for c in first] == [chunk_id("doc-1", i) for i in range(len(first))]
    assert len({c.id for c in first}) == len(first)


def test_empty_pages_produce_no_chunks(chunker: Chunker, counter: TokenCounter) -> None:
    pages = [
        Page(number=1, text=""),
        Page(number=2, text="  \n\n\t "),
        Page(number=3, text="1. Scope. This Agreement covers services."),
        Page(number=4, text="\n", blocks=[Block(text="\n", start=0, end=1)]),
    ]
    doc = Document(name="sparse.pdf", mime="application/pdf", pages=pages)
    chunks = chunker.chunk(doc, "doc-e", "t")
    check_invariants(doc, chunks, counter)
    assert [c.page for c in chunks] == [3]
    blank = Document(name="blank.pdf", mime="application/pdf", pages=pages[:2])
    assert chunker.chunk(blank, "doc-x", "t") == []


def test_heading_at_page_end_goes_to_next_page_path(
    chunker: Chunker, counter: TokenCounter
) -> None:
    p1 = assemble(1, [(BlockKind.TEXT, "Intro text of the agreement.", None, None),
                      (BlockKind.HEADING, "ARTICLE 9 CONFIDENTIALITY", 1, "ARTICLE 9")])  # fmt: skip
    p2 = assemble(
        2, [(BlockKind.TEXT, "9.1 Each party keeps the other's information secret.", None, "9.1")]
    )
    doc = Document(name="nda.pdf", mime="application/pdf", pages=[p1, p2])
    chunks = chunker.chunk(doc, "doc-n", "t")
    check_invariants(doc, chunks, counter)
    assert [c.page for c in chunks] == [1, 2]
    assert chunks[1].heading_path == ["ARTICLE 9 CONFIDENTIALITY", "9.1"]
    assert chunks[1].clause_number == "9.1"


def test_bad_block_offsets_raise_naming_the_document(chunker: Chunker) -> None:
    page = Page(number=1, text="Hello world.", blocks=[Block(text="Hello", start=1, end=6)])
    doc = Document(name="broken.pdf", mime="application/pdf", pages=[page])
    with pytest.raises(IngestError, match=r"broken\.pdf: page 1"):
        chunker.chunk(doc, "d", "t")


def test_limits_beyond_the_window_are_rejected(counter: TokenCounter) -> None:
    with pytest.raises(ConfigurationError, match="max_tokens=300"):
        Chunker(counter, target_tokens=160, max_tokens=300)
    with pytest.raises(ConfigurationError, match="target_tokens"):
        Chunker(counter, target_tokens=250, max_tokens=240)


@pytest.mark.slow
def test_real_files_through_the_loaders(chunker: Chunker, counter: TokenCounter) -> None:
    from core.settings import IngestSettings
    from ingest import loaders

    data = CUAD_TXT.parent.parent
    pdfs = sorted(p for p in (data / "cuad-dev" / "pdf").iterdir() if p.suffix.lower() == ".pdf")
    paths = [
        *pdfs[:3],  # upper-case .PDF names
        *[p for p in pdfs if p.suffix == ".pdf"][:2],
        *sorted((data / "docx").rglob("*.docx"))[:5],
        data / "court" / "vector-pdf.pdf",
    ]
    for i, path in enumerate(paths):
        doc = loaders.load_document(path, IngestSettings())
        chunks = chunker.chunk(doc, f"real-{i}", "t")
        assert chunks, path.name
        check_invariants(doc, chunks, counter)
