"""Rule-based value extraction (the CPU default, no LLM)."""

from __future__ import annotations

import pytest

from tools.clauses.values import RuleValueExtractor, document_value, document_values, rule_value


def test_governing_law_state() -> None:
    v = rule_value(
        "Governing Law",
        "This Agreement shall be governed by and construed in accordance with the laws of the "
        "State of New York, without regard to its conflict of laws principles.",
    )
    assert v is not None
    assert v.jurisdiction == "New York"


def test_governing_law_country() -> None:
    v = rule_value("Governing Law", "This Agreement is governed by the laws of England and Wales.")
    assert v is not None
    assert v.jurisdiction == "England and Wales"


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("for a period of two (2) years after termination", 730),
        ("upon sixty (60) days prior written notice", 60),
        ("at least 30 days before the end of the term", 30),
        ("for a further term of one year", 365),
        ("within ninety days", 90),
    ],
)
def test_durations(text: str, days: float) -> None:
    v = rule_value("Warranty Duration", text)
    assert v is not None
    assert v.days == days


def test_non_compete_takes_longest_period_and_scope() -> None:
    v = rule_value(
        "Non-Compete",
        "During the Term and for three (3) years thereafter, Distributor shall not compete "
        "anywhere in the world; notices within 10 days.",
    )
    assert v is not None
    assert v.years == pytest.approx(3.0)
    assert v.worldwide is True


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("shall not exceed $1,000,000 in the aggregate", 1_000_000.0),
        ("liability is limited to US$ 2.5 million", 2_500_000.0),
        ("a fee of $250.50", 250.5),
    ],
)
def test_amounts(text: str, amount: float) -> None:
    v = rule_value("Cap on Liability", text)
    assert v is not None
    assert v.amount == pytest.approx(amount)
    assert v.currency == "USD"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("dated as of February 10, 2014 by and between", "2014-02-10"),
        ("made this 3rd day of March, 2005", "2005-03-03"),
        ("effective 2/10/14", "2014-02-10"),
    ],
)
def test_dates(text: str, iso: str) -> None:
    v = rule_value("Agreement Date", text)
    assert v is not None
    assert v.date == iso


def test_categories_without_values_give_none() -> None:
    assert rule_value("Audit Rights", "Licensor may audit the books and records.") is None


async def test_rule_extractor_is_a_value_extractor() -> None:
    out = await RuleValueExtractor().extract("Governing Law", "governed by the laws of Delaware")
    assert out.relevant is None
    assert out.value is not None
    assert out.value.jurisdiction == "Delaware"


# -- item 4 of issue 12: values that are right, on real CUAD passages -------------------
NANOPHASE_TERM = (
    "13. Term. 13.1 The initial term of this Agreement shall be for a period of five (5) years "
    "from the date first set forth above and shall thereafter automatically renew for additional "
    "two (2) year terms unless a party provides the other party with notice of non-renewal no less "
    "than 6 months prior to the expiration of the initial term or any renewal term"
)
VISIUM_TERM = (
    "2.1. Unless otherwise terminated as provided herein, the initial term of this Agreement shall "
    "be three (3) years from the Effective Date and shall thereafter be automatically renewed for "
    "subsequent one (1) year periods unless either party notifies the other in writing of its "
    "election not to renew the Agreement at least one hundred twenty (120) days prior to the "
    "expiration of the then-current term."
)
AIRSOPURE_TERM = (
    "2.02. At the expiration of the term or any renewal term hereof, You may, at its option, renew "
    "the Franchise granted hereunder for 2 additional terms of 10 years each on the following terms"
)


@pytest.mark.parametrize(
    ("passage", "years", "successive"),
    [(NANOPHASE_TERM, 2, True), (VISIUM_TERM, 1, True), (AIRSOPURE_TERM, 10, True)],
)
def test_renewal_term_is_not_the_initial_term(passage: str, years: int, successive: bool) -> None:
    v = rule_value("Renewal Term", passage)
    assert v is not None
    assert v.years == pytest.approx(years, rel=0.01)
    assert v.successive is successive


def test_renewal_term_counts_the_renewals() -> None:
    v = rule_value("Renewal Term", AIRSOPURE_TERM)
    assert v is not None
    assert v.text == "2 successive 10 years"


@pytest.mark.parametrize(("passage", "days"), [(NANOPHASE_TERM, 180), (VISIUM_TERM, 120)])
def test_notice_period_is_the_notice_not_the_term(passage: str, days: float) -> None:
    v = rule_value("Notice Period To Terminate Renewal", passage)  # CUAD's spelling
    assert v is not None
    assert v.days == days


@pytest.mark.parametrize(
    ("category", "passage", "iso"),
    [
        ("Expiration Date", "the term of this Agreement and the sponsorship described herein "
         "shall commence on January 1, 2010 and extend through December 31, 2010.", "2010-12-31"),
        ("Expiration Date", "Source: PLAYBOY ENTERPRISES INC, 10-Q/A, 2/20/2009 10.1. Term. This "
         "Agreement shall commence as of the Effective Date and shall terminate five (5) years "
         "following the date of launch of the first Website, but in no event later than February "
         "28, 2013 (the \"Initial Term\").", "2013-02-28"),
        ("Effective Date", "Consulting Agreement (\"Agreement\") dated June 1, 2020, effective as "
         "of July 1, 2020 (\"Effective Date\")", "2020-07-01"),
        ("Agreement Date", "This Event is scheduled to take place on April 22, 2000, and this "
         "Sponsorship Agreement (the \"Agreement\") dated as of April 14, 2000 is made by and "
         "between", "2000-04-14"),
        ("Agreement Date", "THIS SUPPLY AGREEMENT is made this, 20t h day of January, 2020 (the "
         "\"Effective Date\"), by and between HOVIONE INTER AG", "2020-01-20"),
    ],
)  # fmt: skip
def test_dates_tied_to_their_category(category: str, passage: str, iso: str) -> None:
    v = rule_value(category, passage)
    assert v is not None
    assert v.date == iso


