"""Browser tests of the web app: Debian's Chromium driven by Playwright against
the real app (``api.app.create_app``, what ``dossier serve`` runs) on
127.0.0.1, with the real Milvus Lite, SQLite catalog, MiniLM model and CUAD
PDFs. The LLM is a closed port: answers are evidence-only (degraded), except in
test_web_llm.py, which runs the app with the suite's real vLLM CPU server.

Playwright never downloads a browser here: it launches /usr/bin/chromium
(``apt-get install chromium``; scripts/setup.sh installs it). Set
``DOSSIER_WEB_SCREENSHOTS=docs/screenshots`` to save the screens.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CUAD_PDF, RunningServer, ingest, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]  # fmt: skip
VIEWPORT = {"width": 1280, "height": 800}

#: Three pages; its review flags an uncapped liability (high) quoted on page 2.
SERVICES_PDF = CUAD_PDF / "PFSFUNDS_06_26_2020-EX-99.H OTH MAT CONT-SERVICES AGREEMENT.PDF"
HOSTING_PDF = CUAD_PDF / "BANGIINC_05_25_2005-EX-10-Premium Managed Hosting Agreement.PDF"
COBRANDING_PDF = (
    CUAD_PDF / "PcquoteComInc_19990721_S-1A_EX-10.11_6377149_EX-10.11_Co-Branding Agreement2.pdf"
)

XSS_NAME = '"><img src=x onerror=window.__xss=1><script>window.__xss=2;.pdf'
XSS_TEXT = [
    "Hostile test contract. <script>window.__xss=3</script> The parties agree.",
    'Clause 2. "><img src=x onerror="window.__xss=4"> Payment is due in 30 days.',
]


@pytest.fixture(scope="module")
def web_server(
    tmp_path_factory: pytest.TempPathFactory, st_embedder: Any
) -> Iterator[RunningServer]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/setup.sh (apt-get install chromium)")
    srv = start_server(tmp_path_factory.mktemp("web"), st_embedder)
    try:
        yield srv
    finally:
        srv.stop()
        srv.container.close()


@pytest.fixture(scope="module")
def services_doc(web_server: RunningServer) -> str:
    """The services agreement, ingested for tenant acme through the API."""
    with web_server.client("acme") as client:
        return ingest(client, SERVICES_PDF)[0]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Screens:
    """Saves full-viewport screenshots when DOSSIER_WEB_SCREENSHOTS names a folder."""

    def __init__(self) -> None:
        folder = os.environ.get("DOSSIER_WEB_SCREENSHOTS")
        self.folder = Path(folder) if folder else None
        if self.folder:
            self.folder.mkdir(parents=True, exist_ok=True)

    def save(self, page: Any, name: str, *, full_page: bool = False) -> None:
        if self.folder:
            page.screenshot(path=str(self.folder / f"{name}.png"), full_page=full_page)


@pytest.fixture(scope="module")
def screens() -> Screens:
    return Screens()


@pytest.fixture
def sign_in(web_server: RunningServer, browser: Any) -> Iterator[Any]:
    """``sign_in(tenant, role)`` → a fresh browser page signed in through the
    form. Console messages are collected on ``page.console_messages``."""
    contexts: list[Any] = []

    def factory(tenant: str = "acme", role: str = "member") -> Any:
        context = browser.new_context(viewport=VIEWPORT, base_url=web_server.base_url)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        messages: list[str] = []
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.console_messages_seen = messages
        page.goto("/documents")
        assert "/sign-in" in page.url
        page.fill("#key", web_server.key(tenant, role))
        page.click("button[type=submit]")
        page.wait_for_url("**/documents")
        return page

    yield factory
    for context in contexts:
        context.close()


def csp_violations(page: Any) -> list[str]:
    return [m for m in page.console_messages_seen if "Content Security Policy" in m]
