"""Where the machine's embedded model servers are recorded: one runtime file
per served model, shared by every knowledge base on the machine.

``<runtime dir>/llm-<model>.json`` holds the server's ``pid``, ``port``,
``model``, ``model_dir``, ``log`` and ``owner`` (the data dir and pid of the
command that started it). Any KB's command finds a running server there and
uses it; a command that finds none starts one (under ``llm-<model>.lock``, so
two commands never start two). The runtime dir is ``$DOSSIER_RUNTIME_DIR``,
else ``$XDG_RUNTIME_DIR/dossier``, else ``/tmp/dossier-<uid>`` (mode 0700).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "free_port",
    "port_in_use",
    "process_group_rss",
    "read_state",
    "runtime_dir",
    "runtime_lock",
    "write_state",
]


def runtime_dir() -> Path:
    """The machine's (this user's) runtime folder, created 0700."""
    if configured := os.environ.get("DOSSIER_RUNTIME_DIR"):
        path = Path(configured)
    elif xdg := os.environ.get("XDG_RUNTIME_DIR"):
        path = Path(xdg) / "dossier"
    else:
        path = Path(tempfile.gettempdir()) / f"dossier-{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_state(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Atomically replace ``path`` with ``state`` (readers never see half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)


@contextlib.contextmanager
def runtime_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (released when the block ends,
    or by the kernel when the process dies)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_group_rss(pgid: int) -> int:
    """Resident bytes of every process in the process group ``pgid``."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            total += int((entry / "statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total
