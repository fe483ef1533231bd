"""The LLM as the API server sees it: where it is, whether it answers, and the
chat model the agent uses.

- ``DOSSIER_LLM__BASE_URL`` set: that server is used as is (never started).
- unset and ``manage_local``: the embedded vLLM CPU server is prepared and
  started in a background thread (``ensure_local_llm``), so search, uploads
  and readiness never wait for it; until it answers, ``/v1/ask`` gives the
  evidence-only (degraded) answer.
- unset and not ``manage_local`` (``dossier serve --no-llm``): the embedded
  server's URL is used if one happens to be running, else answers degrade.

A server this service started is stopped when the app shuts down (SIGTERM,
Ctrl-C); one that was already running is left alone.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal

import anyio.to_thread
import httpx

from agent.llm import OpenAIChatModel
from agent.local_vllm import LocalVLLMServer, ensure_local_llm
from core.errors import DossierError
from core.settings import Settings

__all__ = ["LLMService", "LLMState"]

log = logging.getLogger(__name__)

LLMState = Literal["ok", "starting", "unavailable"]
_PROBE_TTL_S = 5.0


class LLMService:
    def __init__(self, settings: Settings, *, manage_local: bool = True) -> None:
        self.settings = settings
        self.manage_local = manage_local and not settings.llm.base_url
        self._base_url: str | None = settings.llm.base_url
        if self._base_url is None and not self.manage_local:
            self._base_url = LocalVLLMServer(settings).base_url
        self._starting = False
        self._start_error: str | None = None
        self._model: OpenAIChatModel | None = None
        self._probe: tuple[float, LLMState] | None = None
        self._lock = threading.Lock()
        self._server = LocalVLLMServer(settings)

    # -- lifecycle ---------------------------------------------------------------
    def start_background(self) -> None:
        """Start the embedded server in a daemon thread (no-op when external)."""
        if not self.manage_local or self._starting:
            return
        self._starting = True
        threading.Thread(target=self._start_local, name="dossier-llm-start", daemon=True).start()

    def _start_local(self) -> None:
        t0 = time.perf_counter()
        try:
            url = ensure_local_llm(self.settings, server=self._server)
        except (DossierError, OSError) as exc:
            self._start_error = str(exc)
            if not self._server.cancelled:  # cancelled: the app is shutting down
                log.warning("api.llm_start_failed error=%s", type(exc).__name__)
        else:
            with self._lock:
                self._base_url = url
            log.info("api.llm_ready base_url=%s s=%.1f", url, time.perf_counter() - t0)
        finally:
            self._starting = False
            self._probe = None

    async def aclose(self) -> None:
        if self._model is not None:
            await self._model.aclose()
            self._model = None
        await anyio.to_thread.run_sync(self.stop_started)

    def stop_started(self) -> bool:
        """Stop the embedded server if this service started it (idempotent);
        a start still in progress is cancelled first."""
        if not self.manage_local:
            return False
        self._server.cancel()
        if not self._server.started_here:
            return False
        stopped = self._server.stop()
        self._server.started_here = False
        if stopped:
            log.info("api.llm_stopped (started by this server)")
        return stopped

    # -- use ---------------------------------------------------------------------
    @property
    def base_url(self) -> str | None:
        return self._base_url

    def chat_model(self) -> OpenAIChatModel | None:
        """The chat model for the agent; None while no server is known."""
        with self._lock:
            if self._base_url is None:
                return None
            if self._model is None or self._model.base_url != self._base_url.rstrip("/"):
                self._model = OpenAIChatModel(self.settings.llm, self._base_url)
            return self._model

    async def state(self) -> LLMState:
        """ "ok" if the server lists its models now (cached a few seconds)."""
        now = time.monotonic()
        if self._probe is not None and now - self._probe[0] < _PROBE_TTL_S:
            return self._probe[1]
        state: LLMState
        if self._base_url is None:
            state = "starting" if self._starting else "unavailable"
        else:
            try:
                async with httpx.AsyncClient(timeout=2.0) as client:
                    response = await client.get(f"{self._base_url.rstrip('/')}/models")
                state = "ok" if response.status_code == 200 else "unavailable"
            except httpx.HTTPError:
                state = "starting" if self._starting else "unavailable"
        self._probe = (now, state)
        return state

    @property
    def start_error(self) -> str | None:
        return self._start_error
