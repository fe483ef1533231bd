"""The web app end to end in Chromium: sign-in, uploads with live progress,
review -> highlighted quote, ask -> citation chip -> highlighted page, roles,
tenants and hostile documents. One server for the module (see conftest.py)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pymupdf
import pytest

from tests.e2e.conftest import NDA_DOCX, RunningServer, ingest
from tests.web.conftest import (
    COBRANDING_PDF,
    HOSTING_PDF,
    SERVICES_PDF,
    XSS_NAME,
    XSS_TEXT,
    Screens,
    csp_violations,
)
from web.highlight import normalise

pytestmark = pytest.mark.slow


def _session(srv: RunningServer, tenant: str = "acme", role: str = "member") -> httpx.Client:
    client = httpx.Client(base_url=srv.base_url, timeout=60, follow_redirects=False)
    response = client.post("/sign-in", data={"key": srv.key(tenant, role), "next": "/documents"})
    assert response.status_code == 303, response.text
    return client


def _csrf(client: httpx.Client) -> str:
    match = re.search(r'data-csrf="([^"]+)"', client.get("/documents").text)
    assert match
    return match.group(1)


def test_sign_in_is_a_strict_httponly_session_with_csrf_and_sign_out(
    web_server: RunningServer,
) -> None:
    anon = httpx.Client(base_url=web_server.base_url, timeout=30)
    first = anon.get("/documents")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/sign-in")
    bad = anon.post("/sign-in", data={"key": "dsk_not-a-key"})
    assert bad.status_code == 401
    assert "not accepted" in bad.text
    assert "dsk_not-a-key" not in bad.text

    key = web_server.key("acme", "member")
    client = httpx.Client(base_url=web_server.base_url, timeout=30)
    response = client.post("/sign-in", data={"key": key, "next": "//evil.example/x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/documents"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert key not in cookie
    page = client.get("/documents")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    assert key not in page.text

    token = _csrf(client)
    assert client.post("/sign-out").status_code == 403  # no CSRF token
    assert client.post("/sign-out", data={"csrf": token},
                       headers={"Origin": "http://evil.example"}).status_code == 403  # fmt: skip
    stale = dict(client.cookies)
    assert client.post("/sign-out", data={"csrf": token}).status_code == 303
    replay = httpx.Client(base_url=web_server.base_url, cookies=stale, timeout=30)
    assert replay.get("/documents").status_code == 303  # the old session is gone

    revoked_key, record = web_server.container.catalog.create_api_key("acme", "member", "temp")
    session = httpx.Client(base_url=web_server.base_url, timeout=30)
    session.post("/sign-in", data={"key": revoked_key})
    assert session.get("/documents").status_code == 200
    web_server.container.catalog.revoke_api_key(record.id)
    assert session.get("/documents").status_code == 303  # revoking the key ends the session


def test_upload_two_pdfs_and_a_broken_one_with_live_progress(
    sign_in: Any, tmp_path: Path, screens: Screens
) -> None:
    broken = tmp_path / "broken-contract.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"this is not really a PDF " * 200)
    page = sign_in("acme", "member")
    screens.save(page, "documents-empty")
    page.evaluate("""() => { window.__stages = {};
      new MutationObserver(() => document.querySelectorAll('#upload-list li').forEach((li, i) => {
        (window.__stages[i] = window.__stages[i] || new Set()).add(li.dataset.stage); }))
      .observe(document.getElementById('upload-list'),
               {subtree: true, childList: true, attributes: true}); }""")
    page.set_input_files("#files", [str(HOSTING_PDF), str(COBRANDING_PDF), str(broken)])
    page.wait_for_function(
        """() => { const rows = document.querySelectorAll('#upload-list li');
          return rows.length === 3 && Array.from(rows).every(
            li => li.dataset.stage === 'indexed' || li.dataset.stage === 'failed'); }""",
        timeout=150_000,
    )
    rows = page.locator("#upload-list li")
    outcome = {rows.nth(i).locator(".name").inner_text(): rows.nth(i).locator(".stage").inner_text()
               for i in range(3)}  # fmt: skip
    assert outcome[HOSTING_PDF.name].startswith("indexed · 2 pages")
    assert outcome[COBRANDING_PDF.name].startswith("indexed")
    assert outcome[broken.name].startswith("failed: ")
    assert "broken-contract.pdf" in outcome[broken.name]
    stages = page.evaluate("() => Object.values(window.__stages).map(s => Array.from(s))")
    assert any({"queued", "parsing", "embedding", "indexing"} & set(s) for s in stages), stages
    page.wait_for_selector(f"#document-rows a:text-is('{HOSTING_PDF.name}')")
    screens.save(page, "documents-upload")
    page.fill("#q", "co-branding")  # the filter asks the server as you type
    page.wait_for_function("() => document.querySelectorAll('#document-rows tr').length === 1")
    assert COBRANDING_PDF.name in page.locator("#document-rows").inner_text()
    assert not csp_violations(page)


def _boxes(page: Any) -> tuple[dict[str, float], list[tuple[float, float, float, float]]]:
    """The page image's box and the highlight boxes as fractions of it (both
    measured in viewport coordinates, as Playwright's bounding_box is)."""
    image = page.locator("#page-image").bounding_box()
    boxes = []
    for box in page.locator(".page-frame .hl").evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [r.left, r.top, r.right, r.bottom]; })"
    ):
        x0, y0, x1, y1 = box
        boxes.append(((x0 - image["x"]) / image["width"], (y0 - image["y"]) / image["height"],
                      (x1 - image["x"]) / image["width"], (y1 - image["y"]) / image["height"]))  # fmt: skip
    return image, boxes


