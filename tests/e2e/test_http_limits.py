"""Requests that used to end in a 500: each gets a 4xx problem now, over HTTP
against the real app on 127.0.0.1.

- a page number too large for SQL (``/pages/99999999999999999999``);
- ``?format=png`` of a 14,400 pt or 200,000 pt page (PyMuPDF "Overly large
  image"); rendering stays under ``PNG_MAX_PIXELS``;
- a client that disconnects mid-upload (one log line, no traceback).
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from api.routes.documents import PNG_MAX_PIXELS
from tests.e2e.conftest import ingest

#: (width, height) in points of the test PDF's pages.
PAGES = [(612, 792), (14_400, 14_400), (200_000, 200_000), (4_000, 4_000)]


def _pdf(path: Path) -> Path:
    import pymupdf

    clauses = ["This agreement is governed by the laws of New York.",
               "Either party may terminate on ninety (90) days notice.",
               "The supplier shall keep the customer's data confidential.",
               "Fees are payable within thirty (30) days of invoice."]  # fmt: skip
    with pymupdf.open() as pdf:
        for (width, height), clause in zip(PAGES, clauses, strict=True):
            page = pdf.new_page(width=width, height=height)
            page.insert_text((72, height / 2), clause)
        pdf.save(path)
    return path


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def big_pages(serve: Any, tmp_path: Path) -> tuple[Any, str]:
    srv = serve()
    with srv.client() as client:
        (doc_id,) = ingest(client, _pdf(tmp_path / "large-pages.pdf"))
    return srv, doc_id


def test_page_numbers_out_of_range_are_404(big_pages: tuple[Any, str]) -> None:
    srv, doc_id = big_pages
    with srv.client() as client:
        for page in ("99999999999999999999", "0", "-1", "5"):
            for fmt in ("json", "png"):
                response = client.get(f"/v1/documents/{doc_id}/pages/{page}?format={fmt}")
                assert response.status_code == 404, (page, fmt, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert "has no page" in response.json()["detail"]


@pytest.mark.slow
def test_huge_pages_are_a_problem_not_a_500(big_pages: tuple[Any, str]) -> None:
    srv, doc_id = big_pages
    with srv.client() as client:
        for page in (2, 3):
            response = client.get(f"/v1/documents/{doc_id}/pages/{page}?format=png")
            assert response.status_code == 422, response.text
            problem = response.json()
            assert problem["type"].endswith("/page-too-large")
            width = PAGES[page - 1][0]
            assert f"page {page} is {width} x {width} pt" in problem["detail"]
            assert "Download the original" in problem["detail"]
        first = client.get(f"/v1/documents/{doc_id}/pages/1?format=png")
        assert first.status_code == 200
        assert _png_size(first.content) == (935, 1210)  # 110 dpi
        large = client.get(f"/v1/documents/{doc_id}/pages/4?format=png")
        assert large.status_code == 200
        width, height = _png_size(large.content)
        assert width * height <= PNG_MAX_PIXELS
        assert width >= 4_000 / 72 * 36  # still at least PNG_MIN_DPI


class _Records(logging.Handler):
    """Records of the named loggers (caplog's root handler does not survive
    Litestar's logging set-up at app start)."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.loggers = [logging.getLogger(name) for name in names]

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> _Records:
        for logger in self.loggers:
            logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        for logger in self.loggers:
            logger.removeHandler(self)


def test_client_disconnect_mid_upload_is_logged_once(serve: Any) -> None:
    srv = serve()
    host, port = srv.base_url.removeprefix("http://").split(":")
    boundary = "dossier-test-boundary"
    head = (
        f"POST /v1/documents HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {srv.key('acme')}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: 10000000\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    with _Records("api", "uvicorn", "litestar") as seen:
        logging.getLogger("api").setLevel(logging.INFO)
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(head + b"This agreement is governed by the laws of New York. " * 2000)
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            "upload_disconnected" in r.getMessage() for r in seen.records
        ):
            time.sleep(0.1)
        time.sleep(0.5)
    messages = [r.getMessage() for r in seen.records]
    assert sum("api.upload_disconnected" in m for m in messages) == 1, messages
    assert not [r for r in seen.records if r.levelno >= logging.WARNING or r.exc_info], messages
    with srv.client() as client:
        assert client.get("/v1/documents").json() == []
    data_dir = srv.container.settings.data_dir
    assert not [p for p in data_dir.rglob("*") if ".incoming" in p.parts and p.is_file()]
