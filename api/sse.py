"""Server-sent events: framing and the streaming response.

Each event is ``event: <name>`` + one ``data:`` line of compact JSON + a blank
line (``id:`` when given). The agent's events keep their own ``type`` as the
event name (``status``, ``tool_call``, ``tool_result``, ``token``,
``citation``, ``done``, ``error``). Errors raised while streaming become a
final ``error`` event: the status line was already sent.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar.response import Stream

from core.errors import DossierError

__all__ = ["SSE_HEADERS", "format_sse", "sse_response"]

log = logging.getLogger(__name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def format_sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One SSE frame. ``data`` is JSON-encoded on a single line."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {payload}\n\n".encode()


async def _guarded(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for frame in frames:
            yield frame
    except DossierError as exc:
        yield format_sse("error", {"type": "error", "message": str(exc),
                                   "error_type": type(exc).__name__})  # fmt: skip
    except Exception as exc:
        log.exception("sse.stream_failed")
        yield format_sse("error", {"type": "error", "message": f"internal error: {type(exc).__name__}",
                                   "error_type": "InternalError"})  # fmt: skip


def sse_response(frames: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> Stream:
    """A ``text/event-stream`` response over already-framed bytes."""
    return Stream(
        _guarded(frames), media_type="text/event-stream", headers={**SSE_HEADERS, **(headers or {})}
    )