def _assert_highlight_covers_quote(
    pdf: Path, page_no: int, quote: str, boxes: list[tuple[float, float, float, float]]
) -> None:
    """Oracle: the PyMuPDF word boxes whose centres the highlights cover spell
    the quote (give or take the partial words at either end), and no more."""
    assert boxes, "no highlight rectangles"
    with pymupdf.open(pdf) as doc:
        page = doc[page_no - 1]
        w, h = page.rect.width, page.rect.height
        covered = []
        for x0, y0, x1, y1, text, *_ in page.get_text("words", sort=True):
            cx, cy = (x0 + x1) / 2 / w, (y0 + y1) / 2 / h
            if any(b[0] - 0.003 <= cx <= b[2] + 0.003 and b[1] - 0.003 <= cy <= b[3] + 0.003
                   for b in boxes):  # fmt: skip
                covered.append(text)
    spelled, wanted = normalise(" ".join(covered)), normalise(quote)
    assert wanted[8:-8] in spelled, (covered, quote)
    assert len(spelled) <= len(wanted) + 40, (covered, quote)


def test_review_finding_opens_its_page_with_the_quote_highlighted(
    web_server: RunningServer, services_doc: str, sign_in: Any, screens: Screens
) -> None:
    page = sign_in("acme", "member")
    page.goto(f"/reviews/new?doc={services_doc}")
    page.click("form[action='/reviews'] button[type=submit]")
    page.wait_for_selector("h1:has-text('Review:')", timeout=120_000)
    screens.save(page, "review")
    markdown = page.request.get(page.locator("a[href$='report.md']").get_attribute("href"))
    assert markdown.ok
    assert "# Contract review" in markdown.text()
    assert "Uncapped Liability" in markdown.text()
    link = page.locator(".finding.risk-high a.quote-link").first
    query = parse_qs(urlsplit(link.get_attribute("href")).query)
    hp, start, end = int(query["hp"][0]), int(query["s"][0]), int(query["e"][0])
    link.click()
    page.wait_for_selector(".page-frame .hl")
    page.wait_for_function("() => document.getElementById('page-image').complete")
    assert page.locator("#page-no").input_value() == str(hp)
    quote = web_server.container.kb.page_text("acme", services_doc, hp)[start:end]
    _, boxes = _boxes(page)
    _assert_highlight_covers_quote(SERVICES_PDF, hp, quote, boxes)
    assert normalise(quote) in normalise(page.locator(".text-layer mark").inner_text())
    screens.save(page, "document-highlight")
    assert not csp_violations(page)


