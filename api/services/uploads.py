"""Uploads: stream a multipart body to ``<data_dir>/uploads/`` and queue jobs.

The request body is parsed as it arrives (``python-multipart``), never held in
memory: each file part is written to a temporary file, the per-file limit
(``ingest.max_file_mb``) is checked on every chunk (413 as soon as it is
passed), and a body that ends before the closing boundary is a 400. Then, per
file and BEFORE the 202 is sent:

1. the type is read from the magic bytes (415 for anything but PDF, DOCX,
   TXT, MD; a DOCX whose parts would expand past a safe size — a zip bomb —
   is refused with 422);
2. the file is moved to ``uploads/<tenant>/<uuid><suffix>`` (fsync'd);
3. a QUEUED ``ingest`` job is created with ``{"upload": path, "name": name}``
   (plus ``"replaces": id`` when the form field ``replaces`` names the document
   this one file is a new version of; without it a file is a new document,
   whatever its name).

So an accepted upload survives a crash or restart: the worker finds the job
and the file. ``uploads/`` must be on a volume every worker can read when
workers run as separate processes (``dossier worker``). Uploads are removed
once their job has finished.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from api.errors import ApiError
from core.errors import IngestError, NotFoundError
from core.types import JobRecord
from ingest.loaders.detect import detect_format
from ingest.names import sanitize_filename
from knowledge_base.catalog import Catalog

__all__ = ["MAX_FILES_PER_REQUEST", "SavedUpload", "UploadService", "sanitize_filename"]

MAX_FILES_PER_REQUEST = 32
#: A DOCX whose parts expand to more than this many times the file limit, or
#: with a part compressed more than this ratio, is refused (zip bomb).
ZIP_EXPANSION_FACTOR = 20
ZIP_MAX_RATIO = 200
_FIELD_NAMES = {"file", "files"}
#: Small text fields of the form that are read (others are ignored).
_TEXT_FIELDS = {"replaces", "kind"}
_SUFFIXES = {"pdf": ".pdf", "docx": ".docx", "txt": ".txt", "md": ".md", "casemets": ".xml"}


@dataclass
class _Part:
    field: str = ""
    filename: str | None = None
    tmp: Path | None = None
    handle: object | None = None
    size: int = 0
    # ``field`` above shadows dataclasses.field in this class body.
    value: bytearray = dataclasses.field(default_factory=bytearray)
    #: The request's text fields (shared by its file parts).
    form: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class SavedUpload:
    name: str
    path: Path
    size: int
    format: str
    job: JobRecord | None = None


@dataclass
class _ParseState:
    parts: list[_Part] = field(default_factory=list)
    current: _Part | None = None
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[str, bytes] = field(default_factory=dict)
    ended: bool = False
    error: ApiError | None = None


class UploadService:
    def __init__(self, catalog: Catalog, data_dir: Path, max_file_mb: float) -> None:
        self.catalog = catalog
        self.root = data_dir / "uploads"
        self.max_bytes = int(max_file_mb * 1024 * 1024)

    @property
    def max_request_bytes(self) -> int:
        """The whole multipart body may carry a few files of the maximum size."""
        return self.max_bytes * 4 + 1024 * 1024

    # -- the body --------------------------------------------------------------
    async def receive(self, content_type: str | None, body: AsyncIterator[bytes]) -> list[_Part]:
        """Stream the multipart body to temporary files; returns the file parts."""
        ctype, params = parse_options_header(content_type or "")
        if ctype != b"multipart/form-data" or not params.get(b"boundary"):
            raise ApiError(415, "upload as multipart/form-data with a 'file' (or 'files') field",
                           slug="unsupported-media-type")  # fmt: skip
        tmp_dir = self.root / ".incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        state = _ParseState()
        parser = MultipartParser(params[b"boundary"], self._callbacks(state, tmp_dir))
        try:
            async for chunk in body:
                if chunk:
                    try:
                        parser.write(chunk)
                    except MultipartParseError as exc:
                        raise ApiError(400, f"malformed multipart body: {exc}") from exc
                if state.error is not None:
                    raise state.error
            parser.finalize()
            if state.error is not None:
                raise state.error
            if not state.ended:
                raise ApiError(400, "truncated multipart body: the closing boundary never came",
                               slug="truncated-upload")  # fmt: skip
        except BaseException:
            self.discard(state.parts)
            raise
        finally:
            self._close(state.current)
        files = [p for p in state.parts if p.field in _FIELD_NAMES and p.tmp is not None]
        if not files:
            self.discard(state.parts)
            raise ApiError(400, "no file in the upload: use the multipart field 'file' or 'files'")
        form = {
            p.field: p.value.decode("utf-8", "replace").strip()
            for p in state.parts
            if p.field in _TEXT_FIELDS and p.tmp is None
        }
        for part in files:
            part.form = form
        return files

    def _callbacks(self, state: _ParseState, tmp_dir: Path) -> dict[str, object]:
        def on_part_begin() -> None:
            state.current = _Part()
            state.headers = {}

        def on_header_field(data: bytes, start: int, end: int) -> None:
            state.header_field += data[start:end]

        def on_header_value(data: bytes, start: int, end: int) -> None:
            state.header_value += data[start:end]

        def on_header_end() -> None:
            state.headers[bytes(state.header_field).decode("latin-1").lower()] = bytes(
                state.header_value
            )
            state.header_field.clear()
            state.header_value.clear()

        def on_headers_finished() -> None:
            part = state.current
            assert part is not None
            _, opts = parse_options_header(state.headers.get("content-disposition", b""))
            part.field = opts.get(b"name", b"").decode("utf-8", "replace")
            raw_name = opts.get(b"filename")
            if part.field in _FIELD_NAMES:
                if raw_name is None:
                    state.error = ApiError(400, f"multipart field {part.field!r} is not a file")
                    return
                if len([p for p in state.parts if p.tmp is not None]) >= MAX_FILES_PER_REQUEST:
                    state.error = ApiError(
                        413, f"at most {MAX_FILES_PER_REQUEST} files per request"
                    )
                    return
                part.filename = raw_name.decode("utf-8", "replace")
                fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="up-")
                part.tmp = Path(tmp)
                part.handle = os.fdopen(fd, "wb")
            state.parts.append(part)

        def on_part_data(data: bytes, start: int, end: int) -> None:
            part = state.current
            if part is None or state.error is not None:
                return
            part.size += end - start
            if part.handle is None:
                if part.size > 64 * 1024:
                    state.error = ApiError(413, f"form field {part.field!r} is too large")
                elif part.field in _TEXT_FIELDS:
                    part.value += data[start:end]
                return
            if part.size > self.max_bytes:
                state.error = ApiError(
                    413,
                    f"{sanitize_filename(part.filename)}: file exceeds the "
                    f"{self.max_bytes / 1024 / 1024:g} MB limit",
                    slug="file-too-large",
                )
                return
            part.handle.write(data[start:end])  # type: ignore[attr-defined]

        def on_part_end() -> None:
            self._close(state.current)

        def on_end() -> None:
            state.ended = True

        return {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_end": on_end,
        }

    @staticmethod
    def _close(part: _Part | None) -> None:
        if part is not None and part.handle is not None:
            handle = part.handle
            part.handle = None
            handle.flush()  # type: ignore[attr-defined]
            os.fsync(handle.fileno())  # type: ignore[attr-defined]
            handle.close()  # type: ignore[attr-defined]

    @staticmethod
    def discard(parts: list[_Part]) -> None:
        for part in parts:
            UploadService._close(part)
            if part.tmp is not None:
                part.tmp.unlink(missing_ok=True)

    # -- checks and queueing (sync: run in a thread) ----------------------------
    def accept(self, tenant: str, parts: list[_Part]) -> list[SavedUpload]:
        """Check every file, then store and queue them all (all or nothing)."""
        try:
            replaces = self._replaces(tenant, parts)
            kind = self._kind(parts)
            checked = [self._check(p) for p in parts]
            saved = []
            for part, (name, fmt) in zip(parts, checked, strict=True):
                assert part.tmp is not None
                dest_dir = self.root / tenant
                dest_dir.mkdir(parents=True, exist_ok=True)
                dest = dest_dir / f"{uuid.uuid4().hex}{_SUFFIXES[fmt]}"
                os.replace(part.tmp, dest)
                part.tmp = None
                _fsync_dir(dest_dir)
                upload = SavedUpload(name, dest, part.size, fmt)
                payload = {"upload": str(dest), "name": name}
                if replaces:
                    payload["replaces"] = replaces
                if kind:
                    payload["kind"] = kind
                upload.job = self.catalog.create_job(tenant, "ingest", payload, file_name=name)
                saved.append(upload)
            return saved
        finally:
            self.discard(parts)

    @staticmethod
    def _kind(parts: list[_Part]) -> str | None:
        """The ``kind`` field: the document kind that replaces the detected one."""
        from knowledge_base.citation_graph import DOCUMENT_KINDS

        kind = parts[0].form.get("kind") if parts else None
        if kind and kind not in DOCUMENT_KINDS:
            raise ApiError(400, f"kind must be one of {', '.join(DOCUMENT_KINDS)}")
        return kind or None

    def _replaces(self, tenant: str, parts: list[_Part]) -> str | None:
        """The ``replaces`` field: the id of a document of the tenant that the
        one uploaded file is the next version of (None when not given)."""
        replaces = parts[0].form.get("replaces") if parts else None
        if not replaces:
            return None
        if len(parts) != 1:
            raise ApiError(400, f"'replaces' names one document: upload one file with it "
                                f"(this request has {len(parts)})")  # fmt: skip
        try:
            self.catalog.get_document(tenant, replaces)
        except NotFoundError as exc:
            raise ApiError(
                422, f"replaces: no document {replaces[:64]!r} to replace", slug="unknown-document"
            ) from exc
        return replaces

    def _check(self, part: _Part) -> tuple[str, str]:
        assert part.tmp is not None
        name = sanitize_filename(part.filename)
        if part.size == 0:
            raise ApiError(422, f"{name}: the file is empty")
        # detect_format looks at the suffix only to tell Markdown from text.
        probe = part.tmp.with_name(part.tmp.name + Path(name).suffix.lower()[:10])
        os.replace(part.tmp, probe)
        part.tmp = probe
        try:
            fmt = detect_format(probe)
        except IngestError as exc:
            status = 415 if type(exc).__name__ == "UnsupportedFormatError" else 422
            raise ApiError(status, f"{name}: {exc.reason}") from exc
        if fmt == "docx":
            self._check_zip(probe, name)
        return name, fmt

    def _check_zip(self, path: Path, name: str) -> None:
        limit = self.max_bytes * ZIP_EXPANSION_FACTOR
        try:
            with zipfile.ZipFile(path) as zf:
                infos = zf.infolist()
        except (zipfile.BadZipFile, OSError) as exc:
            raise ApiError(422, f"{name}: corrupt DOCX container") from exc
        total = sum(i.file_size for i in infos)
        worst = max((i.file_size / max(i.compress_size, 1) for i in infos), default=0)
        if total > limit or worst > ZIP_MAX_RATIO:
            raise ApiError(
                422,
                f"{name}: refused: the DOCX would expand to {total / 1024 / 1024:.0f} MB "
                f"(compression ratio up to {worst:.0f}:1); this looks like a zip bomb",
                slug="zip-bomb",
            )

    @staticmethod
    def remove(path: str | Path) -> None:
        """Delete a finished upload (and its tenant folder if now empty)."""
        p = Path(path)
        p.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            p.parent.rmdir()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
