"""Figures answered from a report's statements (issue 17 item 4), on real
filing pages from financebench-dev: cells located with page-exact offsets,
arithmetic in the sandbox with the formula shown, every input cited, and the
claim check accepting a shown result but not a number computed from nothing."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from agent.events import DoneEvent
from agent.facts import shown_results, unsupported
from agent.figures_answer import figure_claims, figure_only
from agent.loop import Agent
from agent.planner import plan_question
from core.errors import ToolError
from core.settings import Settings
from evaluation.figures import answer_figure, score_figure
from ingest.loaders.pdf import load_pdf_pages
from tools.base import call_tool
from tools.figure_cells import report_rows
from tools.figures import compute_figure, parse_request
from tools.figures_tool import ComputeFigureTool, input_items, register_inputs
from tools.retrieval import EvidenceLedger

FILINGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "financebench-dev" / "pdfs"
CVS_2018 = FILINGS / "CVSHEALTH_2018_10K.pdf"
CORNING_10Q = FILINGS / "CORNING_2023Q2_10Q.pdf"
#: CVS Health's 2018 income statement and balance sheet (1-based pages 302, 304).
CVS_STATEMENT_PAGES = (301, 303)


def _pages(pdf: Path) -> list[str]:
    pages, _ = load_pdf_pages(pdf, Settings().ingest)
    return [p.text for p in pages]


@pytest.fixture(scope="module")
def corning_10q() -> list[str]:
    return _pages(CORNING_10Q)


@pytest.fixture
def cvs_statements(tmp_path: Path) -> Path:
    """Two real pages of CVS Health's 2018 10-K, as a PDF of their own."""
    out = tmp_path / "CVSHEALTH_2018_10K_statements.pdf"
    with pymupdf.open(CVS_2018) as src, pymupdf.open() as dst:
        for index in CVS_STATEMENT_PAGES:
            dst.insert_pdf(src, from_page=index, to_page=index)
        dst.save(out)
    return out


@pytest.mark.slow
async def test_a_ratio_is_computed_from_cited_statement_cells(
    make_container, cvs_statements
) -> None:  # type: ignore[no-untyped-def]
    container = make_container()
    (result,) = container.pipeline.ingest_paths([cvs_statements], "t")
    assert result.status == "indexed"
    doc = str(result.document_id)
    question = "What is the FY2018 fixed asset turnover ratio for CVS Health?"
    figure = answer_figure(container.kb, "t", question, doc)
    # FinanceBench's gold: 17.98 = 194,579 / ((10,292 + 11,349) / 2)
    assert figure.display == "17.98"
    assert figure.shown == "194,579 / ((10,292 + 11,349) / 2)"
    assert {(i.line, i.year, i.page) for i in figure.inputs} == {
        ("revenue", 2018, 1), ("net_ppe", 2017, 2), ("net_ppe", 2018, 2),
    }  # fmt: skip
    for inp in figure.inputs:  # page-exact cells and rows
        text = container.kb.page_text("t", doc, inp.page)
        assert text[inp.start : inp.end] == inp.cell
        assert inp.quote(text).startswith(inp.label.split(",")[0])
    assert "result = (revenue_2018 / ((net_ppe_2017 + net_ppe_2018) / 2))" in figure.program

    ledger = EvidenceLedger()
    tool = ComputeFigureTool(container.kb, "t", ledger, [doc])
    out = await tool.run(tool.input_model(question=question))
    assert not out.is_error
    assert "= 17.98 [1][2]" in out.content
    assert [e.page for e in ledger.items] == [1, 2]
    unknown = await call_tool(tool, {"question": question, "document_id": "no-such-document"})
    assert unknown.is_error
    assert unknown.content.startswith("compute_figure:")
    for item in ledger.items:  # each cited row is verbatim on its page
        text = container.kb.page_text("t", doc, item.page)
        assert text[item.start : item.end] == item.quote

    pages = {i.page: container.kb.page_text("t", doc, i.page) for i in figure.inputs}
    items = register_inputs(figure, EvidenceLedger(), pages)
    claims = figure_claims(figure, input_items(figure, items))
    assert all(c.supported for c in claims), [c.reason for c in claims]
    assert claims[0].citations == [1, 2]
    assert claims[0].computed == ["17.98"]
    assert claims[0].text.endswith("= 194,579 / ((10,292 + 11,349) / 2) = 17.98.")

    # The agent answers it composed, with no model: the result and its cited rows.
    agent = Agent(container.kb, None, None, container.settings)
    events = [e async for e in agent.stream_answer(question, "t", document_ids=[doc])]
    done = events[-1]
    assert isinstance(done, DoneEvent)
    assert any("answered from the report's statements" in getattr(e, "message", "") for e in events)
    assert "= 194,579 / ((10,292 + 11,349) / 2) = 17.98" in done.answer
    assert {c.page for c in done.citations} == {1, 2}
    for citation in done.citations:
        assert container.kb.page_text("t", doc, citation.page)[citation.start : citation.end] == (
            citation.quote
        )
    assert done.claims[0]["computed"] == ["17.98"]