def test_ask_streams_tokens_and_a_citation_chip_opens_the_highlighted_page(
    services_doc: str, sign_in: Any, screens: Screens
) -> None:
    page = sign_in("acme", "reader")
    page.goto(f"/ask?doc={services_doc}")
    page.evaluate("""() => { window.__changes = 0;
      new MutationObserver(() => { const a = document.querySelector('.answer.streaming');
        if (a) window.__changes += 1; })
      .observe(document.getElementById('chat'), {subtree: true, childList: true,
                                                  characterData: true}); }""")
    page.fill("#question", "Is the liability of the parties limited?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn .chip.verified", timeout=120_000)
    page.wait_for_selector(".turn .answer:not(.streaming)")
    assert page.evaluate("() => window.__changes") >= 2  # text arrived in pieces
    chip = page.locator(".turn .chip.verified").first
    assert SERVICES_PDF.name in chip.inner_text()
    assert ", p. " in chip.inner_text()
    assert page.locator(".turn .answer .ref").count() >= 1  # [n] markers in the answer
    screens.save(page, "ask-no-model")
    cited_page = int(re.search(r", p\. (\d+)", chip.inner_text()).group(1))
    chip.click()
    page.wait_for_url("**/documents/**")
    page.wait_for_selector(".page-frame .hl")
    assert page.locator("#page-no").input_value() == str(cited_page)
    assert not csp_violations(page)


