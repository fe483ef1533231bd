"""The citator as the agent's tool: planner rule, tool output in citation
form, and a checked answer (verified citations) with no language model."""

from __future__ import annotations

import pytest

from agent.events import ToolResultEvent
from agent.loop import Agent
from agent.planner import plan_question
from tests.agent.test_loop import TENANT, assert_verbatim, collect
from tests.precedents.conftest import cap_text
from tools.base import call_tool
from tools.citator import CitatorTool, citation_form, short_case_name
from tools.retrieval import EvidenceLedger

pytestmark = pytest.mark.slow


def test_planner_puts_the_citator_first_for_citator_questions() -> None:
    tools = frozenset({"search_documents", "citator"})
    plan = plan_question("Which of our opinions cite 288 Ark. 37?", available=tools)
    assert [c.tool for c in plan.calls] == ["citator", "search_documents"]
    plan = plan_question("Has Carter v. Matthews been distinguished or overruled?", available=tools)
    assert plan.calls[0].tool == "citator"
    plan = plan_question("What is the notice period to terminate?", available=tools)
    assert [c.tool for c in plan.calls] == ["search_documents"]


def test_citation_form() -> None:
    assert (
        short_case_name("Leslie T. CARTER v. George E. and Bessie MATTHEWS") == "Carter v. Matthews"
    )
    assert (
        citation_form("Smith v. Jones", "288 Ark. 37", "41", "1986")
        == "Smith v. Jones, 288 Ark. 37, 41 (1986)"
    )


@pytest.fixture
def court(make_container):  # type: ignore[no-untyped-def]
    c = make_container()
    files = [
        cap_text(i) for i in ("32044078577194_0007", "32044078577194_0082", "32044078577194_0132")
    ]
    results = c.pipeline.ingest_paths(files, TENANT)
    assert all(r.status == "indexed" for r in results)
    return c


async def test_citator_tool_answers_in_citation_form_with_evidence(court) -> None:  # type: ignore[no-untyped-def]
    ledger = EvidenceLedger()
    tool = CitatorTool(court.kb, TENANT, ledger)
    result = await call_tool(tool, {"question": "Which of our opinions cite Carter v. Matthews?"})
    assert not result.is_error, result.content
    head = result.content.splitlines()[0]
    assert head.startswith(
        "Carter v. Matthews, 701 S.W.2d 374 (1986) is cited by 1 of our documents"
    )
    assert "no negative treatment" in head
    assert "Askins v. Askins (1986), p. 1: followed" in result.content
    assert ledger.items
    assert "we held clearly" in ledger.items[0].quote
    # Overruled in our decisions: Clayborn (278 Ark. 533) by Bliss v. State (0132).
    result = await call_tool(tool, {"question": "Is 278 Ark. 533 still good law?"})
    assert "negative treatment in our decisions: overruled" in result.content.splitlines()[0]
    bad = await call_tool(tool, {"question": "which opinions cite it?"})
    assert bad.is_error


async def test_citator_question_gets_a_checked_answer_without_a_model(court) -> None:  # type: ignore[no-untyped-def]
    agent = Agent(court.kb, None, None, court.settings)
    events, done = await collect(agent, "Which of our opinions cite 288 Ark. 37, and how?")
    results = [e for e in events if isinstance(e, ToolResultEvent) and e.name == "citator"]
    assert results
    assert_verbatim(court.kb, done)
    askins = next(d.id for d in court.kb.list_documents(TENANT) if d.name.endswith("0082.txt"))
    assert done.citations[0].document_id == askins
    assert "288 Ark." in done.citations[0].quote  # the citing sentence, verified on its page
