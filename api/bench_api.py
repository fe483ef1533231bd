"""API latency benchmark: ``python -m api.bench_api --json [--kb DIR] [--pdfs N] [--requests N]``.

Starts a real server (uvicorn on a free 127.0.0.1 port, worker thread on, LLM
from ``DOSSIER_LLM__BASE_URL`` or none = evidence-only) on the data dir
``--kb`` (searched as it is, e.g. the 101 contracts ``make bench`` ingested)
or on a fresh one holding one uploaded contract. It then measures
``/v1/search`` p50/p95 alone and while N PDFs are uploaded and ingested for
another tenant, and, for ``/v1/ask`` under 1, 5 and 20 concurrent clients,
the time to the first SSE event carrying answer text (``token``, or the
``done`` of an evidence-only answer) and to the end of the stream. Prints one
JSON object (the last line) with ``--json``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["api_latency_benchmark"]

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cuad-dev" / "pdf"
QUESTIONS = ["Which law governs the agreement?", "Can either party terminate for convenience?",
             "Is liability capped?", "How long is the initial term?"]  # fmt: skip
#: Files per upload request (101 CUAD PDFs in one request exceed the size limit).
UPLOAD_BATCH = 10
QUERIES = ["governing law", "termination for convenience", "limitation of liability",
           "exclusivity", "payment terms", "audit rights", "change of control", "non-compete"]  # fmt: skip


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _searches(client: httpx.Client, n: int) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        client.post(
            "/v1/search", json={"query": QUERIES[i % len(QUERIES)], "k": 8}
        ).raise_for_status()
        times.append(time.perf_counter() - t0)
    return times


def _ask(base_url: str, key: str, question: str) -> tuple[float, float]:
    """(seconds to the first answer text, seconds to the end of the stream)."""
    t0 = time.perf_counter()
    first: float | None = None
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=900) as c, \
            c.stream("POST", "/v1/ask", json={"question": question}) as r:  # fmt: skip
        r.raise_for_status()
        for line in r.iter_lines():
            if first is None and line in ("event: token", "event: done"):
                first = time.perf_counter() - t0
    if first is None:
        raise RuntimeError("the answer stream ended without text")
    return first, time.perf_counter() - t0


def api_latency_benchmark(
    *, pdfs: int = 5, requests: int = 40, concurrency: tuple[int, ...] = (1, 5, 20),
    data_dir: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Measure the API (see the module docstring); returns milliseconds."""
    import uvicorn

    from api.app import create_app
    from core.settings import load_settings

    files = sorted(DATA.glob("*.[pP][dD][fF]"))
    with tempfile.TemporaryDirectory(prefix="dossier-bench-api-") as tmp:
        settings = load_settings(data_dir=data_dir or Path(tmp))
        app = create_app(settings, manage_llm=False)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            catalog = app.state.services.catalog
            key, _ = catalog.create_api_key(settings.tenant, "member", "bench-search")
            # The concurrent ingest goes to its own tenant: uploading files the
            # searched tenant already holds would be a no-op (same content).
            ingest_key, _ = catalog.create_api_key("bench-ingest", "member", "bench-ingest")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=900) as client:
                indexed = len(client.get("/v1/documents").json())
                if indexed == 0:
                    first = client.post(
                        "/v1/documents", files={"file": (files[0].name, files[0].read_bytes())}
                    )
                    _wait(client, first.json()["jobs"][0]["id"])
                    indexed = 1
                _searches(client, 3)  # warm
                alone = _searches(client, requests)
                uploads = files[:pdfs]
                t0 = time.perf_counter()
                job_ids = []
                for i in range(0, len(uploads), UPLOAD_BATCH):  # under the request size limit
                    batch = client.post(
                        "/v1/documents",
                        files=[
                            ("files", (f.name, f.read_bytes()))
                            for f in uploads[i : i + UPLOAD_BATCH]
                        ],
                        headers={"Authorization": f"Bearer {ingest_key}"},
                    )
                    batch.raise_for_status()
                    job_ids += [j["id"] for j in batch.json()["jobs"]]
                during = []
                while not all(_done(client, j, ingest_key) for j in job_ids):
                    during.extend(_searches(client, 5))
                ingest_s = time.perf_counter() - t0
                _delete_all(client, ingest_key)  # a rerun on this data dir ingests again
            ttft: dict[str, Any] = {}
            for n in concurrency:
                t1 = time.perf_counter()
                with cf.ThreadPoolExecutor(max_workers=n) as pool:
                    results = list(pool.map(lambda i: _ask(base, key, QUESTIONS[i % len(QUESTIONS)]), range(n)))  # fmt: skip
                firsts = [r[0] for r in results]
                totals = [r[1] for r in results]
                ttft[str(n)] = {"p50_ms": _pct(firsts, 0.5), "p95_ms": _pct(firsts, 0.95),
                                "max_ms": round(max(firsts) * 1000, 2),
                                "total_p50_ms": _pct(totals, 0.5), "total_p95_ms": _pct(totals, 0.95),
                                "wall_s": round(time.perf_counter() - t1, 2)}  # fmt: skip
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    return {
        "documents_searched": indexed,
        "search_alone": {"n": len(alone), "p50_ms": _pct(alone, 0.5), "p95_ms": _pct(alone, 0.95)},
        "search_during_ingest": {"n": len(during), "p50_ms": _pct(during, 0.5),
                                 "p95_ms": _pct(during, 0.95), "pdfs": len(job_ids),
                                 "ingest_s": round(ingest_s, 2)},
        "ask_ttft": ttft,
        "llm": settings.llm.base_url or "none (evidence-only)",
        "mean_search_ms": round(statistics.mean(alone) * 1000, 2) if alone else None,
    }  # fmt: skip


def _done(client: httpx.Client, job_id: str, key: str | None = None) -> bool:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return client.get(f"/v1/jobs/{job_id}", headers=headers).json()["status"] in ("done", "failed")


def _delete_all(client: httpx.Client, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    for doc in client.get("/v1/documents", headers=headers).json():
        client.delete(f"/v1/documents/{doc['id']}", headers=headers).raise_for_status()


def _wait(client: httpx.Client, job_id: str) -> None:
    while not _done(client, job_id):
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdfs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", default="1,5,20")
    parser.add_argument("--kb", type=Path, help="Data dir to search (default: a fresh one).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = api_latency_benchmark(
        pdfs=args.pdfs, requests=args.requests, data_dir=args.kb,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
    )  # fmt: skip
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