def test_a_reader_sees_no_upload_or_delete_and_the_server_refuses_them(
    services_doc: str, sign_in: Any
) -> None:
    page = sign_in("acme", "reader")
    assert page.locator("#dropzone").count() == 0
    assert page.locator("#document-rows button:has-text('Delete')").count() == 0
    csrf = page.locator("body").get_attribute("data-csrf")
    upload = page.request.post("/documents/upload", headers={"X-CSRF-Token": csrf,
                               "Accept": "application/json"},
                               multipart={"file": {"name": "a.pdf", "mimeType": "application/pdf",
                                                   "buffer": SERVICES_PDF.read_bytes()}})  # fmt: skip
    assert upload.status == 403
    assert "reader" in upload.json()["error"]
    delete = page.request.post(f"/documents/{services_doc}/delete",
                               headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert delete.status == 403
    assert page.request.get(f"/documents/{services_doc}").status == 200  # still there


def test_another_tenants_document_is_a_404_page(web_server: RunningServer, sign_in: Any) -> None:
    with web_server.client("globex") as client:
        (theirs,) = ingest(client, HOSTING_PDF)
    page = sign_in("acme", "member")
    response = page.goto(f"/documents/{theirs}")
    assert response.status == 404
    assert "does not exist" in page.locator("main").inner_text()
    assert page.request.get(f"/documents/{theirs}/page-image/1").status == 404
    assert page.request.post(f"/documents/{theirs}/delete", headers={
        "X-CSRF-Token": page.locator("body").get_attribute("data-csrf")}).status == 404  # fmt: skip


def _hostile_pdf(path: Path) -> Path:
    doc = pymupdf.open()
    page = doc.new_page()
    for i, line in enumerate(XSS_TEXT):
        page.insert_text((72, 100 + 30 * i), line, fontsize=10)
    doc.save(path)
    return path


def test_a_hostile_document_name_and_text_render_inertly(
    web_server: RunningServer, sign_in: Any, tmp_path: Path
) -> None:
    # The CLI ingests files under their own names (< > " allowed on Linux).
    result = web_server.container.pipeline.ingest_file(
        _hostile_pdf(tmp_path / "hostile.pdf"), "acme", name=XSS_NAME
    )
    assert result.status == "indexed", result.error
    web_server.container.kb.flush()
    page = sign_in("acme", "member")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for url in ("/documents", f"/documents/{result.document_id}",
                f"/documents/{result.document_id}?find=payment", "/ask", "/reviews/new"):  # fmt: skip
        page.goto(url)
        assert page.evaluate("() => window.__xss") is None, url
        assert page.locator("img[src='x']").count() == 0, url
    page.goto(f"/documents/{result.document_id}")
    assert "<script>window.__xss=3</script>" in page.locator(".text-layer").inner_text()
    assert XSS_NAME in page.locator("h1").inner_text()
    page.goto(f"/ask?doc={result.document_id}")
    page.fill("#question", "When is payment due?")
    page.press("#question", "Enter")
    page.wait_for_selector(".turn .answer:not(.streaming)", timeout=120_000)
    assert page.evaluate("() => window.__xss") is None
    assert not dialogs
    assert not csp_violations(page)


def test_search_opens_a_hit_and_summaries_end_in_a_downloadable_digest(
    services_doc: str, sign_in: Any, screens: Screens
) -> None:
    page = sign_in("acme", "member")
    page.goto("/search?q=indemnify+the+Trust&mode=hybrid&k=5")
    hit = page.locator(f".hits a[href^='/documents/{services_doc}']").first
    assert "page" in hit.inner_text()
    screens.save(page, "search")
    hit.click()
    page.wait_for_selector(".page-frame .hl")
    page.goto("/summaries")
    page.check(f"#sum-{services_doc}")
    page.click("form[action='/summaries'] button[type=submit]")
    page.wait_for_selector("h1:has-text('Digest')", timeout=120_000)
    assert page.locator(".quote-link").count() >= 1
    screens.save(page, "summaries")
    digest = page.request.get(page.locator("a[href$='digest.md']").get_attribute("href"))
    assert digest.ok
    assert digest.text().startswith("# Digest")
    assert SERVICES_PDF.name in digest.text()


def test_admin_creates_and_revokes_a_key_and_filters_the_audit_log(
    web_server: RunningServer, sign_in: Any, screens: Screens
) -> None:
    member = sign_in("acme", "member")
    assert member.locator("nav a:has-text('Admin')").count() == 0
    assert member.goto("/admin/keys").status == 403
    page = sign_in("acme", "admin")
    page.goto("/admin/keys")
    page.fill("#key-name", "Pat Reader")
    page.select_option("#key-role", "reader")
    page.click("form[action='/admin/keys'] button[type=submit]")
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("dsk_")
    screens.save(page, "admin-keys")
    with httpx.Client(base_url=web_server.base_url, timeout=30) as pat:
        assert pat.post("/sign-in", data={"key": key}).status_code == 303
        assert pat.get("/documents").status_code == 200
        page.on("dialog", lambda d: d.accept())
        page.locator("tr:has-text('Pat Reader') button:has-text('Revoke')").click()
        page.wait_for_selector("tr:has-text('Pat Reader') .status-failed")
        assert pat.get("/documents").status_code == 303  # signed out at once
    page.goto("/admin/audit?action=key_revoked")
    rows = page.locator("tbody tr")
    assert rows.count() == 1
    assert "key_revoked" in rows.first.inner_text()
    screens.save(page, "audit")
    assert not csp_violations(page)


def test_the_checked_answer_replaces_the_streamed_tokens_and_claims_are_listed(
    sign_in: Any,
) -> None:
    """The LLM path's events (claim, answer) through the page's own handler:
    the checked answer is what remains on screen; an unsupported claim shows
    with its reason; verified and dropped chips differ."""
    page = sign_in("acme", "reader")
    page.goto("/ask")
    cite = {"n": 1, "document_id": "d1", "document": "A.pdf", "page": 2, "quote": "q",
            "start": 0, "end": 1, "verified": True}  # fmt: skip
    shown = page.evaluate(
        "events => window.dossierReplayTurn('Which law governs?', events)",
        [["token", {"text": "Delaware law governs [1]. "}],
         ["token", {"text": "The fee is $9 million [1]."}],
         ["claim", {"text": "Delaware law governs [1].", "supported": True, "citations": [1]}],
         ["claim", {"text": "The fee is $9 million [1].", "supported": False, "citations": [1],
                    "reason": "the cited text states no such amount"}],
         ["citation", {"citation": cite}],
         ["citation", {"citation": cite | {"n": 2, "verified": False}, "reason": "not on page"}],
         ["answer", {"text": "Delaware law governs [1].", "retracted": True}],
         ["done", {"answer": "Delaware law governs [1]. The fee is $9 million [1].",
                   "session_id": "web-1"}]],
    )  # fmt: skip
    assert shown == "Delaware law governs [1]."
    assert (
        page.locator(".claims .unsupported")
        .inner_text()
        .endswith("the cited text states no such amount")
    )
    assert page.locator(".chip.verified").count() == 1
    assert page.locator(".chip.dropped").count() == 1
    assert "not verified" in page.locator(".chip.dropped").inner_text()


def test_a_docx_is_shown_as_its_text_and_a_search_hit_is_marked_in_it(
    web_server: RunningServer, sign_in: Any
) -> None:
    with web_server.client("acme") as client:
        (doc,) = ingest(client, NDA_DOCX)
    page = sign_in("acme", "reader")
    page.goto(f"/documents/{doc}?find=confidential+information")
    hit = page.locator(".hits a").first
    query = parse_qs(urlsplit(hit.get_attribute("href")).query)
    hp, start, end = int(query["hp"][0]), int(query["s"][0]), int(query["e"][0])
    hit.click()
    page.wait_for_selector(".page-text-doc mark")
    stored = web_server.container.kb.page_text("acme", doc, hp)
    assert page.locator(".page-text-doc mark").inner_text() == stored[start:end]
    assert page.locator("#page-image").count() == 0


def test_the_documents_page_of_a_100_document_tenant_answers_within_300_ms(
    web_server: RunningServer,
) -> None:
    catalog = web_server.container.catalog
    for i in range(100):
        record = catalog.create_document("bulk", f"Supply agreement {i:03d}.pdf", f"{i:064x}",
                                         "application/pdf")  # fmt: skip
        catalog.mark_ready("bulk", record.id, 20, 80)
    client = _session(web_server, "bulk", "member")
    client.get("/documents")  # warm
    timings = []
    for _ in range(5):
        t0 = time.perf_counter()
        response = client.get("/documents")
        timings.append(time.perf_counter() - t0)
        assert response.status_code == 200
    assert response.text.count('<tr id="doc-') == 100
    assert sorted(timings)[2] < 0.3, timings


def test_a_digest_of_reports_shows_the_comparison_table_and_offers_csv(
    web_server: RunningServer, sign_in: Any, screens: Screens, tmp_path: Path
) -> None:
    from tests.reports.test_summaries import PDFS, TENK_PAGES, slice_pdf

    tenk = slice_pdf(PDFS / "CORNING_2022_10K.pdf", TENK_PAGES, tmp_path / "CORNING_2022_10K.pdf")
    with web_server.client("acme") as client:
        doc_id = ingest(client, tenk)[0]
    page = sign_in("acme", "member")
    page.goto("/summaries")
    page.check(f"#sum-{doc_id}")
    page.click("form[action='/summaries'] button[type=submit]")
    page.wait_for_selector("h1:has-text('Digest')", timeout=300_000)
    row = page.locator("table.comparison tbody tr").first
    assert "Corning" in row.locator("th").inner_text()
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert cells[:4] == ["10-K", "FY2022", "14,189", "+0.8%"]
    screens.save(page, "digest-reports")
    table = page.request.get(page.locator("a[href$='digest.csv']").get_attribute("href"))
    assert table.ok
    assert table.headers["content-type"].startswith("text/csv")
    lines = table.text().splitlines()
    assert lines[0].startswith("company,form,period,units,revenue")
    assert ",10-K,FY2022," in lines[1]
    markdown = page.request.get(page.locator("a[href$='digest.md']").get_attribute("href")).text()
    assert "| Company | Form | Period | Revenue |" in markdown
