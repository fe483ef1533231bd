"""Search that knows reports, on real FinanceBench filings: company/period
routing across the 16 cover pages, and — on a small index of three filings'
opening and statement pages — routing, distinct pages and statement pages
first through the ``search_documents`` tool's search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pymupdf
import pytest

from agent.events import DoneEvent
from agent.filings import FILING_REASON, filing_line, issuer_name
from agent.loop import Agent
from knowledge_base.routing import HEADER_CHARS, DocumentRouter, FilingRouter, parse_filing
from tools.page_search import (
    _row_matches,
    cover_question,
    in_document_query,
    row_phrases,
    search_pages,
    statement_kinds,
    statement_title,
)
from tools.retrieval import SearchDocumentsInput, SearchDocumentsTool

FB = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "financebench-dev"
#: (filing, its pages in the small index: cover and the four statements)
SUBSET = {
    "3M_2018_10K": [1, 2, 56, 57, 58, 59, 60],
    "3M_2022_10K": [1, 2, 48, 49, 50, 51, 52],
    "BOEING_2022_10K": [1, 2, 55, 56, 57, 58, 59],
}
TENANT = "t1"


def _covers() -> dict[str, str]:
    """Each filing's opening as the knowledge base builds it: name + first pages."""
    openings = {}
    for path in sorted((FB / "pdfs").glob("*.pdf")):
        with pymupdf.open(path) as pdf:
            text = "\n".join(pdf[i].get_text() for i in range(2))
        openings[path.stem] = f"{path.name}\n{text[:HEADER_CHARS]}"
    return openings


def test_every_dev_question_routes_to_its_filing_among_16():
    router = DocumentRouter(_covers())
    assert len(router.filings.filings) == 16
    questions = [json.loads(line) for line in (FB / "questions.jsonl").open()]
    for q in questions:
        assert router.route(q["question"]) == [q["doc_name"]], q["question"]


def test_filing_routing_rules():
    covers = _covers()
    filings = [parse_filing(d, covers[d]) for d in covers]
    assert all(filings)
    corning = [f for f in filings if f and f.document_id.startswith("CORNING")]
    router = FilingRouter([f for f in filings if f])
    q10 = next(f for f in corning if f.quarter)
    assert (q10.form, q10.fiscal_year, q10.quarter) == ("10-Q", 2023, 2)
    assert q10.label == "CORNING INCORPORATED 10-Q 2023Q2 (CORNING_2023Q2_10Q.pdf)"

    def ids(query: str) -> list[str] | None:
        routed = router.route(query)
        return None if routed is None else [f.document_id for f in routed]

    assert ids("3M's FY2018 capital expenditure") == ["3M_2018_10K"]
    assert ids("Corning's net sales in the second quarter of 2023") == ["CORNING_2023Q2_10Q"]
    assert ids("Corning operating margin in FY2019") == ["CORNING_2020_10K"]  # comparatives
    assert ids("Who are Boeing's main customers?") == ["BOEING_2022_10K"]  # latest annual
    assert ids("What did AMEX earn in 2022?") == ["AMERICANEXPRESS_2022_10K"]
    assert ids("What is the FY2021 revenue of Acme Corp?") is None


def test_cover_pages_as_the_pdf_loader_joins_them():
    """The loader may run the file number, the name and the next label into one line."""
    one_line = (
        "CORNING_2022_10K.pdf\n\nFORM 10-K\nFor the fiscal year ended December 31, 2022 OR\n"
        "For the transition period from ___ to ___ Commission file number: 1-3247 CORNING "
        "INCORPORATED\n(Exact name of registrant as specified in its charter)\n"
    )
    filing = parse_filing("c", one_line)
    assert filing is not None
    assert (filing.issuer, filing.form, filing.period) == ("CORNING INCORPORATED", "10-K", "FY2022")
    run_on = ("x.pdf\nFORM 10-K\nFor the fiscal year ended January 29, 2022\nCommission file "
              "number 1-3285 ACME STORES INC. State of Incorporation: Delaware\n")  # fmt: skip
    acme = parse_filing("a", run_on)
    assert acme is not None
    assert (acme.issuer, acme.period) == ("ACME STORES INC.", "FY2021")  # a retailer's year
    assert parse_filing("n", "nda.pdf\nMUTUAL NON-DISCLOSURE AGREEMENT between ...") is None


