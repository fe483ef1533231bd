"""CAP CASEMETS XML as an ingest format (ingest/casemets.py) on CAP's own
files: metadata from the XML's elements, reporter pages, typed opinion parts,
and refusal of any other XML."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from core.errors import DocumentParseError, UnsupportedFormatError
from core.settings import IngestSettings
from core.types import Document
from ingest.casemets import SOURCE_METADATA, SOURCE_TEXT, parse_xml
from ingest.loaders import detect_format, load_document
from ingest.precedent import analyse_document, reanalyse_document
from knowledge_base.citation_graph import CitationGraph, DocumentProfile
from tests.precedents.conftest import CAP, cap_gold

#: Conway v. Kinsworthy, 21 Ark. 9 (1860): headnotes, counsel's summaries.
CONWAY = "32044078573896_0001"
#: Young v. Young, 288 Ark. 33 (1986): a dissent by Hickman.
YOUNG = "32044078577194_0006"


def _xml(case_id: str) -> Path:
    volume, number = case_id.split("_")
    return CAP / "original_casemets" / f"{volume}_redacted_CASEMETS_{number}.xml"


@cache
def _load(case_id: str) -> tuple[Document, DocumentProfile]:
    document = load_document(_xml(case_id), IngestSettings())
    profile, _ = analyse_document(document)
    return document, profile


def test_recognised_by_content_not_suffix(tmp_path: Path) -> None:
    renamed = tmp_path / "young.txt"
    renamed.write_bytes(_xml(YOUNG).read_bytes())
    assert detect_format(_xml(YOUNG)) == "casemets"
    assert detect_format(renamed) == "casemets"
    assert load_document(renamed, IngestSettings()).mime == "application/mets+xml"


def test_1860_case_metadata_from_the_xml() -> None:
    gold = cap_gold(CONWAY)
    document, p = _load(CONWAY)
    assert (p.kind, p.kind_source) == ("opinion", "metadata")
    assert p.case_name == gold["case_name"] == "Conway vs. Kinsworthy"
    assert p.parties == ["Conway", "Kinsworthy"]
    # The 1860 text prints no court, date or citation: the XML records them.
    assert (p.court_id, p.court_name) == ("ark", gold["court"])
    assert p.decided == gold["date"] == "1860-01"
    assert p.own_citations == gold["citations"] == ["21 Ark. 9"]
    assert p.docket is None  # CAP's docketnumber element is empty
    assert p.author == "English"
    assert "Rectos" in p.judges  # "Absent, Mr. Justice Rectos." (CAP's OCR)
    assert p.attorneys == [
        "Hempstead for the appellant.",
        "Garland, also for appellant.",
        "Watkins & Gallagher, for the appellee.",
    ]
    for field in ("case_name", "court_id", "court_name", "decided", "own_citations", "author"):
        assert p.sources[field] == SOURCE_METADATA, field
    assert "docket" not in p.sources  # no value, no source
    assert document.title == "Conway v. Kinsworthy"


def test_1986_case_metadata_from_the_xml() -> None:
    gold = cap_gold(YOUNG)
    _, p = _load(YOUNG)
    assert p.case_name == gold["case_name"]
    assert (p.court_id, p.court_name) == ("ark", "Arkansas Supreme Court")
    assert p.decided == gold["date"] == "1986-01-13"
    assert p.docket == gold["docket"] == "85-186"
    assert p.own_citations == gold["citations"] == ["288 Ark. 33", "701 S.W.2d 369"]
    assert p.parties == ["Marvin Henry YOUNG", "Linda Joyce YOUNG"]
    assert p.author == "Steele Hays"
    assert p.judges[:2] == ["Steele Hays", "Darrell Hickman"]
    assert "Purtle" in p.judges  # "Purtle, J., not participating."
    # CASEMETS has no element for the disposition: it is read from the text.
    assert p.disposition == "affirmed as modified"
    assert p.sources["disposition"] == SOURCE_TEXT
    assert p.sources["docket"] == SOURCE_METADATA


def test_pages_are_reporter_pages_in_reading_order() -> None:
    document, p = _load(CONWAY)
    # 21 Ark. 9-17: page N of the document opens with its reporter page number.
    labels = [page.text.split("\n", 1)[0] for page in document.pages]
    assert labels == [str(n) for n in range(9, 18)]
    for page in document.pages:
        assert page.blocks
        for b in page.blocks:
            assert page.text[b.start : b.end] == b.text
        assert not any(b.text == page.text.split("\n", 1)[0] for b in page.blocks[:1])
    # A headnote running over the page break (CAP's pgmap "11(106) 12(17)":
    # words, split at soft hyphens too) ends at the top of reporter page 10;
    # the word hyphenated across the break goes whole to the next page.
    assert document.pages[0].text.endswith("adversely to the right of the")
    assert document.pages[1].text.startswith("10\n\ncom\xadplainant: Held, that the relief")
    # The opinion begins on page 12 (ORDER 14), after counsel's summaries.
    major = next(part for part in p.parts if part.part == "majority")
    assert (major.page, major.label) == (4, "Opinion of the Court (English)")
    assert document.pages[3].text[major.start :].startswith("Mr. Chief Justice English,")


def test_parts_label_headnotes_summary_and_dissent() -> None:
    _, conway = _load(CONWAY)
    labels = [(part.part, part.label) for part in conway.parts]
    assert labels[:3] == [
        ("caption", "Caption"),
        ("syllabus", "Headnotes"),
        ("syllabus", "Summary"),
    ]
    document, young = _load(YOUNG)
    dissent = next(part for part in young.parts if part.part == "dissent")
    assert (dissent.label, dissent.author) == ("Dissent (Darrell Hickman)", "Darrell Hickman")
    page = document.pages[dissent.page - 1].text
    assert page[dissent.start :].startswith("Darrell Hickman, Justice,\n\ndissenting.")


def test_other_xml_is_refused_naming_the_file(tmp_path: Path) -> None:
    books = tmp_path / "books.xml"
    books.write_text("<?xml version='1.0'?>\n<library><book>Bleak House</book></library>\n")
    with pytest.raises(UnsupportedFormatError) as err:
        load_document(books, IngestSettings())
    assert "books.xml" in str(err.value)
    assert "root element is <library>" in err.value.reason
    assert "CASEMETS" in err.value.reason
    # METS, but not a CAP case file.
    mets = tmp_path / "scan.xml"
    mets.write_text('<mets xmlns="http://www.loc.gov/METS/"><fileSec/></mets>')
    with pytest.raises(UnsupportedFormatError, match=r"scan.xml: .*without a CAP case body"):
        load_document(mets, IngestSettings())
    broken = tmp_path / "broken.xml"
    broken.write_text("this is not XML <")
    with pytest.raises(UnsupportedFormatError, match=r"broken.xml: .*not well-formed XML"):
        load_document(broken, IngestSettings())


def test_entity_expansion_is_refused(tmp_path: Path) -> None:
    laughs = (
        '<?xml version="1.0"?>\n<!DOCTYPE mets [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;">]>\n'
        '<mets xmlns="http://www.loc.gov/METS/">&b;</mets>'
    )
    bomb = tmp_path / "laughs.xml"
    bomb.write_text(laughs)
    with pytest.raises(UnsupportedFormatError, match=r"laughs.xml: .*document type declaration"):
        load_document(bomb, IngestSettings())
    # The parser refuses it too, whatever detection said.
    with pytest.raises(UnsupportedFormatError, match="document type declaration"):
        parse_xml(bomb, laughs.encode())
    external = b'<!DOCTYPE m SYSTEM "file:///etc/passwd"><m>x</m>'
    with pytest.raises(UnsupportedFormatError):
        parse_xml(bomb, external)
    with pytest.raises(DocumentParseError, match="not well-formed"):
        parse_xml(bomb, b"<m><n></m>")


@pytest.mark.slow
def test_ingested_xml_labels_chunks_and_finds_citations_page_exact(ingested) -> None:  # type: ignore[no-untyped-def]
    c = ingested(_xml(YOUNG), _xml(CONWAY))
    docs = {d.name: d.id for d in c.kb.list_documents("t1")}
    young = docs[_xml(YOUNG).name]
    chunks = c.kb.document_chunks("t1", young)
    pages = c.kb.pages("t1", young)
    for chunk in chunks:  # page-exact invariant
        assert pages[chunk.page - 1].text[chunk.start : chunk.end] == chunk.body
    dissent = next(ch for ch in chunks if "I am of the view that Paulsen" in ch.body)
    assert dissent.heading_path[0] == "Dissent (Darrell Hickman)"
    holding = next(ch for ch in chunks if "The primary issue to be decided" in ch.body)
    assert holding.heading_path[0] == "Opinion of the Court (Steele Hays)"
    conway = docs[_xml(CONWAY).name]
    headnote = next(
        ch for ch in c.kb.document_chunks("t1", conway) if "unlocated donation claim" in ch.body
    )
    assert headnote.heading_path[0] == "Headnotes"
    # eyecite on the XML's text: offsets index the stored page text.
    graph = CitationGraph(c.kb.catalog)
    refs = graph.citations("t1", young)
    paulsen = [r for r in refs if r.authority == "269 Ark. 523"]
    assert {r.part for r in paulsen} == {"majority", "dissent"}  # cited by both
    day = next(r for r in refs if r.authority == "281 Ark. 261")
    assert (day.part, day.case_name, day.parallels) == (
        "majority",
        "Day v. Day",
        ["663 S.W.2d 719"],
    )
    for ref in refs:
        assert c.kb.page_text("t1", young, ref.page)[ref.start : ref.end] == ref.text
    # The profile, with its sources, survives the catalog.
    stored = graph.profile("t1", young)
    assert stored is not None
    assert stored.sources["court_name"] == SOURCE_METADATA
    assert stored.attorneys
    assert stored.own_citations == ["288 Ark. 33", "701 S.W.2d 369"]
    # `dossier kind` re-reads the metadata from the stored original XML.
    again = reanalyse_document(c.kb, "t1", young, "opinion")
    assert (again.kind_source, again.docket) == ("user", "85-186")
    assert again.sources["docket"] == SOURCE_METADATA
