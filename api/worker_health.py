"""Health endpoint of ``dossier worker --health-port P`` (a worker has no API).

A stdlib HTTP server in a daemon thread, for container health checks and
Kubernetes probes:

- ``GET /healthz``: 200 ``{"status": "ok"}`` while the process runs (liveness);
- ``GET /readyz``: 200 ``{"status": "ready", "catalog": "ok", "milvus": "ok",
  "loop": "ok", ...}`` when the catalog answers, the vector store answers and
  the worker loop showed it is alive within ``max_beat_age_s`` (it beats on
  every idle poll, every claim, and every job heartbeat while a job runs);
  otherwise 503 with the failing check named (``"starting"`` before the
  models and connections are warm).

Anything else is 404. Nothing is logged per request (probes every few seconds).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api.services.health import backend_checks
from api.services.jobs import LoopBeat

__all__ = ["WorkerHealth", "serve_health"]

log = logging.getLogger(__name__)


class WorkerHealth:
    """Readiness of one worker process. ``container`` is an
    ``api.container.Container``; ``started`` is set once it is warm."""

    def __init__(self, container: Any, beat: LoopBeat, max_beat_age_s: float) -> None:
        self.container = container
        self.beat = beat
        self.max_beat_age_s = max_beat_age_s
        self.started = threading.Event()

    def readiness(self) -> tuple[int, dict[str, Any]]:
        if not self.started.is_set():
            return 503, {"status": "starting"}
        checks: dict[str, Any] = dict(backend_checks(self.container))
        age = self.beat.age()
        if age is None:
            checks["loop"] = "not started"
        elif age > self.max_beat_age_s:
            checks["loop"] = f"stalled: no beat for {age:.0f}s"
        else:
            checks["loop"] = "ok"
        checks["loop_beat_age_s"] = None if age is None else round(age, 1)
        ok = all(checks[k] == "ok" for k in ("catalog", "milvus", "loop"))
        return (200 if ok else 503), {"status": "ready" if ok else "unready", **checks}


def _handler(health: WorkerHealth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                code, body = 200, {"status": "ok"}
            elif path == "/readyz":
                code, body = health.readiness()
            else:
                code, body = 404, {"error": "not found"}
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve_health(health: WorkerHealth, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving in a daemon thread; ``server.server_address`` has the port
    (``port=0`` picks a free one). ``server.shutdown()`` stops it."""
    server = ThreadingHTTPServer((host, port), _handler(health))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="worker-health", daemon=True)
    thread.start()
    log.info("worker.health_listening host=%s port=%d", host, server.server_address[1])
    return server
