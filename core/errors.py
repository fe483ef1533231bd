"""The Dossier error tree.

Every error Dossier raises on purpose derives from :class:`DossierError`.
Third-party exceptions are translated at the adapter that meets them
(``raise XError(...) from exc``); HTTP status codes are assigned only in
``api/errors.py``.

::

    DossierError
    ├── ConfigurationError
    ├── NotFoundError                  (document, job, session of *this* tenant)
    │   └── JobLostError               (the job was re-claimed by another worker)
    ├── IngestError                    (always names the file: ``.path``)
    │   ├── UnsupportedFormatError     (.doc, .wpd, images, ... with a hint)
    │   ├── FileTooLargeError
    │   ├── EncryptedDocumentError
    │   ├── DocumentParseError         (corrupt / truncated beyond repair)
    │   └── EmptyDocumentError         (no pages, or no text even after OCR)
    ├── KnowledgeBaseError             (Milvus, catalog)
    ├── LLMError
    │   ├── LLMUnavailableError        (server down, connection refused, timeout)
    │   └── LLMResponseError           (bad status, malformed answer)
    ├── ToolError                      (bad arguments, tool failure)
    │   ├── SandboxTimeoutError
    │   └── SandboxViolationError      (network, file write, memory, processes)
    ├── PlaybookError                  (malformed review playbook)
    └── AgentError
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AgentError",
    "ConfigurationError",
    "DocumentParseError",
    "DossierError",
    "EmptyDocumentError",
    "EncryptedDocumentError",
    "FileTooLargeError",
    "IngestError",
    "JobLostError",
    "KnowledgeBaseError",
    "LLMError",
    "LLMResponseError",
    "LLMUnavailableError",
    "NotFoundError",
    "PlaybookError",
    "SandboxTimeoutError",
    "SandboxViolationError",
    "ToolError",
    "UnsupportedFormatError",
]


class DossierError(Exception):
    """Base of every error Dossier raises on purpose."""


class ConfigurationError(DossierError):
    """Settings are missing or inconsistent."""


class NotFoundError(DossierError):
    """The object does not exist *for this tenant* (never reveals other tenants)."""


class JobLostError(NotFoundError):
    """This worker no longer owns the job (its heartbeat went stale and another
    worker claimed it, or it was requeued): stop working on it, write nothing."""


class IngestError(DossierError):
    """A file could not be ingested. ``str(err)`` names the file and the reason."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")


class UnsupportedFormatError(IngestError):
    """The file's bytes are not a format Dossier reads."""


class FileTooLargeError(IngestError):
    """The file exceeds the configured size limit."""


class EncryptedDocumentError(IngestError):
    """The PDF is password-protected."""


class DocumentParseError(IngestError):
    """The file is corrupt or truncated beyond repair."""


class EmptyDocumentError(IngestError):
    """The document has no pages or no extractable text, even after OCR."""


class KnowledgeBaseError(DossierError):
    """The vector store or the catalog failed."""


class LLMError(DossierError):
    """The language model server failed."""


class LLMUnavailableError(LLMError):
    """The language model server cannot be reached (down, refused, timed out)."""


class LLMResponseError(LLMError):
    """The language model server answered with an error or a malformed response."""


class ToolError(DossierError):
    """A tool was called with bad arguments or failed while running."""


class SandboxTimeoutError(ToolError):
    """Sandboxed code ran past its CPU or wall-clock limit."""


class SandboxViolationError(ToolError):
    """Sandboxed code tried something it may not (network, writes, memory, forks)."""


class PlaybookError(DossierError):
    """A review playbook is malformed."""


class AgentError(DossierError):
    """The agent loop failed in a way no tool message can recover from."""
