"""``dossier worker``: run queued jobs (ingest, review, summary) in the foreground.

Scale ingestion out by starting more workers against the same catalog
(PostgreSQL, ``DOSSIER_CATALOG__URL``) and vector store (a Milvus server,
``DOSSIER_MILVUS__URI``), with ``<data_dir>/uploads/`` on a shared volume:
the API server stores uploads there and every worker must read them. Milvus
Lite is one process per ``.db`` file: with it, only one process (the API
server's own worker thread) may write.

``--stale-after`` sets how long a silent worker keeps its job before another
one re-claims it; ``--health-port`` serves ``/healthz`` and ``/readyz`` for
container health checks and Kubernetes probes (``api/worker_health.py``).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Annotated

import typer

from api.cli import JsonOpt, KbOpt, emit_json, err, fail, get_container

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)


def worker(
    ctx: typer.Context,
    kinds: Annotated[
        str, typer.Option("--kinds", help="Comma-separated job kinds.")
    ] = "ingest,review,summary",
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty.")] = False,
    poll_s: Annotated[float, typer.Option("--poll", help="Idle poll interval, seconds.")] = 2.0,
    stale_after: Annotated[
        float | None,
        typer.Option(
            "--stale-after",
            metavar="SECONDS",
            help="Re-claim a RUNNING job whose heartbeat is older than this (its worker "
            "died). Default: DOSSIER_WORKER__STALE_AFTER_S, else 600. Heartbeats are "
            "written every min(DOSSIER_WORKER__HEARTBEAT_S (15), SECONDS/4).",
        ),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(
            "--health-port",
            help="Serve GET /healthz (alive) and /readyz (catalog, Milvus and the "
            "worker loop OK) on this port; 0 picks a free one. Default: none.",
        ),
    ] = None,
    health_host: Annotated[
        str, typer.Option("--health-host", help="Address for --health-port (0.0.0.0 in pods).")
    ] = "127.0.0.1",
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Claim and run jobs until stopped (SIGINT/SIGTERM finish the current job first)."""
    from api.services.jobs import JOB_KINDS, JobExecutor, LoopBeat, work_loop

    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = set(wanted) - set(JOB_KINDS)
    if unknown or not wanted:
        raise fail(f"--kinds: unknown kind(s) {sorted(unknown)}; use {', '.join(JOB_KINDS)}", 2)
    if stale_after is not None and not stale_after > 0:
        raise fail(f"--stale-after must be > 0 seconds, not {stale_after}", 2)
    container = get_container(ctx, kb)
    timing = container.settings.worker
    if stale_after is not None:
        timing.stale_after_s = stale_after
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    beat = LoopBeat()
    server = None
    if health_port is not None:
        from api.worker_health import WorkerHealth, serve_health

        max_age = max(60.0, 4 * max(poll_s, timing.effective_heartbeat_s))
        health = WorkerHealth(container, beat, max_age)
        try:
            server = serve_health(health, health_host, health_port)
        except OSError as exc:
            raise fail(
                f"--health-port {health_port}: cannot listen on {health_host}: {exc}"
            ) from exc
        err.print(f"[dim]health on http://{health_host}:{server.server_address[1]}[/dim]")
        container.kb  # noqa: B018  (warm: catalog, embedding model, Milvus)
        health.started.set()
    llm_url = container.settings.llm.base_url
    executor = JobExecutor(container, llm_base_url=lambda: llm_url)
    err.print(
        f"[dim]worker {worker_id}: kinds {','.join(wanted)}, stale after "
        f"{timing.stale_after_s:g}s, heartbeat {timing.effective_heartbeat_s:g}s[/dim]"
    )
    try:
        ran = work_loop(
            container, worker_id, wanted, stop, poll_s, executor=executor, once=once, beat=beat
        )
    finally:
        if server is not None:
            server.shutdown()
    if json_out:
        emit_json({"worker_id": worker_id, "jobs": ran})
