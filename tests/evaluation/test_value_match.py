"""The value scorer of ``dossier eval answers`` on CUAD's real gold strings."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from evaluation.value_match import gold_parties, gold_scorable, states_value

ANSWERS = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "cuad-dev" / "answers.jsonl"
)


def _golds(category: str) -> list[str]:
    rows = [json.loads(line) for line in ANSWERS.read_text(encoding="utf-8").splitlines()]
    return [r["gold"] for r in rows if r["category"] == category and r["kind"] == "value"]


@pytest.mark.parametrize(
    ("category", "gold", "text", "expected"),
    [
        ("Governing Law", "New York", "governed by the laws of the State of New York", True),
        ("Governing Law", "New York", "governed by the laws of Delaware", False),
        ("Governing Law", "Ontario, Canada", "the laws of the Province of Ontario", True),
        ("Governing Law", "Virginia", "the laws of West Virginia", False),
        ("Governing Law", "England; Wales", "the laws of England and Wales", True),
        ("Governing Law", "Texas; Singapore; Belgium", "the laws of Texas and Singapore", False),
        ("Governing Law", "Delaware, Illinois", "Delaware law, and Illinois for disputes", True),
        ("Governing Law", "People's Republic of China", "the laws of the PRC", True),
        ("Agreement Date", "5/8/14", "dated May 8, 2014", True),
        ("Agreement Date", "5/8/14", "made this 8th day of May, 2014", True),
        ("Agreement Date", "5/8/14", "2014-05-08", True),
        ("Agreement Date", "5/8/14", "dated 05/08/2014", True),
        ("Agreement Date", "5/8/14", "dated May 9, 2014, effective June 1, 2014", False),
        ("Agreement Date", "1/1/09", "as of the first day of January, 2009", True),
        ("Effective Date", "12/9/96", "effective December 9, 1996", True),
        ("Agreement Date", "03/[]/1999", "made as of March ___, 1999", True),
        ("Agreement Date", "03/[]/1999", "made as of March 5, 1999", False),
        ("Expiration Date", "perpetual", "It has no fixed expiration date: it runs until terminated.", True),
        ("Expiration Date", "perpetual", "It expires on December 31, 2023.", False),
        ("Expiration Date", "09/05/2019; perpetual", "ends September 5, 2019", False),
        ("Renewal Term", "successive 1 year", "renews for successive one-year terms", True),
        ("Renewal Term", "successive 1 year", "a one (1) year renewal term", True),
        ("Renewal Term", "successive 1 year", "renews on a year-to-year basis", True),
        ("Renewal Term", "successive 1 year", "initial term of three (3) years", False),
        ("Renewal Term", "0.5 year", "renews for six (6) months", True),
        ("Renewal Term", "12 months", "renews for one year", True),
        ("Renewal Term", "2 successive 10 years", "two (2) successive ten (10) year terms", True),
        ("Renewal Term", "2 successive 10 years", "successive ten (10) year terms", False),
        ("Renewal Term", "5 years; 2 years", "first five (5) years, then two (2) years", True),
        ("Notice Period To Terminate Renewal", "30 days", "thirty (30) days' notice", True),
        ("Notice Period To Terminate Renewal", "30 days", "sixty (60) days' notice", False),
        ("Notice Period To Terminate Renewal", "3 months", "ninety (90) days' notice", False),
        ("Notice Period To Terminate Renewal", "3 months", "three months' notice", True),
        ("Notice Period To Terminate Renewal", "6 weeks", "forty-two (42) days", True),
        ("Document Name", "WEBSITE CONTENT LICENSE AGREEMENT", "a Website Content License Agreement", True),
    ],
)  # fmt: skip
def test_states_value(category: str, gold: str, text: str, expected: bool) -> None:
    assert states_value(category, gold, text) is expected


PARTIES = 'PSiTech Corporation ("Licensor"); Empirical Ventures, Inc ("Licensee")'
VIVINT = (
    "VIVINT SOLAR, INC. (together with its successors and permitted assigns, “VivintSolar”); "
    "VIVINT, INC. (together with its successors and permitted assigns “Vivint”) Vivint Solar "
    "and Vivint (individually as a “Party”, and collectively as the “Parties”)"
)


@pytest.mark.parametrize(
    ("gold", "text", "expected"),
    [
        (PARTIES, "between PSITECH CORP. and Empirical Ventures, Inc.", True),
        (PARTIES, "between PSiTech Corporation and Empirical Ventures", True),  # 2-word core
        (PARTIES, "PSiTech Corporation is the Licensor", False),  # one party missing
        (VIVINT, "Vivint Solar, Inc. and Vivint, Inc.", True),
        (VIVINT, "Vivint Solar, Inc. and its parent", False),  # "Vivint" needs its suffix
        ('SLICON SMELTERS PTY LTD ("Customer"); ESPACIO INFORMATION TECHNOLOGY, SA. ("EIT")',
         "Silicon Smelters Pty Ltd and Espacio Information Technology S.A.", True),  # gold typo
    ],
)  # fmt: skip
def test_parties(gold: str, text: str, expected: bool) -> None:
    assert states_value("Parties", gold, text) is expected


def test_gold_parties_drops_defined_terms_groups_and_blanks() -> None:
    assert gold_parties(VIVINT) == ["VIVINT SOLAR, INC", "VIVINT, INC"]
    assert gold_parties(
        'Ginkgo Bioworks, Inc. ("Ginko"); Berkely Lights, Inc. ("BLI"); '
        'Gingko and BLI ("Party", collectively as the "Parties")'
    ) == ["Ginkgo Bioworks, Inc", "Berkely Lights, Inc"]
    assert gold_parties('Rise (Tianjin) Education Information Consulting Co., Ltd. ("Service '
                        'Provider"); [*] ("Service Recipient")') == [
        "Rise (Tianjin) Education Information Consulting Co., Ltd"
    ]  # fmt: skip
    assert gold_parties('Geno Auriemma (Auriemma); Berkshire Bank (Berkshire)("Party")') == [
        "Geno Auriemma",
        "Berkshire Bank",
    ]


@pytest.mark.parametrize(
    ("category", "gold"),
    [
        ("Agreement Date", "[]/[]/2015"),
        ("Expiration Date", "[]/[]/[]"),
        ("Renewal Term", "successive []"),
        ("Renewal Term", "10 1 years"),
        ("Cap on Liability", "Yes"),
    ],
)
def test_unscorable_golds_give_none(category: str, gold: str) -> None:
    assert not gold_scorable(category, gold)
    assert states_value(category, gold, "anything at all, 2015, ten years") is None


# -- oracles over every real gold of the dev answers ---------------------------------
def _long(gold: str) -> str:
    m, d, y = gold.split("/")
    year = int(y) + (0 if len(y) == 4 else 2000 if int(y) < 70 else 1900)
    return date(year, int(m), int(d)).strftime("%B %-d, %Y")


@pytest.mark.parametrize("category", ["Agreement Date", "Effective Date", "Expiration Date"])
def test_every_full_date_gold_matches_its_long_form_and_not_the_next_day(category: str) -> None:
    for gold in _golds(category):
        parts = [p.strip() for p in gold.split(";")]
        if not gold_scorable(category, gold) or "[]" in gold or "perpetual" in gold:
            continue
        text = " and ".join(_long(p) for p in parts)
        assert states_value(category, gold, f"It is dated {text}.") is True, gold
        m, d, y = parts[0].split("/")
        wrong = _long(f"{m}/{int(d) % 28 + 1}/{y}")
        assert states_value(category, gold, f"It is dated {wrong}.") is False, gold


def test_every_governing_law_gold_matches_a_choice_of_law_sentence() -> None:
    for gold in _golds("Governing Law"):
        sentence = "governed by the laws of " + " and ".join(gold.split(";"))
        assert states_value("Governing Law", gold, sentence) is True, gold
        assert states_value("Governing Law", gold, "governed by the laws of Mars") is False, gold


def test_every_parties_gold_matches_itself_and_not_half_of_itself() -> None:
    golds = _golds("Parties")
    assert all(gold_scorable("Parties", g) for g in golds)
    for gold in golds:
        names = gold_parties(gold)
        assert states_value("Parties", gold, gold) is True, gold
        if len(names) >= 2:
            assert states_value("Parties", gold, names[0]) is False, gold


def test_scorable_share_of_the_dev_value_golds() -> None:
    rows = [json.loads(line) for line in ANSWERS.read_text(encoding="utf-8").splitlines()]
    values = [r for r in rows if r["kind"] == "value"]
    unscorable = [r["gold"] for r in values if not gold_scorable(r["category"], r["gold"])]
    assert len(unscorable) == 12, unscorable  # year-only dates, "successive []", "10 1 years"
