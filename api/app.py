"""The Litestar app factory: the HTTP composition root.

``create_app(settings)`` builds the backends (``api.container.Container``),
the services under ``api/services`` and the routes under ``api/routes``.
At start-up it warms the embedder and the store, re-queues jobs left RUNNING
by a crash (single-process mode), completes half-indexed documents, starts the
job worker thread (unless ``worker=False``, e.g. ``dossier serve --no-worker``
when separate ``dossier worker`` processes do the work) and starts the
embedded LLM in the background (unless ``DOSSIER_LLM__BASE_URL`` is set or
``manage_llm=False``). Nothing here blocks on the LLM.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin

from api.auth import auth_guard
from api.container import Container
from api.errors import exception_handlers
from api.metrics import ApiMetrics, metrics_middleware
from api.services.answers import AnswerService
from api.services.jobs import JobExecutor, work_loop
from api.services.llm import LLMService
from api.services.uploads import UploadService
from core.settings import Settings, load_settings

__all__ = ["AppServices", "create_app"]

log = logging.getLogger(__name__)


@dataclass
class AppServices:
    """Everything a route may use; one per app, on ``app.state.services``."""

    settings: Settings
    container: Container
    metrics: ApiMetrics
    llm: LLMService
    answers: AnswerService
    uploads: UploadService
    jobs: JobExecutor
    run_worker: bool = True
    requeue_on_start: bool = True
    wake: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    worker_thread: threading.Thread | None = None
    ready: bool = False

    @property
    def catalog(self) -> Any:
        return self.container.catalog

    @property
    def kb(self) -> Any:
        return self.container.kb

    def _warm(self) -> None:
        self.container.embedder.embed_batch(["warm-up"])
        self.container.store.count("readyz")
        if self.run_worker:
            if self.requeue_on_start:
                self.catalog.requeue_running_jobs()
            self.container.pipeline.recover()

    async def startup(self) -> None:
        await anyio.to_thread.run_sync(self._warm)
        self.llm.start_background()
        if self.run_worker:
            worker_id = f"{socket.gethostname()}:{os.getpid()}:api"
            self.worker_thread = threading.Thread(
                target=work_loop,
                args=(self.container, worker_id, None, self.stop),
                kwargs={"executor": self.jobs, "wake": self.wake, "poll_s": 2.0},
                name="dossier-worker",
                daemon=True,
            )
            self.worker_thread.start()
        self.ready = True
        log.info("api.started worker=%s llm=%s", self.run_worker, self.llm.base_url or "starting")

    async def shutdown(self) -> None:
        self.stop.set()
        self.wake.set()
        if self.worker_thread is not None:
            await anyio.to_thread.run_sync(self.worker_thread.join, 30.0)
        await self.llm.aclose()

    def close(self) -> None:
        self.container.close()


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    worker: bool = True,
    manage_llm: bool = True,
    requeue_on_start: bool = True,
) -> Litestar:
    """The Dossier HTTP API. ``container`` lets a caller share backends (tests,
    benchmarks); it is closed with the app only if the app built it."""
    from api.routes import ROUTES
    from web import create_web_router  # the web app at / (an interface beside this API)

    settings = settings or load_settings()
    owns_container = container is None
    container = container or Container(settings)
    metrics = ApiMetrics()
    llm = LLMService(settings, manage_local=manage_llm)
    services = AppServices(
        settings=settings,
        container=container,
        metrics=metrics,
        llm=llm,
        answers=AnswerService(container.kb, llm, settings, metrics),
        uploads=UploadService(container.catalog, settings.data_dir, settings.ingest.max_file_mb),
        jobs=JobExecutor(container, metrics=metrics, llm_base_url=lambda: llm.base_url),
        run_worker=worker,
        requeue_on_start=requeue_on_start,
    )

    async def on_shutdown() -> None:
        await services.shutdown()
        if owns_container:
            await anyio.to_thread.run_sync(services.close)

    return Litestar(
        route_handlers=[*ROUTES, create_web_router()],
        guards=[auth_guard],
        exception_handlers=exception_handlers,
        middleware=[metrics_middleware],
        on_startup=[services.startup],
        on_shutdown=[on_shutdown],
        state=State({"services": services, "metrics": metrics}),
        request_max_body_size=services.uploads.max_request_bytes,
        openapi_config=OpenAPIConfig(
            title="Dossier",
            version="0.1.0",
            description="Self-hosted document analysis for legal teams. "
            "Authenticate with 'Authorization: Bearer <key>' (dossier keys create).",
            path="/schema",
            # JSON only: every UI plugin (Swagger, Scalar, ...) loads its
            # scripts from a public CDN, and nothing may leave the machine.
            render_plugins=[JsonRenderPlugin(path=["/", "/openapi.json"])],
        ),
        debug=False,
    )
