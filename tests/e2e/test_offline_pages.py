"""Offline for real: no page the server serves makes a browser fetch from
another host (``/schema`` used to load Swagger UI from a public CDN).

Generic on purpose: every GET route without path parameters is fetched (the
API, ``/schema`` and the web app at ``/`` alike), then every same-host link,
script and stylesheet those pages name, as a reader and as an admin.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

#: An absolute or protocol-relative URL in HTML, CSS or JS.
_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+(?::\d+)?[^\s"'<>()`]*""")
#: Namespace identifiers are never fetched (<svg xmlns="http://www.w3.org/2000/svg">).
_XMLNS = re.compile(r"""xmlns(?::\w+)?\s*=\s*["'][^"']*["']""")
_LINK = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"'#]+)""")
_TEXT_TYPES = ("text/html", "text/css", "javascript", "application/json")
MAX_PAGES = 200


def _foreign_urls(text: str, own_host: str) -> list[str]:
    """Absolute http(s) URLs (or //host ones) in ``text`` to another host."""
    found = []
    for match in _URL.finditer(_XMLNS.sub("", text)):
        url = match.group(0)
        start = match.start()
        if url.startswith("//") and start > 0 and text[start - 1] in ":/":
            continue  # the tail of an http(s):// URL already seen, or a comment
        host = urlsplit(url if "//" in url[:8] else "http:" + url).hostname or ""
        if host and host != own_host:
            found.append(url)
    return found


def _start_paths(app: Any) -> list[str]:
    paths = {"/", "/schema"}
    for route in app.routes:
        methods = getattr(route, "methods", set())
        if "GET" in methods and "{" not in route.path:
            paths.add(route.path)
    return sorted(paths)


def _crawl(client: httpx.Client, starts: list[str], own_host: str) -> dict[str, list[str]]:
    """url -> foreign URLs it names, for every text page reachable on the host."""
    seen: set[str] = set()
    queue = list(starts)
    report: dict[str, list[str]] = {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow_redirects=True)
        kind = response.headers.get("content-type", "")
        if not any(t in kind for t in _TEXT_TYPES):
            continue
        if bad := _foreign_urls(response.text, own_host):
            report[path] = bad
        if "html" in kind or "css" in kind:
            for link in _LINK.findall(response.text):
                target = urlsplit(urljoin(str(response.url), link))
                if target.hostname == own_host and not target.path.startswith("/v1/"):
                    queue.append(target.path)
    return report


def test_no_page_fetches_from_another_host(shared_server: Any) -> None:
    host = urlsplit(shared_server.base_url).hostname
    starts = _start_paths(shared_server.app)
    assert "/schema" in starts
    for role in (None, "reader", "admin"):
        with shared_server.client(tenant="acme" if role else None, role=role or "reader") as client:
            report = _crawl(client, starts, host)
        assert report == {}, f"pages that reach other hosts ({role or 'anonymous'}): {report}"
    with shared_server.client(role="admin") as client:
        schema = client.get("/schema")
        assert schema.status_code == 200
        assert schema.json()["info"]["title"] == "Dossier"
        assert client.get("/schema/openapi.json").json()["paths"]


def test_the_checker_sees_a_cdn() -> None:
    page = ('<svg xmlns="http://www.w3.org/2000/svg"></svg>'
            '<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/x.js"></script>'
            '<link href="//fonts.googleapis.com/css" rel="stylesheet">'
            '<a href="http://127.0.0.1:8000/ask">ask</a>')  # fmt: skip
    assert _foreign_urls(page, "127.0.0.1") == [
        "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/x.js",
        "//fonts.googleapis.com/css",
    ]
