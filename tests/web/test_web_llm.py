"""The ask page with the suite's real vLLM CPU server (the other browser tests
run the app with a closed LLM port): a streamed, checked answer whose claims
and citation chips a reader can follow. Saves the README's ``ask`` screen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import RunningServer, start_server
from tests.web.conftest import CHROMIUM, SERVICES_PDF, Screens, csp_violations

pytestmark = [pytest.mark.slow, pytest.mark.llm]


@pytest.fixture(scope="module")
def web_server(  # overrides tests/web/conftest.py's: this one has a model
    tmp_path_factory: pytest.TempPathFactory, st_embedder: Any, llm_base_url: str
) -> Iterator[RunningServer]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/setup.sh (apt-get install chromium)")
    srv = start_server(tmp_path_factory.mktemp("web-llm"), st_embedder, llm_url=llm_base_url)
    try:
        yield srv
    finally:
        srv.stop()
        srv.container.close()


def test_ask_with_the_model_shows_a_checked_answer_and_its_claims(
    services_doc: str, sign_in: Any, screens: Screens
) -> None:
    page = sign_in("acme", "reader")
    page.goto(f"/ask?doc={services_doc}")
    page.fill("#question", "Which law governs this agreement?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn .answer:not(.streaming)", timeout=180_000)
    page.wait_for_selector(".turn .chip.verified")
    turn = page.locator(".turn").last
    assert "language model unavailable" not in turn.inner_text()
    answer = turn.locator(".answer").inner_text()
    assert "Massachusetts" in answer.split(".")[0]
    assert turn.locator(".answer .ref").count() >= 1
    chip = turn.locator(".chip.verified").first
    assert SERVICES_PDF.name in chip.inner_text()
    assert not csp_violations(page)
    screens.save(page, "ask")