def test_a_figure_and_a_ratio_from_a_10q(corning_10q) -> None:  # type: ignore[no-untyped-def]
    rows = report_rows(corning_10q)
    capex = compute_figure("Corning's capital expenditure in 2023 (in USD millions)?", rows)
    (inp,) = capex.inputs
    assert (capex.display, inp.cell, inp.page, inp.statement) == (
        "$770 million", "(770)", 6, "cash_flow",
    )  # fmt: skip
    assert corning_10q[inp.page - 1][inp.start : inp.end] == "(770)"
    current = compute_figure("What is Corning's current ratio as of 2023?", rows)
    assert (current.shown, current.display) == ("7,293 / 4,411", "1.65")
    # a 10-Q: the quarter's columns, or the six months' when asked; cash flows are year to date
    assert capex.period == "2023 (year to date)"
    quarter = compute_figure("Corning's gross margin in 2023", rows)
    half = compute_figure("Corning's gross margin for the six months of 2023", rows)
    assert (quarter.period, quarter.shown) == ("2023 (quarter)", "100 × 1,013 / 3,243")
    assert (half.period, half.shown) == ("2023 (year to date)", "100 × 2,016 / 6,421")
    ledger = EvidenceLedger()
    pages = {i + 1: t for i, t in enumerate(corning_10q)}
    claims = figure_claims(capex, input_items(capex, register_inputs(capex, ledger, pages)))
    assert claims[0].supported, claims[0].reason  # "$770 million": a cell of a table in millions
    with pytest.raises(ToolError, match="no financial statements"):  # e.g. a contract
        compute_figure("What is the FY2022 current ratio?", report_rows(corning_10q[20:30]))
    with pytest.raises(ToolError, match="inventories 2021"):  # a missing line is named
        compute_figure("Corning's FY2022 inventory turnover", rows)


def test_the_claim_check_accepts_a_shown_result_and_rejects_other_numbers() -> None:
    evidence = (
        "Consolidated Statements 2018 2017 Total revenues 194,579 184,786 "
        "Property and equipment, net 11,349 10,292"
    )
    shown = "Turnover = 194,579 / ((10,292 + 11,349) / 2) = 17.98."
    assert shown_results(shown) == {"17.98", "2"}
    assert unsupported(shown, evidence) == []
    wrong = "Turnover = 194,579 / ((10,292 + 11,349) / 2) = 18.50."  # not what the arithmetic gives
    assert [f.surface for f in unsupported(wrong, evidence)] == ["2", "18.50"]
    made_up = "Turnover = 194,579 / ((10,300 + 11,349) / 2) = 17.97."  # an operand no row states
    assert "10,300" in [f.surface for f in unsupported(made_up, evidence)]
    bare = "The turnover was 17.98."  # a number with no computation shown
    assert [f.surface for f in unsupported(bare, evidence)] == ["17.98"]
    assert unsupported("It was $11,349 million.", "(In millions) " + evidence) == []
    assert unsupported("It was $11,349 million.", evidence) != []  # no scale stated


@pytest.mark.parametrize(
    ("question", "metric", "years", "scale", "decimals"),
    [
        ("What is the FY2018 capital expenditure amount (in USD millions) for 3M?",
         "capex", [2018], "millions", None),
        ("what is the year end FY2018 net PPNE for 3M? Answer in USD billions.",
         "net_ppe", [2018], "billions", None),
        ("what is the FY2019 - FY2021 3 year average unadjusted operating income % margin "
         "for Corning? Answer in units of percents and round to one decimal place.",
         "operating_margin", [2019, 2020, 2021], None, 1),
        ("what is the FY2020 free cash flow (FCF) for General Mills? FCF here is defined as: "
         "(cash from operations - capex).", "fcf", [2020], None, None),
        ("FY2022 fixed asset turnover", "fixed_asset_turnover", [2022], None, None),
        ("How does Boeing's effective tax rate in FY2022 compare to FY2021?",
         "effective_tax_rate", [2022], None, None),
    ],
)  # fmt: skip
def test_figure_questions_are_read(question, metric, years, scale, decimals) -> None:  # type: ignore[no-untyped-def]
    request = parse_request(question)
    assert request is not None
    assert (request.metric.key, request.years, request.scale, request.decimals) == (
        metric, years, scale, decimals,
    )  # fmt: skip


def test_the_planner_routes_figure_questions_only() -> None:
    tools = {"search_documents", "compute_figure"}
    plan = plan_question("FY2022 fixed asset turnover for 3M", available=tools, document_ids=["d"])
    assert [c.tool for c in plan.calls] == ["search_documents", "compute_figure"]
    assert plan.calls[1].arguments == {
        "question": "FY2022 fixed asset turnover for 3M",
        "document_id": "d",
    }
    plan = plan_question("Who may terminate the agreement in 2019?", available=tools)
    assert [c.tool for c in plan.calls] == ["search_documents"]
    # the composed figure is the whole answer only when nothing more is asked
    assert figure_only("What is the FY2018 capital expenditure amount (in USD millions) for 3M?")
    assert not figure_only("What drove operating margin change as of FY2022 for 3M?")
    assert not figure_only(
        "Does Verizon have a healthy liquidity profile based on its quick ratio?"
    )


def test_figures_are_scored_with_the_gold_rounding_and_units() -> None:
    assert score_figure("$8.74 billion", "$8.70")  # 0.5% off, the gold's rounding
    assert score_figure("It was $8,738 million.", "$8.70")  # asked in USD billions
    assert score_figure("x = 365 × 2,761 / 7,890 = 63.86 days", "63.86")
    assert score_figure("-3.70 days", "-3.7")
    assert not score_figure("$1,373 million", "$1577.00")
    assert not score_figure("The result (inputs 17.98 and 2.1) is 8.56.", "17.98")  # inputs
    assert not score_figure("17.98 / 2.1 = 8.56", "17.98")  # a computation's input
