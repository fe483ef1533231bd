"""Prometheus metrics, one registry per app (so tests can build several apps).

Exposed at ``GET /metrics`` (text exposition format; needs any valid key):

- ``dossier_http_request_duration_seconds{method,route,status}`` histogram
- ``dossier_llm_time_to_first_token_seconds`` histogram (``/v1/ask``, chat)
- ``dossier_llm_time_per_output_token_seconds`` histogram
- ``dossier_llm_output_tokens_total`` counter (streamed token events)
- ``dossier_ingest_pages_total`` / ``dossier_ingest_chunks_total`` counters
- ``dossier_ingest_documents_total{status}`` counter
- ``dossier_jobs{kind,status}`` gauge, refreshed from the catalog at each scrape
  (``status="queued"`` is the queue depth)
"""

from __future__ import annotations

import time
from typing import Any

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "ApiMetrics", "metrics_middleware"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 120)
_TPOT_BUCKETS = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "dossier_http_request_duration_seconds",
            "HTTP request latency (for streams: until the last byte).",
            ["method", "route", "status"], buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.ttft_seconds = Histogram(
            "dossier_llm_time_to_first_token_seconds",
            "Time from the question to the first answer token.",
            buckets=_TTFT_BUCKETS, registry=r,
        )  # fmt: skip
        self.tpot_seconds = Histogram(
            "dossier_llm_time_per_output_token_seconds",
            "Mean time between answer tokens, per answer.",
            buckets=_TPOT_BUCKETS, registry=r,
        )  # fmt: skip
        self.output_tokens = Counter(
            "dossier_llm_output_tokens", "Answer tokens streamed.", registry=r
        )
        self.answers = Counter(
            "dossier_answers", "Answers given, by outcome.", ["outcome"], registry=r
        )
        self.ingest_pages = Counter("dossier_ingest_pages", "Pages ingested.", registry=r)
        self.ingest_chunks = Counter("dossier_ingest_chunks", "Chunks ingested.", registry=r)
        self.ingest_documents = Counter(
            "dossier_ingest_documents", "Files ingested, by result.", ["status"], registry=r
        )
        self.jobs = Gauge("dossier_jobs", "Jobs by kind and status.", ["kind", "status"],
                          registry=r)  # fmt: skip

    def observe_answer(
        self, ttft_s: float | None, total_s: float, tokens: int, outcome: str
    ) -> None:
        self.answers.labels(outcome).inc()
        if tokens:
            self.output_tokens.inc(tokens)
        if ttft_s is not None:
            self.ttft_seconds.observe(ttft_s)
            if tokens > 1:
                self.tpot_seconds.observe(max(total_s - ttft_s, 0.0) / (tokens - 1))

    def observe_ingest(self, status: str, pages: int, chunks: int) -> None:
        self.ingest_documents.labels(status).inc()
        if status == "indexed":
            self.ingest_pages.inc(pages)
            self.ingest_chunks.inc(chunks)

    def set_job_counts(self, counts: dict[tuple[str, str], int]) -> None:
        self.jobs.clear()
        for (kind, status), n in counts.items():
            self.jobs.labels(kind, status).set(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Time every HTTP request, labelled by its route template (not the raw path,
    so ids do not explode the label set)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_wrapper)
        finally:
            metrics: ApiMetrics | None = (
                getattr(scope["app"].state, "metrics", None) if "app" in scope else None
            )
            if metrics is not None:
                route = str(scope.get("path_template") or "unmatched")
                metrics.request_seconds.labels(scope["method"], route, str(status["code"])).observe(
                    time.perf_counter() - t0
                )

    return middleware


def job_counts(rows: list[Any]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for job in rows:
        key = (job.kind, str(job.status))
        counts[key] = counts.get(key, 0) + 1
    return counts
