"""The deterministic planner: follow-up rewriting and tool selection."""

from __future__ import annotations

import pytest

from agent.planner import is_follow_up, plan_question, python_for, standalone_query

ALL = frozenset({"search_documents", "extract_clauses", "run_python"})


def test_first_question_is_its_own_query() -> None:
    assert standalone_query("Which law governs the agreement?", None) == (
        "Which law governs the agreement?",
        False,
    )


@pytest.mark.parametrize(
    "question",
    ["And what about termination?", "does it apply to them?", "Why?", "what about Texas"],
)
def test_follow_up_is_rewritten_with_previous_query(question: str) -> None:
    query, rewritten = standalone_query(question, "Which law governs the agreement?")
    assert rewritten
    assert query.startswith("Which law governs the agreement?")
    assert query.endswith(question)


def test_a_new_full_question_is_not_a_follow_up() -> None:
    assert not is_follow_up(
        "What is the term of the sponsorship agreement with GAINSCO?", "Which law governs?"
    )


def test_always_retrieves_and_scopes_to_documents() -> None:
    plan = plan_question("Who are the parties?", available=ALL, document_ids=["d1"])
    assert [c.tool for c in plan.calls] == ["search_documents"]
    assert plan.calls[0].arguments == {"query": "Who are the parties?", "document_ids": ["d1"]}


@pytest.mark.parametrize(
    "question",
    [
        "What are the risky clauses in this contract?",
        "Is there a termination for convenience provision?",
        "What is the cap on liability?",
    ],
)
def test_clause_questions_add_extract_clauses(question: str) -> None:
    assert "extract_clauses" in [c.tool for c in plan_question(question, available=ALL).calls]


def test_unavailable_tools_are_never_planned() -> None:
    plan = plan_question("What is 1200 * 3 in total?", available={"search_documents"})
    assert [c.tool for c in plan.calls] == ["search_documents"]


@pytest.mark.parametrize(
    ("question", "code_part"),
    [
        ("What is the total of 1,200 + 350.5?", "print(1200 + 350.5)"),
        ("How many days between January 1, 2020 and March 1, 2020?", "2020-03-01"),
        ("What date is 30 days after 2021-01-15?", "timedelta(days=30)"),
        ("When is 3 months after March 31, 2021?", "calendar.monthrange"),
    ],
)
def test_math_questions_get_a_program(question: str, code_part: str) -> None:
    plan = plan_question(question, available=ALL)
    calls = {c.tool: c.arguments for c in plan.calls}
    assert code_part in calls["run_python"]["code"]


def test_plain_questions_get_no_program() -> None:
    assert python_for("Who signed the agreement in 2010?") is None


def test_generated_programs_compute_the_right_answers() -> None:
    import contextlib
    import io

    cases = {
        "How many days between January 1, 2020 and March 1, 2020?": "60",
        "What date is 30 days after 2021-01-15?": "2021-02-14",
        "When is 3 months after March 31, 2021?": "2021-06-30",
        "What is the total of 1,200 + 350.5?": "1550.5",
    }
    for question, expected in cases.items():
        code = python_for(question)
        assert code is not None
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, "<plan>", "exec"), {})  # the planner's own output
        assert buffer.getvalue().strip() == expected, question


NAMES = ["Governing Law", "Cap on Liability", "Uncapped Liability", "Non-Compete", "Audit Rights"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which law governs? Is there a governing law clause?", ["Governing Law"]),
        ("What is the cap on liability?", ["Cap on Liability", "Uncapped Liability"]),
        ("Is there a non compete?", ["Non-Compete"]),
        ("What are the risky clauses?", None),
    ],
)
def test_clause_categories_from_the_question(question: str, expected: list[str] | None) -> None:
    plan = plan_question(question, available=ALL, categories=NAMES)
    calls = {c.tool: c.arguments for c in plan.calls}
    assert calls["extract_clauses"] == {"categories": expected}


def _run(code: str) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(code, "<plan>", "exec"), {})  # the planner's own output
    return buffer.getvalue().strip()


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What date is 90 days after 2024-02-30?", "2024-02-30 is not a valid date "
         "(February 2024 has 29 days)"),
        ("What is 90 days after February 30, 2024?", "February 2024 has 29 days"),
        ("30 days after 29th February 2023?", "February 2023 has 28 days"),
        ("How many days between 13/45/2024 and 2024-01-01?", "there is no month 13"),
        ("What is 30 days after 2024/02/10?", "2024/02/10 is not a date I can read"),
        ("What is 100 days after 9999-12-01?", "outside the calendar"),
    ],
)  # fmt: skip
def test_invalid_dates_are_refused_with_a_sentence(question: str, expected: str) -> None:
    code = python_for(question)
    assert code is not None
    printed = _run(code)
    assert printed.startswith("No date arithmetic was done: ")
    assert printed.endswith(".")
    assert expected in printed


@pytest.mark.parametrize(
    "question", ["What is 2024-02-30?", "Is the effective date 1/2/2024?", "Signed 2024-02-10."]
)
def test_dates_are_never_read_as_arithmetic(question: str) -> None:
    assert python_for(question) is None


def test_valid_dates_in_every_form_still_compute() -> None:
    cases = {
        "What is 30 days after 1/2/2024?": "2024-02-01",
        "10 years before Feb 29, 2024?": "2014-02-28",
        "What date is 2 weeks after 29 February 2024?": "2024-03-14",
        "What is 5 - 3 according to section 2.1.3?": "2",
    }
    for question, expected in cases.items():
        code = python_for(question)
        assert code is not None, question
        assert _run(code) == expected, question
