"""End-to-end ingestion on real files, real Milvus Lite, the real model."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import NotFoundError
from core.types import DocumentStatus
from tests.conftest import COURT, CUAD, DOCX_DIR, REPO

pytestmark = pytest.mark.slow

CUAD_PDFS = sorted((CUAD / "pdf").iterdir())[:10]
EXPECTED_FAILURES = {"word-doc.doc", "word-perfect.wpd", "empty.pdf"}
#: One agreement from each DOCX folder not ingested whole (named by their path
#: under docx/: every file there is called template.docx).
DOCX_SINGLES = [
    "openagreements-cc-by-4.0/openagreements-restrictive-covenant-new-york/template.docx",
    "yc-cc-by-nd-4.0/yc-safe-mfn/template.docx",
]
DOCX_FOLDERS = [
    "bonterms-cc0-1.0",
    "common-paper-cc-by-4.0",
    *(n.split("/")[0] for n in DOCX_SINGLES),
]
DOSSIER = [sys.executable, "-m", "api"]


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture(scope="module")
def batch(tmp_path_factory, st_embedder):  # type: ignore[no-untyped-def]
    """One knowledge base with 10 CUAD PDFs, the DOCX agreements and the court folder."""
    from api.container import Container
    from core.settings import load_settings
    from ingest.pipeline import InputFile

    settings = load_settings(data_dir=tmp_path_factory.mktemp("batch"), tenant="firm-a")
    container = Container(settings, embedder=st_embedder)
    inputs = [
        *CUAD_PDFS,
        DOCX_DIR / "bonterms-cc0-1.0",
        DOCX_DIR / "common-paper-cc-by-4.0",
        *(InputFile(DOCX_DIR / name, name) for name in DOCX_SINGLES),
        COURT,
    ]
    results = container.pipeline.ingest_paths(inputs, "firm-a")
    yield container, results
    container.close()


def test_bad_files_fail_alone_with_reasons(batch) -> None:  # type: ignore[no-untyped-def]
    _, results = batch
    failed = {Path(r.path).name: r.error for r in results if r.status == "failed"}
    assert set(failed) == EXPECTED_FAILURES, failed
    assert "word-doc.doc" in failed["word-doc.doc"]
    assert "convert" in failed["word-doc.doc"].lower()
    assert "word-perfect.wpd" in failed["word-perfect.wpd"]
    assert "empty.pdf" in failed["empty.pdf"]
    indexed = [r for r in results if r.status == "indexed"]
    assert len(indexed) == len(results) - len(EXPECTED_FAILURES)
    assert all(r.chunks > 0 and r.pages > 0 for r in indexed)


def test_a_docx_from_every_folder_lands(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    assert sorted(DOCX_FOLDERS) == sorted(p.name for p in DOCX_DIR.iterdir() if p.is_dir())
    for folder in DOCX_FOLDERS:
        docs = [r for r in results if str(DOCX_DIR / folder) in r.path]
        assert docs, folder
        assert all(r.status == "indexed" and r.pages > 0 and r.chunks > 0 for r in docs), folder
    # the two explicit template.docx files stay two documents, not two versions
    names = {r.name: r for r in results if r.name in DOCX_SINGLES}
    assert len(names) == 2
    assert {r.version for r in names.values()} == {1}
    covenant = names[DOCX_SINGLES[0]]
    hits = container.kb.search(
        "firm-a", "non-compete restricted period", k=5, document_ids=[covenant.document_id]
    )
    assert hits
    assert all(h.chunk.document_name == DOCX_SINGLES[0] for h in hits)


def test_scanned_pdf_is_ocrd(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    (scan,) = [r for r in results if Path(r.path).name == "image-pdf.pdf"]
    assert scan.status == "indexed"
    assert scan.ocr_pages >= 1
    text = container.kb.page_text("firm-a", scan.document_id, 1)
    assert len(_tokens(text)) > 20


def test_every_chunk_maps_back_to_its_page(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    kb = container.kb
    checked = 0
    for r in results:
        if r.status != "indexed":
            continue
        chunks = kb.document_chunks("firm-a", r.document_id)
        assert len(chunks) == r.chunks
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        pages = {p.number: p.text for p in kb.catalog.pages("firm-a", r.document_id)}
        for c in chunks:
            assert pages[c.page][c.start : c.end] == c.body
            checked += 1
    assert checked > 500


def test_reingest_is_a_noop(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    before = container.kb.store.count("firm-a")
    docs_before = len(container.kb.list_documents("firm-a"))
    again = container.pipeline.ingest_paths([CUAD_PDFS[0], CUAD_PDFS[1]], "firm-a")
    assert [r.status for r in again] == ["unchanged", "unchanged"]
    assert {r.document_id for r in again} <= {r.document_id for r in results}
    assert container.kb.store.count("firm-a") == before
    assert len(container.kb.list_documents("firm-a")) == docs_before


def test_governing_law_in_top3(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    name = "ARMSTRONGFLOORING,INC_01_07_2019-EX-10.2-INTELLECTUAL PROPERTY AGREEMENT.PDF"
    (doc,) = [r for r in results if Path(r.path).name == name]
    gold = "This Agreement shall be governed by the laws of the State of Delaware"
    hits = container.kb.search(
        "firm-a",
        "governing law",
        k=3,
        mode="hybrid",
        document_ids=[doc.document_id],
    )
    assert any(len(_tokens(gold) & _tokens(h.chunk.body)) >= 0.8 * len(_tokens(gold)) for h in hits)
    # and over the whole knowledge base, naming the contract as users do
    hits = container.kb.search(
        "firm-a", "Armstrong Flooring intellectual property agreement governing law", k=3
    )
    assert any(h.chunk.document_id == doc.document_id and "Delaware" in h.chunk.body for h in hits)


def test_tenants_never_see_each_other(batch) -> None:  # type: ignore[no-untyped-def]
    container, results = batch
    some = next(r for r in results if r.status == "indexed")
    for mode in ("hybrid", "dense", "bm25"):
        assert container.kb.search("firm-b", "agreement governing law", k=10, mode=mode) == []
        assert (
            container.kb.search(
                "firm-b", "agreement", k=10, mode=mode, document_ids=[some.document_id]
            )
            == []
        )
    with pytest.raises(NotFoundError):
        container.kb.get_document("firm-b", some.document_id)
    with pytest.raises(NotFoundError):
        container.kb.page_text("firm-b", some.document_id, 1)
    with pytest.raises(NotFoundError):
        container.kb.delete_document("firm-b", some.document_id)
    assert container.kb.store.count("firm-b") == 0


def test_delete_leaves_zero_chunks(make_container) -> None:  # type: ignore[no-untyped-def]
    container = make_container()
    (r,) = container.pipeline.ingest_paths([CUAD_PDFS[2]], "t")
    assert r.status == "indexed"
    assert container.kb.store.count("t", r.document_id) == r.chunks > 0
    container.kb.delete_document("t", r.document_id)
    assert container.kb.store.count("t", r.document_id) == 0
    assert container.kb.store.count("t") == 0
    assert container.kb.list_documents("t") == []


def test_changed_file_at_the_same_path_is_a_new_version(make_container, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Re-running ``dossier ingest`` on a changed file: the new bytes are the
    next version of the document that path gave, the old one leaves search."""
    container = make_container()
    doc = tmp_path / "nda.txt"
    doc.write_text("1. Term. This agreement lasts two years.\n\n2. Law. New York law governs.\n")
    (first,) = container.pipeline.ingest_paths([tmp_path], "t")
    doc.write_text("1. Term. This agreement lasts five years.\n\n2. Law. Texas law governs.\n")
    (second,) = container.pipeline.ingest_paths([tmp_path], "t")
    assert (first.version, second.version) == (1, 2)
    assert container.pipeline.ingest_paths([doc], "t")[0].status == "unchanged"
    assert second.document_id != first.document_id
    statuses = {d.id: d.status for d in container.kb.list_documents("t")}
    assert statuses[first.document_id] is DocumentStatus.SUPERSEDED
    assert statuses[second.document_id] is DocumentStatus.READY
    hits = container.kb.search("t", "which law governs", k=5)
    assert hits
    assert {h.chunk.document_id for h in hits} == {second.document_id}


