"""API latency benchmark: ``python -m api.bench_api --json [--pdfs N] [--requests N]``.

Starts a real server (uvicorn on a free 127.0.0.1 port, worker thread on, LLM
from ``DOSSIER_LLM__BASE_URL`` or none = evidence-only), ingests one contract,
then measures ``/v1/search`` p50/p95 alone and while an ingest of N PDFs
runs, and the time to first SSE event carrying answer text (``token``, or the
``done`` of an evidence-only answer) of ``/v1/ask`` under 1, 5 and 20
concurrent clients. Prints one JSON object (the last line) with ``--json``.
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


def _ttft(base_url: str, key: str, question: str) -> float:
    t0 = time.perf_counter()
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=600) as c, \
            c.stream("POST", "/v1/ask", json={"question": question}) as r:  # fmt: skip
        for line in r.iter_lines():
            if line in ("event: token", "event: done"):
                return time.perf_counter() - t0
    raise RuntimeError("the answer stream ended without text")


def api_latency_benchmark(
    *, pdfs: int = 5, requests: int = 40, concurrency: tuple[int, ...] = (1, 5, 20),
    data_dir: Path | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Measure the API (see the module docstring); returns milliseconds."""
    import uvicorn

    from api.app import create_app
    from core.settings import load_settings

    files = sorted(DATA.glob("*.[pP][dD][fF]"))[: pdfs + 1]
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
            key, _ = app.state.services.catalog.create_api_key("bench", "member", "bench")
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                first = client.post(
                    "/v1/documents", files={"file": (files[0].name, files[0].read_bytes())}
                )
                _wait(client, first.json()["jobs"][0]["id"])
                _searches(client, 3)  # warm
                alone = _searches(client, requests)
                t0 = time.perf_counter()
                batch = client.post("/v1/documents", files=[
                    ("files", (f.name, f.read_bytes())) for f in files[1:]])  # fmt: skip
                job_ids = [j["id"] for j in batch.json()["jobs"]]
                during = []
                while not all(_done(client, j) for j in job_ids):
                    during.extend(_searches(client, 5))
                ingest_s = time.perf_counter() - t0
            ttft: dict[str, Any] = {}
            for n in concurrency:
                with cf.ThreadPoolExecutor(max_workers=n) as pool:
                    values = list(
                        pool.map(lambda i: _ttft(base, key, QUERIES[i % len(QUERIES)]), range(n))
                    )
                ttft[str(n)] = {"p50_ms": _pct(values, 0.5), "p95_ms": _pct(values, 0.95),
                                "max_ms": round(max(values) * 1000, 2)}  # fmt: skip
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    return {
        "search_alone": {"n": len(alone), "p50_ms": _pct(alone, 0.5), "p95_ms": _pct(alone, 0.95)},
        "search_during_ingest": {"n": len(during), "p50_ms": _pct(during, 0.5),
                                 "p95_ms": _pct(during, 0.95), "pdfs": len(job_ids),
                                 "ingest_s": round(ingest_s, 2)},
        "ask_ttft": ttft,
        "llm": settings.llm.base_url or "none (evidence-only)",
        "mean_search_ms": round(statistics.mean(alone) * 1000, 2) if alone else None,
    }  # fmt: skip


def _done(client: httpx.Client, job_id: str) -> bool:
    return client.get(f"/v1/jobs/{job_id}").json()["status"] in ("done", "failed")


def _wait(client: httpx.Client, job_id: str) -> None:
    while not _done(client, job_id):
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pdfs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--concurrency", default="1,5,20")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = api_latency_benchmark(
        pdfs=args.pdfs, requests=args.requests,
        concurrency=tuple(int(c) for c in args.concurrency.split(",")),
    )  # fmt: skip
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
