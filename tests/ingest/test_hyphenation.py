"""Line-end hyphens: broken word or compound (ingest/loaders/hyphenation.py),
on the rules alone and through the real PDF loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import IngestSettings
from ingest.loaders import load_document
from ingest.loaders.hyphenation import Lexicon, join_lines, keep_hyphen
from tests.ingest.conftest import pdf_with_lines

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def lexicon(*lines: str) -> Lexicon:
    return Lexicon([list(lines)])


@pytest.mark.parametrize(
    ("head", "tail", "text", "kept"),
    [
        # 1. a part already hyphenated: broken only at its hyphens
        ("out-of", "pocket", "", True),
        ("need", "to-know", "", True),
        # 2. the document's own usage decides, either way, even for listed prefixes
        ("co", "branding", "the co-branding fee", True),
        ("co", "operate", "both shall cooperate", False),
        ("non", "willful", "a nonwillful act, nonwillful twice, non-willful once", False),
        ("post", "closing", "post-closing covenants", True),
        # 3. a bare suffix is a broken word
        ("pay", "ment", "pay the fee", False),
        ("agree", "ment", "the parties agree", False),
        # 4. one letter never ends a hyphenated line
        ("e", "mail", "", True),
        # 5. compound prefixes; re-, pre-, sub- begin too many plain words
        ("non", "compete", "", True),
        ("self", "insure", "", True),
        ("re", "quired", "", False),
        ("pre", "vail", "", False),
        ("sub", "ject", "", False),
        # 6. a head standing alone in the document, unless it begins solid words
        ("then", "current", "as then in force", True),
        ("with", "out", "with notice", False),
        ("there", "after", "there is", False),
        # 7. a long head before a tail that stands alone
        ("market", "facing", "facing the customer", True),
        ("re", "view", "a full view", False),
        # 8. otherwise a broken word
        ("termi", "nation", "", False),
        ("regula", "tory", "", False),
    ],
)
def test_keep_hyphen_rules(head: str, tail: str, text: str, kept: bool) -> None:
    assert keep_hyphen(head, tail, lexicon(text)) is kept


def test_break_pieces_are_not_evidence() -> None:
    # The "non" before a line-end hyphen and the "compete" after it are what
    # is being decided; they must not count as words of the document.
    lex = lexicon("a covenant not to", "accept a non-", "compete clause")
    assert lex["non"] == 0
    assert lex["compete"] == 0
    assert lex["clause"] == 1
    lex = lexicon("the out-of-pocket costs")
    assert lex["out-of"] == lex["of-pocket"] == lex["out-of-pocket"] == 1


def test_join_lines_spacing_and_soft_hyphen() -> None:
    lex = lexicon()
    assert join_lines("a non-", "compete clause", lex) == "a non-compete clause"
    assert join_lines("the termi-", "nation", lex) == "the termination"
    assert join_lines("the non\u00ad", "compete", lex) == "the noncompete"  # soft hyphen
    assert join_lines("runs 1990-", "2000", lex) == "runs 1990- 2000"
    assert join_lines("the Non-", "Compete", lex) == "the Non- Compete"
    assert join_lines("the end.", "Next", lex) == "the end. Next"


def test_pdf_uses_the_documents_own_spelling(tmp_path: Path) -> None:
    path = pdf_with_lines(
        tmp_path / "usage.pdf",
        [
            "The co-branding fee and the then",
            "applicable rates apply; each party shall co-",
            "branding the site, shall co-",
            "operate fully and cooperate in good faith, shall re-",
            "quired notice with-",
            "out delay, and any then-",
            "current Term ends.",
        ],
    )
    text = load_document(path, IngestSettings()).pages[0].text
    assert "shall co-branding the site" in text  # "co-branding" occurs mid-line
    assert "shall cooperate fully" in text  # "cooperate" occurs mid-line
    assert "shall required notice" in text  # re- is no compound prefix
    assert "notice without delay" in text  # "with" begins solid words
    assert "any then-current Term" in text  # "then" stands alone above


@pytest.mark.skipif(not DATA.is_dir(), reason="shared test data not present")
def test_real_contract_keeps_compounds_and_opinion_joins_words() -> None:
    settings = IngestSettings()
    # A Word-made CUAD contract: six "non-" + "exclusive" line breaks.
    pdf = next((DATA / "cuad-dev" / "pdf").glob("ARMSTRONGFLOORING*"))
    text = load_document(pdf, settings).text
    assert "nonexclusive" not in text
    assert "perpetual, non-exclusive, royalty" in text
    # A typeset Supreme Court opinion breaks words at line ends.
    text = load_document(DATA / "court" / "vector-pdf.pdf", settings).text
    assert "Okla-homa" not in text
    assert "regula-tory" not in text
    assert "regulatory authority" in text