def test_same_name_different_document_is_a_new_document(make_container, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two uploads called Agreement.pdf (no ``replaces``) are two documents,
    both searchable; ``replaces`` makes the next version of a chosen one."""
    container = make_container()
    texts = {
        "a": "1. Term. This agreement lasts two years.\n\n2. Law. New York law governs.\n",
        "b": "1. Services. Supplier delivers widgets.\n\n2. Law. Texas law governs.\n",
        "c": "1. Services. Supplier delivers gadgets.\n\n2. Law. Ohio law governs.\n",
    }
    results = {}
    for key, text in texts.items():
        upload = tmp_path / f"{key}-upload.txt"  # what the API stores: <uuid><suffix>
        upload.write_text(text)
        replaces = results["b"].document_id if key == "c" else None
        results[key] = container.pipeline.ingest_file(
            upload, "t", name="Agreement.pdf", replaces=replaces
        )
    a, b, c = results["a"], results["b"], results["c"]
    assert [r.status for r in (a, b, c)] == ["indexed"] * 3
    assert (a.version, b.version, c.version) == (1, 1, 2)
    statuses = {d.id: d.status for d in container.kb.list_documents("t")}
    assert statuses == {
        a.document_id: DocumentStatus.READY,
        b.document_id: DocumentStatus.SUPERSEDED,
        c.document_id: DocumentStatus.READY,
    }
    assert _searched_documents(container) == {a.document_id, c.document_id}
    gone = tmp_path / "d-upload.txt"
    gone.write_text("1. Other. Something else entirely.\n")
    missing = container.pipeline.ingest_file(gone, "t", name="Agreement.pdf", replaces="f" * 32)
    assert missing.status == "failed"
    assert missing.error == f"Agreement.pdf: the document it replaces ({'f' * 32}) does not exist"


def _versions_of_nda(container, tmp_path: Path) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """v1 of nda.txt READY; the file rewritten as v2 (not ingested yet)."""
    doc = tmp_path / "nda.txt"
    doc.write_text("1. Term. This agreement lasts two years.\n\n2. Law. New York law governs.\n")
    first = container.pipeline.ingest_file(doc, "t")
    assert first.status == "indexed"
    doc.write_text("1. Term. This agreement lasts five years.\n\n2. Law. Texas law governs.\n")
    return doc, first.document_id


def _searched_documents(container) -> set[str]:  # type: ignore[no-untyped-def]
    hits = container.kb.search("t", "which law governs", k=10)
    return {h.chunk.document_id for h in hits}


def test_new_version_completed_after_a_crash_supersedes_the_old_one(
    make_container, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """Killed while embedding v2 (the row stays INDEXING); the next run
    completes v2 from its stored original and v1 leaves search."""
    container = make_container()
    doc, v1 = _versions_of_nda(container, tmp_path)

    def killed(texts: list[str]) -> object:
        raise KeyboardInterrupt  # what a kill leaves: no cleanup, row INDEXING

    with monkeypatch.context() as patch:
        patch.setattr(container.pipeline, "_embed", killed)
        with pytest.raises(KeyboardInterrupt):
            container.pipeline.ingest_file(doc, "t", replaces=v1)
    (again,) = container.pipeline.ingest_paths([doc], "t")
    assert again.status == "unchanged"  # recover() completed it first
    statuses = {d.id: d.status for d in container.kb.list_documents("t")}
    assert statuses == {v1: DocumentStatus.SUPERSEDED, again.document_id: DocumentStatus.READY}
    assert _searched_documents(container) == {again.document_id}
    assert container.kb.store.count("t", v1) == 0


def test_kill_between_new_version_ready_and_supersede_is_finished_by_recover(
    make_container, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    container = make_container()
    doc, v1 = _versions_of_nda(container, tmp_path)

    def killed(*args: object) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(container.pipeline, "_supersede_replaced", killed)
        with pytest.raises(KeyboardInterrupt):
            container.pipeline.ingest_file(doc, "t", replaces=v1)
    v2 = next(d.id for d in container.kb.list_documents("t") if d.id != v1)
    assert _searched_documents(container) == {v1, v2}  # both READY: the crash window
    container.pipeline.recover("t")
    assert container.kb.get_document("t", v1).status is DocumentStatus.SUPERSEDED
    assert _searched_documents(container) == {v2}
    assert container.kb.store.count("t", v1) == 0


def _statuses(db: Path) -> list[tuple[str, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return list(conn.execute("select id, status from documents"))
    except sqlite3.Error:
        return []


def _dossier_json(kb: Path, env: dict[str, str], *args: str) -> object:
    """Run ``dossier ARGS --kb KB --json``; it must succeed; its last stdout line."""
    done = subprocess.run(
        [*DOSSIER, *args, "--kb", str(kb), "--json"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_kill_mid_ingest_leaves_nothing_half_visible(tmp_path) -> None:
    """kill -9 while a document is INDEXING: nothing of it is searchable; the
    next run cleans up and completes it, without duplicates."""
    kb = tmp_path / "kb"
    big = COURT / "scotus_briefs" / "598us1r4_1a7d.pdf"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DOSSIER_TENANT": "t"}
    proc = subprocess.Popen(
        [*DOSSIER, "ingest", str(big), str(CUAD_PDFS[3]), "--kb", str(kb)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 240
    seen_indexing = False
    while time.time() < deadline and proc.poll() is None:
        if any(status == "indexing" for _, status in _statuses(kb / "catalog.db")):
            seen_indexing = True
            os.killpg(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.02)
    proc.wait(timeout=30)
    assert seen_indexing, "never caught the ingest mid-document"

    def run(*args: str) -> object:
        return _dossier_json(kb, env, *args)

    assert run("search", "amicus curiae brief") == []  # nothing half-visible
    report = run("ingest", str(big), str(CUAD_PDFS[3]))
    assert report["failed"] == 0  # type: ignore[index]
    docs = run("documents")
    assert sorted(d["status"] for d in docs) == ["ready", "ready"]  # type: ignore[union-attr]
    assert len({d["name"] for d in docs}) == 2  # type: ignore[union-attr]
    hits = run("search", "amicus curiae brief", "--k", "3")
    assert hits
    assert all(h["document"] in {big.name, CUAD_PDFS[3].name} for h in hits)
    from api.container import Container
    from core.settings import load_settings

    container = Container(load_settings(data_dir=kb, tenant="t"))
    try:
        assert container.kb.store.count("t") == sum(d["chunks"] for d in docs)  # type: ignore[union-attr]
    finally:
        container.close()


CRASH_DRIVER = '''
"""Usage: crash_driver.py KB VICTIM_NAME FILE...: ingest the files, SIGKILLed at
the worst moment: VICTIM's chunks upserted and flushed, its row still INDEXING."""
import json
import os
import signal
import sys
from pathlib import Path

from api.container import Container
from core.settings import load_settings

kb, victim, files = Path(sys.argv[1]), sys.argv[2], [Path(f) for f in sys.argv[3:]]
container = Container(load_settings(data_dir=kb, tenant="t"))
catalog, store = container.catalog, container.store
real_mark_ready = catalog.mark_ready


def mark_ready(tenant, document_id, pages, chunks):
    if catalog.get_document(tenant, document_id).name != victim:
        return real_mark_ready(tenant, document_id, pages, chunks)
    store.flush()  # the upserted rows are durable in Milvus ...
    (kb / "crash.json").write_text(json.dumps({"id": document_id, "chunks": chunks}))
    os.kill(os.getpid(), signal.SIGKILL)  # ... and the process dies before READY


catalog.mark_ready = mark_ready
container.pipeline.ingest_paths(files, "t")
sys.exit("not killed")
'''


def test_kill_between_upsert_and_ready_hides_the_flushed_chunks(tmp_path, st_embedder) -> None:  # type: ignore[no-untyped-def]
    """The worst moment for kill -9: every chunk of a document is upserted
    and flushed to Milvus, the catalog row is still INDEXING. Search (every
    mode) must not see those chunks; the next ingest completes the document
    without duplicates."""
    from api.container import Container
    from core.settings import load_settings

    kb = tmp_path / "kb"
    first, victim = CUAD_PDFS[9], CUAD_PDFS[2]  # 2 and 4 pages
    driver = tmp_path / "crash_driver.py"
    driver.write_text(CRASH_DRIVER)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "DOSSIER_TENANT": "t",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(kb), victim.name, str(first), str(victim)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):  # reap what the driver left behind
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, stderr[-2000:]
    crash = json.loads((kb / "crash.json").read_text())
    crashed_id, crashed_chunks = crash["id"], crash["chunks"]
    assert crashed_chunks > 0

    # What a crash left: the chunks are physically in Milvus, the row INDEXING.
    queries = [
        "consulting agreement consultant services",
        "fees payable for services under this agreement",
    ]
    container = Container(load_settings(data_dir=kb, tenant="t"), embedder=st_embedder)
    try:
        kb_ = container.kb
        assert kb_.get_document("t", crashed_id).status is DocumentStatus.INDEXING
        assert kb_.store.count("t", crashed_id) == crashed_chunks
        stored = kb_.store.document_chunks("t", crashed_id)
        assert len(stored) == crashed_chunks
        with pytest.raises(NotFoundError, match="not ready"):
            kb_.document_chunks("t", crashed_id)
        (landed,) = [d for d in kb_.list_documents("t") if d.name == first.name]
        assert landed.status is DocumentStatus.READY
        for mode in ("dense", "bm25", "hybrid"):
            for query in queries:
                hits = kb_.search("t", query, k=50, mode=mode)
                assert hits, (mode, query)  # the READY document still answers
                assert crashed_id not in {h.chunk.document_id for h in hits}, (mode, query)
            # naming the document explicitly does not reveal it either
            assert kb_.search("t", queries[0], k=10, mode=mode, document_ids=[crashed_id]) == []
    finally:
        container.close()  # frees milvus.db for the dossier subprocesses below

    def run(*args: str) -> object:
        return _dossier_json(kb, env, *args)

    docs = {d["id"]: d for d in run("documents")}  # type: ignore[union-attr]
    assert docs[crashed_id]["status"] == "indexing"
    assert [d["status"] for d in docs.values()].count("ready") == 1

    # Re-ingesting the file: recover() completes the crashed document from
    # its stored original (same id, no new version), so the file itself is
    # then "unchanged".
    report = run("ingest", str(victim))
    assert report["failed"] == 0  # type: ignore[index]
    (result,) = report["results"]  # type: ignore[index]
    assert result["document_id"] == crashed_id
    assert result["status"] in {"indexed", "unchanged"}
    docs = {d["id"]: d for d in run("documents")}  # type: ignore[union-attr]
    assert len(docs) == 2
    assert docs[crashed_id]["status"] == "ready"
    assert docs[crashed_id]["version"] == 1
    assert docs[crashed_id]["chunks"] == crashed_chunks

    container = Container(load_settings(data_dir=kb, tenant="t"), embedder=st_embedder)
    try:
        kb_ = container.kb
        chunks = kb_.document_chunks("t", crashed_id)
        assert kb_.store.count("t", crashed_id) == len(chunks) == crashed_chunks  # no duplicates
        assert len({c.id for c in chunks}) == len(chunks)
        assert [c.ordinal for c in chunks] == list(range(len(chunks)))
        assert kb_.store.count("t") == sum(d["chunks"] for d in docs.values())
        for mode in ("dense", "bm25", "hybrid"):
            hits = kb_.search("t", queries[0], k=10, mode=mode)
            assert crashed_id in {h.chunk.document_id for h in hits}, mode
    finally:
        container.close()


def test_recover_leaves_a_tenant_with_a_live_ingest_job_alone(tmp_path, st_embedder) -> None:  # type: ignore[no-untyped-def]
    """`dossier ingest` (recover) while a worker indexes the same tenant must not
    touch that worker's INDEXING document; once the job's heartbeat is stale
    it is cleaned up like any crash leftover."""
    from api.container import Container
    from core.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "kb", tenant="t")
    settings.worker.stale_after_s = 30
    container = Container(settings, embedder=st_embedder)
    try:
        catalog = container.catalog
        assert container.pipeline.live_job_window_s == 30
        in_flight = catalog.create_document("t", "in-flight.pdf", "ab" * 32, "application/pdf")
        other = catalog.create_document("u", "crashed.pdf", "cd" * 32, "application/pdf")
        job = catalog.create_job("t", "ingest", {})
        assert catalog.claim_job("worker-1").id == job.id  # type: ignore[union-attr]
        catalog.heartbeat(job.id, "worker-1")
        assert catalog.live_job_tenants(30) == {"t"}

        container.pipeline.recover()
        assert catalog.get_document("t", in_flight.id).status.value == "indexing"
        assert not [d for d in catalog.list_documents("u") if d.id == other.id], (
            "another tenant's leftover is still recovered"
        )

        time.sleep(0.05)
        container.pipeline.live_job_window_s = 0.01  # the worker stopped beating
        assert catalog.live_job_tenants(0.01) == set()
        container.pipeline.recover()
        assert not catalog.list_documents("t")  # never stored: the row is dropped
    finally:
        container.close()
