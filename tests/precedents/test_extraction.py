"""Opinion metadata, parts and citations on real opinions (no index needed)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from core.settings import IngestSettings
from core.types import Document, Page
from ingest.citations import extract_citations, normalise_authority
from ingest.loaders import load_document
from ingest.opinions import detect_kind, opinion_parts, opinion_profile
from tests.conftest import COURT, CUAD
from tests.precedents.conftest import cap_gold, cap_text


@cache
def _load(path: Path) -> Document:
    return load_document(path, IngestSettings())


def _cap(case_id: str) -> Document:
    return Document(
        name=case_id, mime="text/plain", pages=[Page(number=1, text=cap_text(case_id).read_text())]
    )


def test_cap_opinion_metadata_matches_caps_own() -> None:
    gold = cap_gold("32044078577194_0007")
    profile = opinion_profile(_cap("32044078577194_0007"))
    assert profile.case_name == gold["case_name"]
    assert profile.court_name == gold["court"]
    assert profile.court_id == "ark"
    assert profile.decided == gold["date"]
    assert profile.docket == gold["docket"]
    assert set(profile.own_citations) <= set(gold["citations"])
    assert profile.own_citations
    assert profile.author == "David Newbern"
    assert profile.disposition == "affirmed"
    assert profile.parties == ["Leslie T. CARTER", "George E. and Bessie MATTHEWS"]


def test_pdf_opinions_metadata_and_parts() -> None:
    cruz = opinion_profile(_load(COURT / "scotus_briefs" / "598us1r3_j4ek.pdf"))
    assert (cruz.case_name, cruz.court_id, cruz.decided) == (
        "CRUZ v. ARIZONA",
        "scotus",
        "2023-02-22",
    )
    assert cruz.own_citations == ["598 U.S. 17"]
    assert cruz.docket == "21–846"
    assert [(p.part, p.author) for p in cruz.parts][-1] == ("dissent", "Barrett")
    bittner = opinion_profile(_load(COURT / "scotus_briefs" / "598us1r6_0813.pdf"))
    assert bittner.own_citations == ["598 U.S. 85"]
    assert bittner.disposition == "reversed and remanded"
    assert cruz.disposition == "vacated and remanded"
    missouri = opinion_profile(_load(COURT / "missouri.pdf"))
    assert missouri.case_name == "NICHOLE MARIE JAGELS v. STATE OF MISSOURI"
    assert missouri.court_id == "moctapped"
    assert missouri.decided == "2021-01-19"
    slip = _load(COURT / "vector-pdf.pdf")
    parts = opinion_parts(slip.pages)
    assert [p.part for p in parts] == ["caption", "syllabus", "majority"]
    assert parts[1].page == 1


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (COURT / "vector-pdf.pdf", "opinion"),
        (COURT / "broken-mime.pdf", "opinion"),
        (COURT / "recap_documents" / "ca2_1-1.pdf", "brief"),
        (sorted((CUAD / "pdf").iterdir())[0], "contract"),
    ],
)
def test_document_kind(path: Path, kind: str) -> None:
    assert detect_kind(_load(path)) == kind


def test_citations_page_offsets_id_and_supra_on_the_slip_opinion() -> None:
    doc = _load(COURT / "vector-pdf.pdf")
    refs = extract_citations(doc.pages)
    for r in refs:  # the page-exact invariant
        assert doc.pages[r.page - 1].text[r.start : r.end] == r.text
    forms = {r.form for r in refs}
    assert {"full", "id", "supra", "statute"} <= forms
    ids = [r for r in refs if r.form == "id"]
    assert ids
    assert all(r.authority for r in ids[:10])
    first = next(r for r in refs if r.authority == "200 U.S. 321")
    assert first.pin == "337"
    assert first.case_name == "United States v. Detroit Timber & Lumber Co."
    assert first.page == 1
    assert any(r.form == "statute" and r.authority == "94 Stat. 3305" for r in refs)


def test_supra_resolution_and_treatment_on_a_cap_opinion() -> None:
    refs = extract_citations(_cap("32044078577194_0132").pages)
    supra = next(r for r in refs if r.form == "supra")
    assert supra.authority == "278 Ark. 533"  # "the Clayborn decision, supra"
    assert supra.treatment == "overruled"
    assert "expressly overruling" in supra.sentence


def test_normalise_authority() -> None:
    assert normalise_authority("288 ark. 37") == "288 Ark. 37"
    assert normalise_authority("200 U. S. 321") == "200 U.S. 321"
    assert normalise_authority("no citation here") is None


def test_cap_1860_headnotes_are_a_part_of_their_own() -> None:
    parts = opinion_parts(_cap("32044078573896_0002").pages)
    assert [(p.part, p.label) for p in parts] == [
        ("syllabus", "Headnotes"),
        ("majority", "Opinion of the Court (Compton)"),
    ]
