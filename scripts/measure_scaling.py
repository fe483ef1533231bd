"""Measure the numbers docs/SCALING.md extrapolates from, on this machine.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python scripts/measure_scaling.py \
        [--only ingest,embed,milvus] [--pdfs 10] [--sizes 10000,50000,100000] \
        [--queries 10] [--backends lite,server] [--json-out FILE]

Three parts (each can run alone with ``--only``):

- **ingest**: ``dossier ingest --json`` on ``--pdfs`` CUAD dev PDFs (every
  n-th by sorted name) into a throw-away knowledge base: pages, chunks, chunks
  per page, seconds.
- **embed**: the chunk texts that ingest produced, embedded by
  :class:`knowledge_base.embedding.SentenceTransformerEmbedder` (cache off)
  in a fresh process with 1 and with 2 torch threads: chunks/s (wall) and
  chunks per CPU-second (what one core sustains, robust to a busy machine).
- **milvus**: synthetic rows (random unit 384-d vectors, text drawn from the
  CUAD plain-text contracts) inserted up to each ``--sizes`` row count into
  Milvus Lite (in-process) and into the ``milvus-lite server`` gRPC endpoint,
  flushed, then ``--queries`` searches per mode (dense, bm25, hybrid) through
  :class:`knowledge_base.milvus_store.MilvusVectorStore`: p50/p95 wall
  latency and median CPU-ms per query (of the process that runs the engine).

Everything is reported with the load average, because the machine this runs
on is shared: wall times are upper bounds, CPU times are the better base.
The last line of stdout is one JSON object with every raw number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = (REPO / ".." / "shared" / "data" / "cuad-dev").resolve()
PY = sys.executable
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(REPO)}  # fmt: skip


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.1f}] {message}",
          file=sys.stderr, flush=True)  # fmt: skip


# --------------------------------------------------------------------- ingest


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_ingest(workdir: Path, n_pdfs: int) -> dict[str, Any]:
    everything = sorted(p for p in (DATA / "pdf").iterdir() if p.suffix.lower() == ".pdf")
    # A stride sample over the sorted names: scanned and born-digital PDFs in
    # the proportion the dev split has them, the same files on every run.
    pdfs = everything[:: max(1, len(everything) // n_pdfs)][:n_pdfs]
    if len(pdfs) < n_pdfs:
        raise SystemExit(f"need {n_pdfs} PDFs in {DATA / 'pdf'}, found {len(pdfs)}")
    kb = workdir / "kb"
    cmd = [PY, "-m", "api", "ingest", "--kb", str(kb), "--json", *map(str, pdfs)]
    log(f"ingest: {len(pdfs)} PDFs -> {kb}")
    t0, cpu0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=REPO, check=False)
    wall, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise SystemExit(f"dossier ingest failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    pages, chunks = report["pages"], report["chunks"]
    return {
        "command": f"dossier ingest --kb DIR --json <{n_pdfs} CUAD dev PDFs, "
        f"every {max(1, len(everything) // n_pdfs)}th by name>",
        "files": report["files"],
        "failed": report["failed"],
        "pages": pages,
        "chunks": chunks,
        "chunks_per_page": round(chunks / pages, 2) if pages else None,
        "ingest_seconds": report["seconds"],
        "process_seconds": round(wall, 1),
        # CPU seconds of the whole `dossier ingest` process (model load included).
        "process_cpu_seconds": round(cpu, 1),
        "pages_per_cpu_s": round(pages / cpu, 2) if cpu else None,
        "pages_per_s": round(pages / report["seconds"], 2) if report["seconds"] else None,
        "per_file": [
            {k: r[k] for k in ("name", "status", "pages", "chunks", "ocr_pages", "seconds")}
            for r in report["results"]
        ],
        "kb": str(kb),
    }


def _chunk_texts(kb: Path, limit: int) -> list[str]:
    from api.container import Container
    from core.settings import load_settings

    container = Container(load_settings(data_dir=kb))
    try:
        tenant = container.settings.tenant
        texts: list[str] = []
        for doc in container.catalog.list_documents(tenant):
            texts += [c.text for c in container.store.document_chunks(tenant, doc.id)]
        return texts[:limit]
    finally:
        container.close()


# --------------------------------------------------------------------- embed

_EMBED_CHILD = r"""
import json, sys, time
from core.settings import EmbeddingSettings
from knowledge_base.embedding import SentenceTransformerEmbedder
threads = int(sys.argv[1]); texts = json.load(open(sys.argv[2]))
emb = SentenceTransformerEmbedder(EmbeddingSettings(threads=threads), cache_size=0)
emb.embed_batch(texts[:64])  # load + warm up
w, c = time.perf_counter(), time.process_time()
emb.embed_batch(texts)
w, c = time.perf_counter() - w, time.process_time() - c
print(json.dumps({"threads": threads, "dtype": emb.dtype, "chunks": len(texts),
                  "wall_s": round(w, 2), "cpu_s": round(c, 2),
                  "chunks_per_s": round(len(texts) / w, 1),
                  "chunks_per_cpu_s": round(len(texts) / c, 1)}))