def test_routed_question_is_searched_without_instructions_and_issuer():
    covers = _covers()
    filing = parse_filing("AMERICANEXPRESS_2022_10K", covers["AMERICANEXPRESS_2022_10K"])
    assert filing is not None
    question = (
        "Assume that you are a public equities analyst. Answer the following question by "
        "primarily using information that is shown in the balance sheet: what was American "
        "Express's largest liability in 2022? If the balance sheet is not a useful source, "
        "then state that and explain why."
    )
    assert in_document_query(question, [filing]) == "what was largest liability in 2022?"
    assert in_document_query("American Express", [filing]) == "American Express"


def test_table_rows_naming_the_line_item_and_cover_questions():
    phrases = row_phrases("How much has the effective tax rate changed between FY2021 and FY2022?")
    assert phrases == {("effect", "tax"), ("tax", "rate")}
    assert _row_matches("Effective tax rate | 21.6 | % | 24.6 | %", phrases) == 2
    margin = row_phrases("What drove operating margin change as of FY2022?")
    assert _row_matches("Operating income margin | 19.1 | % | 20.8", margin) == 1  # skips a word
    assert _row_matches("The operating margin fell because costs rose sharply in all our segments "
                        "and regions 19.1", margin) == 0  # fmt: skip  # a sentence, not a label
    assert cover_question("Which debt securities are registered to trade on a national exchange?")
    assert not cover_question("What was the largest liability in 2022?")


def test_statement_questions_and_titles():
    assert statement_kinds("using the cash flow statement, what is FY2018 capex?")[0] == {
        "cash_flow"
    }
    named, implied = statement_kinds("What is the FY2022 inventory turnover?")
    assert not named
    assert "balance" in implied
    assert statement_kinds("Who are Boeing's customers?") == (set(), set())
    assert statement_title("Table of Contents\nConsolidated Balance Sheet 58\n") is None


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory: pytest.TempPathFactory, st_embedder) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """Three filings cut to their cover and statement pages, ingested once."""
    from api.container import Container
    from core.settings import load_settings

    folder = tmp_path_factory.mktemp("filings")
    for name, pages in SUBSET.items():
        with pymupdf.open(FB / "pdfs" / f"{name}.pdf") as src, pymupdf.open() as out:
            for page in pages:
                out.insert_pdf(src, from_page=page - 1, to_page=page - 1)
            out.save(folder / f"{name}.pdf")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("kb"), tenant=TENANT)
    container = Container(settings, embedder=st_embedder)
    for path in sorted(folder.glob("*.pdf")):
        result = container.pipeline.ingest_file(path, TENANT, name=path.name)
        assert result.status == "indexed", result.error
    container.kb.flush()
    yield container
    container.close()


def _page_text(kb, hit) -> str:  # type: ignore[no-untyped-def]
    return kb.page_text(TENANT, hit.chunk.document_id, hit.chunk.page)


@pytest.mark.slow
def test_company_and_period_route_to_the_filing_and_its_cash_flow_page(small_kb) -> None:  # type: ignore[no-untyped-def]
    kb = small_kb.kb
    query = ("What is the FY2018 capital expenditure amount (in USD millions) for 3M? Give a "
             "response to the question by relying on the details shown in the cash flow statement.")  # fmt: skip
    found = search_pages(kb, TENANT, query, k=5)
    assert [f.name for f in found.filings] == ["3M_2018_10K.pdf"]
    assert {h.chunk.document_name for h in found.hits} == {"3M_2018_10K.pdf"}
    assert statement_title(_page_text(kb, found.hits[0])) == "cash_flow"
    boeing = search_pages(kb, TENANT, "Boeing FY2022 total current liabilities balance sheet", k=5)
    assert [f.name for f in boeing.filings] == ["BOEING_2022_10K.pdf"]
    assert statement_title(_page_text(kb, boeing.hits[0])) == "balance"


