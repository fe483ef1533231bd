"""More value rules (issue 12), each on a real CUAD sentence read from ../shared/data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.derived import _BY_DEFAULT, _shifted, _term, derive_expiration, signed_date
from tools.clauses.value_names import law_adjective, parties
from tools.clauses.value_rules import term_length
from tools.clauses.values import document_value, rule_value
from tools.retrieval import Evidence, EvidenceLedger

_TXT = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev" / "txt"


def _cuad(prefix: str, marker: str, length: int) -> str:
    """``length`` characters of the CUAD contract whose name starts with
    ``prefix``, from ``marker`` on (CUAD's text, runs of whitespace as one space)."""
    path = next(p for p in sorted(_TXT.glob(f"{prefix}*.txt")))
    text = " ".join(path.read_text(encoding="utf-8").split())
    at = text.index(marker)
    return text[at : at + length]


def _names(passage: str) -> list[str]:
    found = parties(passage)
    assert found is not None
    return [name for name, _ in found[0]]


def test_parties_second_party_after_capitalised_and_and_hereinafter() -> None:
    passage = _cuad("InmodeLtd", "by and between: INVASIX", 380)
    assert _names(passage) == ["INVASIX LTD.", "FLEXTRONICS ISRAEL LTD."]


def test_parties_second_party_after_on_behalf_of_itself_and_its_affiliates() -> None:
    passage = _cuad("PHREESIA", "is by and between Allscripts", 230)
    assert _names(passage) == ["Allscripts Healthcare, LLC", "Phreesia, Inc."]


def test_parties_second_party_after_an_address_that_holds_and() -> None:
    passage = _cuad("CERES", "by and between INSTITUTE OF GRASSLAND", 400)
    assert _names(passage) == ["INSTITUTE OF GRASSLAND AND ENVIRONMENTAL RESEARCH", "CERES, INC."]


def test_parties_defined_term_after_a_phrase_in_the_parenthesis() -> None:
    passage = _cuad("VIVINT SOLAR", "by and between VIVINT SOLAR", 250)
    assert _names(passage) == ["VIVINT SOLAR, INC.", "VIVINT, INC."]


def test_parties_and_or_is_not_the_next_party() -> None:
    passage = _cuad("RandWorldwide", "by and between Dassault", 330)
    assert _names(passage) == ["Dassault Systemes", "PlanetCAD Inc."]


def test_parties_title_line_with_capitalised_and() -> None:
    passage = _cuad("AimmuneTherapeutics", "BY AND BETWEEN XENCOR", 58)
    assert _names(passage) == ["XENCOR, INC.", "AIMMUNE THERAPEUTICS, INC."]


def test_parties_last_party_named_by_a_term_defined_earlier() -> None:
    passage = _cuad("PACIFICSYSTEMS", "American Champion Media, Inc.", 700)
    assert _names(passage) == ["Shun Li De Commerce & Trading Ltd", "American Champion Media, Inc."]


def test_parties_listed_by_defined_terms_get_their_legal_names() -> None:
    passage = _cuad("GULFSOUTH", "The undersigned is a shareholder", 520)
    assert _names(passage) == [
        "Physician Sales & Service, Inc.",
        "PSS Merger Corp.",
        "Gulf South Medical Supply, Inc.",
    ]


def test_parties_name_ends_after_its_suffix() -> None:
    passage = _cuad("EMERALDHEALTH", "BETWEEN: EMERALD", 360)
    assert _names(passage) == ["EMERALD HEALTH NATURALS, INC.", "DR. GAETANO MORELLO N.D. INC."]


def test_parties_dated_line_after_the_title() -> None:
    title = _cuad("TRICITY", "OUTSOURCING AGREEMENT BY AND BETWEEN", 175)
    assert "DATED AS OF" in title
    names = _names(title)
    assert names[0] == "TRI CITY NATIONAL BANK"
    assert names[1].startswith("MARSHALL & ILSLEY CORPORATION")


# -- the initial term and the computed expiration ------------------------------------
def test_term_length_extend_for_a_period_named_the_initial_term() -> None:
    sentence = _cuad("Magenta", "This Agreement shall commence on the Effective Date and", 150)
    length = term_length(sentence)
    assert length is not None
    assert length.months == 60


def _evidence(sentence: str) -> list[dict[str, object]]:
    return [{"page": 1, "quote": sentence, "start": 0, "end": len(sentence)}]


def test_a_term_stating_no_start_runs_from_the_effective_date() -> None:
    sentence = _cuad("ORBSAT", "The term of the Agreement will be for 12 months", 72)
    found = _term(_evidence(sentence))
    assert found is not None
    assert found[3] == _BY_DEFAULT
    assert found[2].months == 12


def test_a_term_from_another_start_is_not_counted_from_the_effective_date() -> None:
    sentence = _cuad("SPIENERGY", "The term of this Agreement shall commence on the Services", 160)
    assert _term(_evidence(sentence)) is None


def test_a_start_with_a_blank_day_gives_an_end_month() -> None:
    sentence = _cuad("ELECTRAMECCANICA", "This Agreement shall have a term of four (4) years", 90)
    length = term_length(sentence)
    assert length is not None
    assert _shifted("2017-02", length) == "2021-02"


# -- dates only the signature block states -------------------------------------------
def _whole(*quotes: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, quote in enumerate(quotes):
        out.append({"page": i + 1, "quote": quote, "start": 0, "end": len(quote),
                    "chunk_id": f"c{i}"})  # fmt: skip
    return out


def _item_for() -> Callable[[dict[str, Any]], Evidence]:
    ledger = EvidenceLedger()

    def add(e: dict[str, Any]) -> Evidence:
        return ledger.add_passage(
            chunk_id=str(e["chunk_id"]), document_id="d", document="d.pdf", page=int(e["page"]),
            quote=str(e["quote"]), start=int(e["start"]), end=int(e["end"]),
        )  # fmt: skip

    return add


def test_agreement_date_from_the_latest_signature_date() -> None:
    block = _cuad("ScansourceInc", "IN WITNESS WHEREOF", 530)
    signed = signed_date("Agreement Date", _whole("Terms.", block), _item_for())
    assert signed is not None
    assert "signed on January 22, 2007" in signed.text
    assert signed.inputs[0][1] in block


def test_effective_date_defined_by_the_last_signature_skips_the_filing_footer() -> None:
    definition = _cuad("IpassInc", '"Effective Date" means the date of last signature', 68)
    block = _cuad("IpassInc", "IN WITNESS WHEREOF", 400)
    assert "12/3/2018" in block  # the EDGAR footer, dated after the signatures
    signed = signed_date("Effective Date", _whole(definition, block), _item_for())
    assert signed is not None
    assert signed.text.endswith("04/25/2018 [1][2].")


# -- governing law named by an adjective -------------------------------------------
def test_law_named_by_its_adjective() -> None:
    clause = _cuad("WHITESMOKE", "This Agreement is governed by English law", 120)
    value = rule_value("Governing Law", clause)
    assert value is not None
    assert value.jurisdictions == ["England"]
    assert law_adjective("England", clause) == "English"
    assert law_adjective("England", "the laws of England and Wales") is None


def test_effective_date_a_term_that_begins_outranks_the_date_made() -> None:
    made = _cuad("WOMENSGOLF", 'This Endorsement Agreement ("Agreement") is made this', 100)
    begins = _cuad("WOMENSGOLF", "1.1 The term of this Agreement shall begin on", 90)
    value = document_value("Effective Date", [made, begins])
    assert value is not None
    assert value.date == "2000-01-01"
    assert document_value("Agreement Date", [made, begins]).date == "1999-10-13"  # type: ignore[union-attr]


# -- dates a form leaves blank, dates of other agreements ----------------------------
def test_a_date_left_blank_is_blank_not_another_date() -> None:
    preamble = _cuad("Ideanomics", 'THIS CONTENT LICENSE AGREEMENT (this "Agreement"), dated', 110)
    for category in ("Agreement Date", "Effective Date"):
        value = document_value(category, [preamble])
        assert value is not None
        assert value.text == "blank"
        assert value.date is None


def test_a_month_with_a_blank_day_is_still_that_month() -> None:
    preamble = _cuad("ELECTRAMECCANICA", "This Manufacturing Agreement", 110)
    value = document_value("Effective Date", [preamble])
    assert value is not None
    assert value.text == "February 2017"


def test_the_date_of_the_agreement_amended_is_not_the_amendments_date() -> None:
    preamble = _cuad("Columbia", 'THIS AMENDMENT NO. 2 (this "Amendment") to the', 190)
    assert "December 8, 2009" in preamble
    assert document_value("Agreement Date", [preamble]) is None


def test_a_term_from_an_effective_date_that_is_the_date_of_signing() -> None:
    term = _cuad("IpassInc", "This Agreement shall commence on the Effective Date and shall", 135)
    definition = _cuad("IpassInc", '"Effective Date" means the date of last signature', 68)
    block = _cuad("IpassInc", "IN WITNESS WHEREOF", 400)
    whole = _whole(definition, term, block)
    derived = derive_expiration(whole[1:2], [], _item_for(), whole)
    assert derived is not None
    assert derived.computed == "April 25, 2019"
    assert "04/25/2018" in derived.text
