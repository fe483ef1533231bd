"""``dossier worker``: run queued jobs (ingest, review, summary) in the foreground.

Scale ingestion out by starting more workers against the same catalog
(PostgreSQL, ``DOSSIER_CATALOG__URL``) and vector store (a Milvus server,
``DOSSIER_MILVUS__URI``), with ``<data_dir>/uploads/`` on a shared volume:
the API server stores uploads there and every worker must read them. Milvus
Lite is one process per ``.db`` file: with it, only one process (the API
server's own worker thread) may write.
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
    kb: KbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Claim and run jobs until stopped (SIGINT/SIGTERM finish the current job first)."""
    from api.services.jobs import JOB_KINDS, JobExecutor, work_loop

    wanted = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = set(wanted) - set(JOB_KINDS)
    if unknown or not wanted:
        raise fail(f"--kinds: unknown kind(s) {sorted(unknown)}; use {', '.join(JOB_KINDS)}", 2)
    container = get_container(ctx, kb)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    llm_url = container.settings.llm.base_url
    executor = JobExecutor(container, llm_base_url=lambda: llm_url)
    err.print(f"[dim]worker {worker_id}: kinds {','.join(wanted)}[/dim]")
    ran = work_loop(container, worker_id, wanted, stop, poll_s, executor=executor, once=once)
    if json_out:
        emit_json({"worker_id": worker_id, "jobs": ran})
