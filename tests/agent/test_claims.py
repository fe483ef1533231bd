"""The claim check (issue 12): facts, support, composed answers, retraction.

Real parts: the sample contract ingested by the real pipeline into Milvus
Lite, the real embedding model, the real clause model. The model side of a
*native* (tool-calling) answer is scripted (:class:`ScriptedChatModel`): no
tool-calling model runs on this CPU machine. The planner-mode model is the
real vLLM server (``llm`` tests).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.claims import ClaimChecker
from agent.events import AnswerEvent, ClaimEvent, DoneEvent, TokenEvent
from agent.facts import facts, unsupported
from agent.llm import Finish, OpenAIChatModel, TokenDelta, ToolCallRequest
from agent.loop import Agent
from tests.agent.conftest import REPO, TENANT, make_settings
from tests.agent.test_loop import ScriptedChatModel, assert_verbatim, collect

pytestmark = pytest.mark.slow

SAMPLE = REPO / "samples" / "master-services-agreement.pdf"
NEW_YORK = "governing law New York"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory, st_embedder):  # type: ignore[no-untyped-def]
    """The sample services agreement (New York law; 90 days to terminate for convenience)."""
    from api.container import Container

    container = Container(make_settings(tmp_path_factory.mktemp("kb"), None), embedder=st_embedder)
    result = container.pipeline.ingest_file(SAMPLE, TENANT)
    assert result.status == "indexed", result.error
    yield container
    container.close()


def evidence(container: Any, query: str) -> list[Any]:
    from tools.retrieval import EvidenceLedger

    ledger = EvidenceLedger()
    for hit in container.kb.search(TENANT, query, k=4):
        ledger.add(hit)
    return ledger.items


# -- facts ---------------------------------------------------------------------


def test_facts_meet_in_their_normal_forms() -> None:
    clause = "dated as of the 8th day of May, 2014; either party may terminate on ninety (90) days"
    assert unsupported("It is dated May 8, 2014.", clause) == []
    assert unsupported("The date is 2014-05-08.", clause) == []
    assert unsupported("Notice of 90 days is needed.", clause) == []
    assert [f.surface for f in unsupported("Notice of 4.3 days is needed.", clause)] == ["4.3 days"]
    assert [f.surface for f in unsupported("It is dated May 9, 2014.", clause)] == ["May 9, 2014"]
    law = "governed by the laws of the State of New York"
    assert unsupported("New York law governs it.", law) == []
    assert [f.kind for f in unsupported("Delaware law governs it.", law)] == ["jurisdiction"]
    money = "shall not exceed One Million Dollars ($1,000,000)"
    assert unsupported("The cap is $1 million.", money) == []
    assert {f.kind for f in facts("a one (1) year renewal term")} == {"duration"}


# -- the checker on the real contract -------------------------------------------


def test_fabrications_are_flagged_and_a_paraphrase_is_kept(sample) -> None:  # type: ignore[no-untyped-def]
    checker = ClaimChecker(sample.kb.embedder)
    law = evidence(sample, NEW_YORK)
    fake = checker.check("This agreement is governed by the laws of Delaware [1].", law)
    assert not fake.supported
    assert "Delaware" in fake.reason
    true = checker.check("New York law governs this agreement [1].", law)
    assert true.supported, true.reason
    assert "New York" in true.support.quote  # the quote shown is the one that supports it
    amendment = checker.check(
        "The law governing the agreement is the 4.4 Clause of the 4th Amendment to the United "
        "States Constitution [1].", law,
    )  # fmt: skip
    assert not amendment.supported

    notice = evidence(sample, "terminate for convenience notice")
    wrong = checker.check("The notice period to terminate for convenience is 4.3 days [1].", notice)
    assert not wrong.supported
    assert "4.3 days" in wrong.reason
    right = checker.check("The customer can end the agreement for convenience on 90 days' notice.",
                          notice)  # fmt: skip
    assert right.supported, right.reason
    assert "ninety (90) days" in right.support.quote
    assert right.citations  # an unmarked sentence gets the marker of its support


def test_a_sentence_repeating_an_earlier_one_is_dropped(sample) -> None:  # type: ignore[no-untyped-def]
    checker = ClaimChecker(sample.kb.embedder)
    cap = "The cap on liability is 12 months, and the cap is 12 months."
    claim = checker.check(cap, evidence(sample, "cap on liability"), earlier=[cap])
    assert not claim.supported
    assert claim.reason == "repeats an earlier sentence"


# -- composed answers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which law governs the agreement?", "governed by the laws of New York ["),
        ("When does this agreement take effect?", "takes effect on March 1, 2025 ["),
        ("Who are the parties to this agreement?", "Northwind Analytics LLC"),
        ("Can a party terminate this agreement for convenience?", "Yes:"),
        ("Is liability capped under this agreement?", "Yes:"),
        # computed, shown as a computation on two quoted inputs
        (
            "When does this agreement expire?",
            "The initial term ends on March 1, 2028: three (3) "
            "years from the effective date, March 1, 2025 [",
        ),
    ],
)
async def test_composed_answers_on_the_sample_contract_without_a_model(  # type: ignore[no-untyped-def]
    sample, question: str, expected: str
) -> None:
    agent = Agent(sample.kb, None, None, sample.settings)
    doc = sample.kb.list_documents(TENANT)[0].id
    events, done = await collect(agent, question, document_ids=[doc])
    assert expected in done.answer.split(". ")[0] + "."
    assert done.claims
    assert done.claims[0]["supported"]
    assert any(isinstance(e, ClaimEvent) for e in events)
    if "[" in done.answer:
        assert_verbatim(sample.kb, done)
    if "ends on" in expected:  # both inputs cited; the result is marked computed
        assert len(done.claims[0]["citations"]) == 2
        assert done.claims[0]["computed"] == ["March 1, 2028"]
        assert "three (3) years" in " ".join(c.quote for c in done.citations)


async def test_a_two_part_question_gets_a_composed_sentence_for_each_part(sample) -> None:  # type: ignore[no-untyped-def]
    agent = Agent(sample.kb, None, None, sample.settings)
    _events, done = await collect(
        agent, "Which law governs the agreement, and can the customer terminate for convenience?"
    )
    first, second = done.answer.split("]. ", 1)
    assert "governed by the laws of New York" in first
    assert second.startswith("Yes: a party may terminate this agreement for convenience")
    assert_verbatim(sample.kb, done)


# -- the native path: model sentences checked, unsupported ones retracted --------


def _native(sample: Any, **agent_settings: Any) -> Any:  # type: ignore[no-untyped-def]
    settings = sample.settings.model_copy(deep=True)
    settings.llm.tool_calling = "native"
    for key, value in agent_settings.items():
        setattr(settings.agent, key, value)
    search = [ToolCallRequest("t1", "search_documents", '{"query": "termination for convenience"}'),
              Finish("tool_calls")]  # fmt: skip
    text = ('<evidence n="1" page="2">Customer may terminate for convenience on ninety (90) '
            "days' notice [1].</evidence> "
            "The notice period is 4.3 days [1]. The agreement is governed by Delaware law.")  # fmt: skip
    answer = [TokenDelta(part + " ") for part in text.split(" ")] + [Finish("stop")]
    return Agent(sample.kb, ScriptedChatModel([search, answer]), None, settings)


async def test_gated_stream_never_shows_an_unsupported_sentence(sample) -> None:  # type: ignore[no-untyped-def]
    events, done = await collect(_native(sample), "Summarise the termination rights.")
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert "4.3" not in tokens
    assert "Delaware" not in tokens
    assert "<evidence" not in tokens  # prompt markup the model echoes never reaches the user
    assert "</evidence>" not in done.answer
    assert "ninety (90) days" in done.answer
    assert [c["supported"] for c in done.claims] == [True, False, False]
    answer = next(e for e in events if isinstance(e, AnswerEvent))
    assert not answer.retracted
    assert_verbatim(sample.kb, done)


async def test_unchecked_stream_is_retracted_by_the_answer_event(sample) -> None:  # type: ignore[no-untyped-def]
    events, done = await collect(
        _native(sample, stream_unchecked=True), "Summarise the termination rights."
    )
    tokens = "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert "4.3 days" in tokens  # streamed as it came ...
    answer = next(e for e in events if isinstance(e, AnswerEvent))
    assert answer.retracted  # ... and taken back
    assert "4.3" not in answer.text
    assert answer.text == done.answer
    names = [type(e).__name__ for e in events]
    assert names.index("AnswerEvent") == len(names) - 2  # the answer event comes last before done


@pytest.mark.llm
async def test_real_model_sentences_pass_the_check(sample, llm_base_url: str) -> None:  # type: ignore[no-untyped-def]
    settings = sample.settings.model_copy(deep=True)
    settings.llm.base_url = llm_base_url
    agent = Agent(sample.kb, OpenAIChatModel(settings.llm), None, settings)
    events, done = await collect(agent, "Summarise the termination rights in this agreement.")
    assert isinstance(events[-1], DoneEvent)
    assert done.answer.startswith('The documents say: "')  # quoted, verbatim, first
    shown = [c for c in done.claims if c["supported"]]
    assert shown
    for claim in done.claims:  # what is shown passed the check; what failed is not shown
        text = claim["text"].rstrip(".!?")  # markers go before the final stop: "... [3]."
        if claim["supported"]:
            assert text in done.answer
        elif len(text.split()) >= 3:  # a fragment ("2.") may occur inside a quote
            assert text not in done.answer, claim
    assert_verbatim(sample.kb, done)
    assert done.timings.ttft_s is not None


def test_sample_is_a_real_file() -> None:
    assert Path(SAMPLE).stat().st_size > 1000