"""


def measure_embed(texts: list[str], workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "texts.json"
    path.write_text(json.dumps(texts))
    results = []
    for threads in (1, 2):
        log(f"embed: {len(texts)} chunks, {threads} thread(s)")
        proc = subprocess.run([PY, "-c", _EMBED_CHILD, str(threads), str(path)],
                              capture_output=True, text=True, env=ENV, cwd=REPO, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise SystemExit(f"embedding child failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]) | {"load": _load()})
    return results


# --------------------------------------------------------------------- milvus


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _load() -> float:
    return round(os.getloadavg()[0], 1)


def _corpus_sentences() -> list[str]:
    sentences: list[str] = []
    for txt in sorted((DATA / "txt").glob("*.txt"))[:40]:
        flat = re.sub(r"\s+", " ", txt.read_text(encoding="utf-8", errors="replace"))
        sentences += [s for s in re.split(r"(?<=[.;])\s+", flat) if 40 <= len(s) <= 600]
    return sentences


class _Rows:
    """Synthetic chunk rows: ``MilvusVectorStore``'s own row format, 50 chunks a document."""

    def __init__(self, store: Any, sentences: list[str], seed: int = 7) -> None:
        self.store, self.sentences = store, sentences
        self.rng = np.random.default_rng(seed)
        self.done = 0

    def add(self, n: int) -> float:
        from core.types import Chunk, chunk_id

        t0 = time.perf_counter()
        for start in range(self.done, self.done + n, 2000):
            size = min(2000, self.done + n - start)
            vectors = self.rng.standard_normal((size, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = []
            for i, vector in zip(range(start, start + size), vectors.tolist(), strict=True):
                picks = self.rng.integers(len(self.sentences), size=3)
                body = " ".join(self.sentences[int(j)] for j in picks)
                doc = f"doc{i // 50}"
                chunk = Chunk(id=chunk_id(doc, i), document_id=doc, tenant="bench",
                              document_name=f"{doc}.pdf", ordinal=i % 50, page=1 + (i % 50) // 5,
                              start=0, end=len(body), body=body, text=body)  # fmt: skip
                rows.append(self.store._row(chunk, vector))
            with self.store._translate("insert"):
                self.store._client.insert(self.store.collection, rows)
        with self.store._translate("flush"):
            self.store._client.flush(self.store.collection)
        self.done += n
        return time.perf_counter() - t0


def _cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return time.process_time()
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _search_stats(
    store: Any, queries: int, sentences: list[str], pid: int | None
) -> dict[str, Any]:
    from knowledge_base.protocols import SearchRequest

    rng = np.random.default_rng(11)
    out: dict[str, Any] = {}
    for mode in ("dense", "bm25", "hybrid"):
        walls, cpus = [], []
        for q in range(queries + 1):
            vector = rng.standard_normal(384).astype(np.float32)
            vector /= np.linalg.norm(vector)
            text = " ".join(str(sentences[int(rng.integers(len(sentences)))]).split()[:8])
            request = SearchRequest(
                tenant="bench", text=text, vector=vector.tolist(), k=8, mode=mode
            )
            w, c = time.perf_counter(), _cpu_seconds(pid)
            hits = store.search(request)
            w, c = time.perf_counter() - w, _cpu_seconds(pid) - c
            if q == 0:
                continue  # warm-up
            assert hits, f"{mode} search returned nothing"
            walls.append(w * 1000)
            cpus.append(c * 1000)
        out[mode] = {
            "p50_ms": round(float(np.percentile(walls, 50)), 1),
            "p95_ms": round(float(np.percentile(walls, 95)), 1),
            "cpu_ms_median": round(float(np.median(cpus)), 1),
        }
    return out


def measure_milvus(
    workdir: Path, sizes: list[int], queries: int, backends: list[str]
) -> list[dict[str, Any]]:
    from knowledge_base.milvus_store import MilvusVectorStore

    sentences = _corpus_sentences()
    results = []
    for backend in backends:
        server = None
        pid: int | None = None
        if backend == "lite":
            store = MilvusVectorStore(str(workdir / "lite" / "milvus.db"), collection="bench")
        else:
            port = _free_port()
            exe = Path(PY).with_name("milvus-lite")
            server = subprocess.Popen(
                [str(exe), "server", "--data-dir", str(workdir / "server"), "--host", "127.0.0.1",
                 "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV,
            )  # fmt: skip
            pid = server.pid
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("milvus-lite server did not start") from None
                    time.sleep(0.3)
            store = MilvusVectorStore(f"http://127.0.0.1:{port}", collection="bench")
        try:
            rows = _Rows(store, sentences)
            for size in sizes:
                log(f"milvus {backend}: inserting up to {size} rows")
                seconds = rows.add(size - rows.done)
                stats = _search_stats(store, queries, sentences, pid)
                results.append({"backend": backend, "rows": size, "insert_s": round(seconds, 1),
                                "load": _load(), **stats})  # fmt: skip
                log(f"milvus {backend} {size}: {stats}")
        finally:
            store.close()
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
    return results


# --------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="ingest,embed,milvus")
    parser.add_argument("--pdfs", type=int, default=10)
    parser.add_argument("--embed-chunks", type=int, default=600)
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--backends", default="lite,server")
    parser.add_argument("--json-out", type=Path)
    parser.add_argument(
        "--nice", type=int, default=0, help="lower this process's priority (a shared machine)"
    )
    args = parser.parse_args()
    parts = set(args.only.split(","))
    # SIGTERM (timeout, Ctrl-C in a pipeline) runs the cleanup below: the
    # milvus-lite server and the ingest child are stopped, the temp dir removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.nice:
        os.nice(args.nice)
    workdir = Path(tempfile.mkdtemp(prefix="dossier-scaling-"))
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "load_at_start": _load(),
            "python": sys.version.split()[0],
        },
        "command": " ".join(["scripts/measure_scaling.py", *sys.argv[1:]]),
    }
    try:
        if "ingest" in parts or "embed" in parts:
            ingest = measure_ingest(workdir, args.pdfs)
            result["ingest"] = ingest
            log(f"ingest: {json.dumps({k: v for k, v in ingest.items() if k != 'per_file'})}")
            if "embed" in parts:
                texts = _chunk_texts(Path(ingest["kb"]), args.embed_chunks)
                result["embed"] = measure_embed(texts, workdir)
                log(f"embed: {json.dumps(result['embed'])}")
        if "milvus" in parts:
            sizes = [int(s) for s in args.sizes.split(",")]
            result["milvus"] = measure_milvus(
                workdir, sizes, args.queries, args.backends.split(",")
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["machine"]["load_at_end"] = _load()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