def test_expiration_computed_from_the_effective_date() -> None:
    passage = (
        "11.1 Term. The term of this Agreement will commence on the Effective Date and continue "
        'for a period of three (3) years after the Effective Date (the "Initial Term").'
    )
    v = document_value("Expiration Date", [passage], context={"Effective Date": "2012-11-02"})
    assert v is not None
    assert v.date == "2015-11-02"
    values = document_values(
        {
            "Effective Date": ['entered into as of November 2, 2012 (the "Effective Date")'],
            "Expiration Date": [passage],
        }
    )
    assert values["Expiration Date"].date == "2015-11-02"


def test_open_ended_term_is_perpetual() -> None:
    v = rule_value(
        "Expiration Date",
        "this IP Agreement shall extend until the last date of expiration of the SRAM "
        "Intellectual Property rights licensed under this IP Agreement.",
    )
    assert v is not None
    assert v.text == "perpetual"


def test_preamble_parties_keep_suffixes_and_defined_terms() -> None:
    v = rule_value(
        "Parties",
        'This Agreement, dated as of February 4, 2020 (the "Effective Date"), is made by and '
        'between Xencor, Inc. ("Xencor"), and Aimmune Therapeutics, Inc. ("Aimmune"). Xencor and '
        'Aimmune are sometimes referred to herein individually as a "Party"',
    )
    assert v is not None
    assert v.parties == ["Xencor, Inc.", "Aimmune Therapeutics, Inc."]
    assert v.text == 'Xencor, Inc. ("Xencor"); Aimmune Therapeutics, Inc. ("Aimmune")'


def test_parties_descriptions_are_not_names() -> None:
    v = rule_value(
        "Parties",
        "This Outsourcing Agreement is executed as of this 1 st day of May 2006, by and between "
        'Virtual Item Processing Systems, Inc. ("VIP"), with its principal place of business at '
        "2525 Northwest Expressway, Oklahoma City, Oklahoma 73112 and Brokers National Life "
        'Assurance Company ("BNL"), with its principal place of office at 7010 Elm Street.',
    )
    assert v is not None
    assert v.parties == [
        "Virtual Item Processing Systems, Inc.",
        "Brokers National Life Assurance Company",
    ]


@pytest.mark.parametrize(
    ("preamble", "expected"),
    [
        # the sentence running on after a name is not part of it
        ('This Agreement is made between Wireless Links Inc ("WLI") and Jaguar Investments, Inc. '
         'and its affiliates ("Power2Ship").', ["Wireless Links Inc", "Jaguar Investments, Inc."]),
        ('THIS AGREEMENT made effective the 10 day of January 2019 (the "Effective Date"), '
         'BETWEEN: EMERALD HEALTH NATURALS, INC., a company having its registered and records '
         'office at 1 Main St ("Emerald") and records office at Suite 2 ("Contractor").',
         ["EMERALD HEALTH NATURALS, INC."]),
        ('This Agreement is entered into by and between Centre for Probe Development and '
         'Commercialization ("CPDC") and QIWI plc ("QIWI").',
         ["Centre for Probe Development and Commercialization", "QIWI plc"]),
    ],
)  # fmt: skip
def test_party_names_stop_where_the_sentence_goes_on(preamble: str, expected: list[str]) -> None:
    v = rule_value("Parties", preamble)
    assert v is not None
    assert v.parties == expected


def test_governing_law_every_jurisdiction_not_incorporation() -> None:
    v = rule_value(
        "Governing Law",
        "This Agreement shall be governed by, and construed and enforced in accordance with, the "
        "laws of the State of California and the laws of Hong Kong.",
    )
    assert v is not None
    assert v.jurisdictions == ["California", "Hong Kong"]
    preamble = rule_value(
        "Governing Law",
        "Airspan Networks Incorporated, a company incorporated under the laws of the State of "
        "Washington. This Agreement is governed by Swiss law.",
    )
    assert preamble is not None
    assert preamble.jurisdictions == ["Switzerland"]


def test_cap_on_liability_reads_the_formula() -> None:
    v = rule_value(
        "Cap on Liability",
        "IN NO EVENT SHALL EITHER PARTY'S AGGREGATE LIABILITY EXCEED THE FEES PAID OR PAYABLE BY "
        "CUSTOMER IN THE TWELVE (12) MONTHS PRECEDING THE CLAIM.",
    )
    assert v is not None
    assert (
        v.text
        == "THE FEES PAID OR PAYABLE BY CUSTOMER IN THE TWELVE (12) MONTHS PRECEDING THE CLAIM"
    )


def test_document_value_prefers_the_firmest_passage() -> None:
    passages = [
        "Either party may terminate on thirty (30) days notice.",  # model's top span, no renewal
        VISIUM_TERM,
    ]
    v = document_value("Renewal Term", passages)
    assert v is not None
    assert v.years == pytest.approx(1, rel=0.01)
    assert document_value("Renewal Term", []) is None


@pytest.mark.parametrize(
    ("passage", "text"),
    [
        ("this Agreement shall continue on a year to year basis (\"Extended Term(s)\") until "
         "terminated by either party by giving written notice at least six (6) months prior to the "
         "end of the then current Extended Term.", "successive 1 year"),
        ("you will have the option to continue the franchise relationship with us for two (2) "
         "additional terms of ten (10) years each.", "2 successive 10 years"),
    ],
)  # fmt: skip
def test_renewal_wordings(passage: str, text: str) -> None:
    v = rule_value("Renewal Term", passage)
    assert v is not None
    assert v.text == text