@pytest.mark.slow
def test_top_k_pages_are_distinct(small_kb) -> None:  # type: ignore[no-untyped-def]
    kb = small_kb.kb
    for query in ("3M net sales operating income 2022", "Boeing cash flows operating activities",
                  "total assets total liabilities"):  # fmt: skip
        raw = kb.search(TENANT, query, k=8)
        assert len({(h.chunk.document_id, h.chunk.page) for h in raw}) < len(raw)  # the problem
        found = search_pages(kb, TENANT, query, k=8)
        assert len(set(found.pages)) == len(found.pages) == len(found.hits) > 0, query


@pytest.mark.slow
def test_the_tool_names_the_filing_it_searched(small_kb) -> None:  # type: ignore[no-untyped-def]
    tool = SearchDocumentsTool(small_kb.kb, TENANT, k=4)
    result = anyio.run(tool.run, SearchDocumentsInput(query="3M FY2022 balance sheet total assets"))
    # The issuer, form and period of the report profile read at ingest.
    assert result.content.startswith("Filings searched: 3M Company 10-K FY2022 (3M_2022_10K.pdf)")
    assert result.data["filings"] == ["3M Company 10-K FY2022 (3M_2022_10K.pdf)"]
    pages = [(e["document_id"], e["page"]) for e in result.data["evidence"]]
    assert len(set(pages)) == len(pages)


def test_the_filing_line_names_issuer_form_period_and_file():
    covers = _covers()
    mmm = parse_filing("3M_2018_10K", covers["3M_2018_10K"])
    q10 = parse_filing("CORNING_2023Q2_10Q", covers["CORNING_2023Q2_10Q"])
    assert mmm is not None
    assert q10 is not None
    assert filing_line([mmm]) == "From 3M Company's 10-K for FY2018 (3M_2018_10K.pdf):"
    assert filing_line([q10]) == (
        "From Corning Incorporated's 10-Q for Q2 2023 (CORNING_2023Q2_10Q.pdf):"
    )
    assert filing_line([]) == ""
    assert issuer_name("CVS HEALTH CORPORATION") == "CVS Health Corporation"
    assert issuer_name("The Boeing Company") == "The Boeing Company"


def test_the_cli_says_the_filing_after_the_streamed_answer():
    import api.cli  # noqa: F401  (registers the commands first)
    from api.cli_llm import _filing_line

    line = {"text": "From 3M Company's 10-K for FY2018 (3M_2018_10K.pdf):",
            "reason": FILING_REASON}  # fmt: skip
    assert _filing_line([line, {"text": "x", "reason": "quotes"}]) == (
        "(Answered from 3M Company's 10-K for FY2018, 3M_2018_10K.pdf.)"
    )
    assert _filing_line([{"text": "From the contract:", "reason": "quotes"}]) == ""


@pytest.mark.slow
async def test_the_answer_names_the_filing_it_used(small_kb) -> None:  # type: ignore[no-untyped-def]
    """A question naming a company and a year, over three filings and no
    scope: the answer (no model: composed or quoted) opens with the filing
    routed to, a line the claim check keeps and that cites nothing."""
    agent = Agent(small_kb.kb, None, None, small_kb.settings)
    question = "What is the FY2018 capital expenditure amount (in USD millions) for 3M?"
    events = [e async for e in agent.stream_answer(question, TENANT)]
    done = events[-1]
    assert isinstance(done, DoneEvent), done
    assert done.answer.startswith("From 3M Company's 10-K for FY2018 (3M_2018_10K.pdf): ")
    line = done.claims[0]
    assert (line["reason"], line["supported"], line["citations"]) == (FILING_REASON, True, [])
    assert len(done.claims) > 1
    assert {c.document for c in done.citations} == {"3M_2018_10K.pdf"}
