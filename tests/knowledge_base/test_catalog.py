"""The document catalog on real databases: SQLite files in tmp_path and, where
PostgreSQL is installed, a throw-away cluster started once per session.

Every test runs once per backend (the ``catalog_url`` fixture)."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from core.errors import ConfigurationError, JobLostError, KnowledgeBaseError, NotFoundError
from core.types import DocumentStatus, JobStatus, Page
from knowledge_base.catalog import ROLES, Catalog

REPO = Path(__file__).resolve().parents[2]
DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD_TXT = DATA / "cuad-dev" / "txt"
CUAD_PDF = DATA / "cuad-dev" / "pdf"
CONTRACT = "ACCURAYINC_09_01_2010-EX-10.31-DISTRIBUTOR AGREEMENT"
NDA_DOCX = DATA / "docx" / "bonterms-cc0-1.0" / "bonterms-mutual-nda" / "template.docx"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- PostgreSQL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_version(path: Path) -> tuple[int, ...]:
    """(15,) for /usr/lib/postgresql/15/bin/initdb; () if the folder is not a version."""
    try:
        return tuple(int(part) for part in path.parents[1].name.split("."))
    except ValueError:
        return ()


def _pg_bin(name: str) -> Path | None:
    """``name`` on PATH, else the newest Debian one (/usr/lib/postgresql/<ver>/bin,
    which Debian's ``postgresql`` package does not put on PATH)."""
    found = shutil.which(name)
    if found:
        return Path(found)
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=_pg_version)
    return candidates[-1] if candidates else None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """A throw-away PostgreSQL cluster on a Unix socket: (socket dir, port)."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL tests skipped: initdb/pg_ctl not installed"
            " (scripts/setup.sh installs them: apt-get install postgresql)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("PostgreSQL tests skipped: the psycopg driver is not installed")
    # Not pytest's tmp_path: it is private to root, and initdb refuses to run as
    # root, so the cluster belongs to the "postgres" user in a folder it can enter.
    base = Path(tempfile.mkdtemp(prefix="dossier-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("PostgreSQL tests skipped: running as root and no 'postgres' user")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()
    try:
        subprocess.run(
            [
                *run_as,
                str(initdb),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "dossier",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [
                *run_as,
                str(pg_ctl),
                "-D",
                str(data),
                "-w",
                "-t",
                "60",
                "-l",
                str(base / "log"),
                "-o",
                f"-p {port} -k {base} -c listen_addresses='' -c fsync=off",
                "start",
            ],
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(base, ignore_errors=True)
        pytest.skip(f"PostgreSQL tests skipped: could not start a cluster: {exc}")
    try:
        yield str(base), port
    finally:
        subprocess.run(
            [*run_as, str(pg_ctl), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty catalog database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    host, port = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(
        f"postgresql+psycopg://dossier@/postgres?host={host}&port={port}",
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"postgresql://dossier@/{name}?host={host}&port={port}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def catalog(catalog_url: str, tmp_path: Path) -> Iterator[Catalog]:
    cat = Catalog(catalog_url, tmp_path / "files")
    yield cat
    cat.close()


@pytest.fixture
def contract() -> tuple[Path, Path]:
    """A real contract: (PDF, its plain text)."""
    pdf, txt = CUAD_PDF / f"{CONTRACT}.PDF", CUAD_TXT / f"{CONTRACT}.txt"
    if not pdf.is_file() or not txt.is_file():
        pytest.fail(f"test data missing: {pdf} (see ../shared/data/README.md)")
    return pdf, txt


def _contract_pages(txt: Path) -> list[Page]:
    text_ = txt.read_text(encoding="utf-8")
    third = len(text_) // 3
    parts = [text_[:third], text_[third : 2 * third], text_[2 * third :]]
    return [Page(number=i + 1, text=p, ocr=i == 1) for i, p in enumerate(parts)]


# --------------------------------------------------------------------------- documents


def test_document_lifecycle_and_pages(catalog: Catalog, contract: tuple[Path, Path]) -> None:
    pdf, txt = contract
    doc = catalog.create_document("acme", pdf.name, sha256_of(pdf), "application/pdf")
    assert doc.status is DocumentStatus.INDEXING
    assert doc.version == 1
    assert len(doc.id) == 32
    assert doc.created_at is not None
    assert doc.created_at.tzinfo is not None

    pages = _contract_pages(txt)
    catalog.save_pages("acme", doc.id, pages)
    assert catalog.page_text("acme", doc.id, 2) == pages[1].text
    stored = catalog.pages("acme", doc.id)
    assert [(p.number, p.text, p.ocr) for p in stored] == [(p.number, p.text, p.ocr) for p in pages]
    # save_pages replaces what was there
    catalog.save_pages("acme", doc.id, pages[:1])
    assert [p.number for p in catalog.pages("acme", doc.id)] == [1]
    with pytest.raises(NotFoundError, match="no page 2"):
        catalog.page_text("acme", doc.id, 2)

    assert catalog.unready_document_ids("acme") == [doc.id]
    assert [d.id for d in catalog.incomplete_documents()] == [doc.id]
    catalog.mark_ready("acme", doc.id, pages=3, chunks=42)
    ready = catalog.get_document("acme", doc.id)
    assert (ready.status, ready.pages, ready.chunks) == (DocumentStatus.READY, 3, 42)
    assert ready.updated_at is not None
    assert ready.updated_at >= ready.created_at
    assert catalog.unready_document_ids("acme") == []
    assert catalog.incomplete_documents("acme") == []


def test_nul_characters_survive_with_offsets(catalog: Catalog) -> None:
    doc = catalog.create_document("acme", "scan.pdf", "b" * 64, "application/pdf")
    catalog.save_pages("acme", doc.id, [Page(number=1, text="a\x00b")])
    assert catalog.page_text("acme", doc.id, 1) == "a\ufffdb"


def test_find_by_sha_and_versions(catalog: Catalog, contract: tuple[Path, Path]) -> None:
    pdf, _ = contract
    sha1, sha2 = sha256_of(pdf), sha256_of(NDA_DOCX)
    v1 = catalog.create_document("acme", "deal.pdf", sha1, "application/pdf")
    assert catalog.find_by_sha("acme", sha1) == v1  # INDEXING counts
    catalog.mark_ready("acme", v1.id, 1, 1)
    assert catalog.find_by_sha("acme", sha1).id == v1.id  # type: ignore[union-attr]
    assert catalog.find_by_sha("other", sha1) is None

    v2 = catalog.create_document("acme", "deal.pdf", sha2, "application/pdf", version=2)
    assert catalog.latest_by_name("acme", "deal.pdf").id == v2.id  # type: ignore[union-attr]
    catalog.mark_failed("acme", v2.id, "boom " * 2000)
    failed = catalog.get_document("acme", v2.id)
    assert failed.status is DocumentStatus.FAILED
    assert len(failed.error or "") <= 4000
    assert catalog.find_by_sha("acme", sha2) is None  # FAILED never matches
    assert catalog.latest_by_name("acme", "deal.pdf").id == v1.id  # type: ignore[union-attr]

    v3 = catalog.create_document("acme", "deal.pdf", sha2, "application/pdf", version=3)
    catalog.mark_ready("acme", v3.id, 1, 1)
    catalog.mark_superseded("acme", v1.id)
    assert catalog.find_by_sha("acme", sha1) is None  # SUPERSEDED never matches
    assert catalog.latest_by_name("acme", "deal.pdf").id == v3.id  # type: ignore[union-attr]
    assert catalog.latest_by_name("acme", "nothing.pdf") is None
    # FAILED rows keep no chunks, so search need not hide them
    assert set(catalog.unready_document_ids("acme")) == {v1.id}
    # A version superseded long ago (its chunks deleted before it was marked)
    # leaves the filter: it does not grow with every upload of a new version.
    with catalog._engine.begin() as conn:
        conn.execute(
            text("UPDATE documents SET updated_at = :t WHERE id = :i"),
            {"t": datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1), "i": v1.id},
        )
    assert catalog.unready_document_ids("acme") == []

    listed = catalog.list_documents("acme")
    assert [d.id for d in listed] == [v3.id, v2.id, v1.id]  # newest first
    only = catalog.list_documents("acme", statuses=[DocumentStatus.READY])
    assert [d.id for d in only] == [v3.id]


def test_create_or_get_document_creates_once_per_bytes(catalog: Catalog) -> None:
    """Two jobs ingesting the same bytes at once (the (tenant, sha256) race):
    one document, the other callers get it back and write nothing."""
    sha = "c" * 64
    first, created = catalog.create_or_get_document("acme", "a.pdf", sha, "application/pdf")
    assert created
    again, created = catalog.create_or_get_document("acme", "copy.pdf", sha, "application/pdf")
    assert (again.id, again.name, created) == (first.id, "a.pdf", False)
    other, created = catalog.create_or_get_document("beta", "a.pdf", sha, "application/pdf")
    assert created
    assert other.id != first.id
    catalog.mark_superseded("acme", first.id)  # only READY/INDEXING rows count
    newer, created = catalog.create_or_get_document(
        "acme", "a.pdf", sha, "application/pdf", replaces=first.id
    )
    assert created
    assert newer.id != first.id
    assert (newer.version, newer.lineage) == (2, first.id)

    # Many rounds of racers released together: without the per-(tenant, sha256)
    # serialisation some round ends with two documents.
    rounds, racers = 12, 6
    barrier = threading.Barrier(racers)
    results: list[tuple[int, str, bool]] = []
    errors: list[BaseException] = []

    def racer(i: int) -> None:
        try:
            for r in range(rounds):
                barrier.wait(timeout=60)
                record, made = catalog.create_or_get_document(
                    "acme", f"dup-{i}.pdf", f"{r:064x}", "application/pdf"
                )
                results.append((r, record.id, made))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert len(results) == rounds * racers
    for r in range(rounds):
        mine = [(doc_id, made) for n, doc_id, made in results if n == r]
        assert sum(made for _, made in mine) == 1, f"round {r}: {mine}"
        assert len({doc_id for doc_id, _ in mine}) == 1
        same = [d for d in catalog.list_documents("acme") if d.sha256 == f"{r:064x}"]
        assert len(same) == 1


def test_create_document_validates(catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="sha256"):
        catalog.create_document("acme", "x.pdf", "ABC", "application/pdf")
    for tenant in ["", "../etc", "a/b", ".hidden", "x" * 65]:
        with pytest.raises(ValueError, match="invalid tenant"):
            catalog.create_document(tenant, "x.pdf", "a" * 64, "application/pdf")


def test_tenant_isolation_on_every_read(catalog: Catalog, contract: tuple[Path, Path]) -> None:
    pdf, txt = contract
    doc = catalog.create_document("acme", pdf.name, sha256_of(pdf), "application/pdf")
    catalog.store_file("acme", doc.id, pdf)
    catalog.save_pages("acme", doc.id, _contract_pages(txt))
    job = catalog.create_job("acme", "ingest", {"path": str(pdf)}, file_name=pdf.name)
    catalog.create_api_key("acme", "admin")
    catalog.audit("acme", "alice", "document.upload", {"document_id": doc.id})

    def error_text(call: Callable[[str], object], real_id: str) -> str:
        with pytest.raises(NotFoundError) as info:
            call(real_id)
        assert type(info.value) is NotFoundError
        return str(info.value).replace(real_id, "<id>")

    calls: list[Callable[[str], object]] = [
        lambda i: catalog.get_document("evil", i),
        lambda i: catalog.file_path("evil", i),
        lambda i: catalog.store_file("evil", i, pdf),
        lambda i: catalog.save_pages("evil", i, [Page(number=1, text="x")]),
        lambda i: catalog.page_text("evil", i, 1),
        lambda i: catalog.pages("evil", i),
        lambda i: catalog.mark_ready("evil", i, 1, 1),
        lambda i: catalog.mark_failed("evil", i, "x"),
        lambda i: catalog.mark_superseded("evil", i),
        lambda i: catalog.delete_document("evil", i),
    ]
    missing = uuid.uuid4().hex
    for call in calls:
        # another tenant's id reads exactly like an id that does not exist
        assert error_text(call, doc.id) == error_text(call, missing)
    assert error_text(lambda i: catalog.get_job("evil", i), job.id) == error_text(
        lambda i: catalog.get_job("evil", i), missing
    )
    assert catalog.find_by_sha("evil", doc.sha256) is None
    assert catalog.latest_by_name("evil", doc.name) is None
    assert catalog.list_documents("evil") == []
    assert catalog.unready_document_ids("evil") == []
    assert catalog.incomplete_documents("evil") == []
    assert catalog.list_jobs("evil") == []
    assert catalog.list_api_keys("evil") == []
    assert catalog.audit_entries("evil") == []
    # and acme's data is untouched by the attempts
    assert catalog.get_document("acme", doc.id).status is DocumentStatus.INDEXING
    assert len(catalog.pages("acme", doc.id)) == 3
    assert catalog.file_path("acme", doc.id).read_bytes() == pdf.read_bytes()


# --------------------------------------------------------------------------- files


def _file_store_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_store_file_deduplicated_and_deleted_with_last_user(
    catalog: Catalog, contract: tuple[Path, Path]
) -> None:
    pdf, _ = contract
    sha = sha256_of(pdf)
    a = catalog.create_document("acme", "a.pdf", sha, "application/pdf")
    b = catalog.create_document("acme", "copy of a.pdf", sha, "application/pdf")
    path_a = catalog.store_file("acme", a.id, pdf)
    path_b = catalog.store_file("acme", b.id, pdf)
    assert path_a == path_b == catalog.files_dir / "acme" / sha
    assert catalog.file_path("acme", b.id) == path_a
    assert path_a.read_bytes() == pdf.read_bytes()
    assert sorted(p.name for p in path_a.parent.iterdir()) == [sha]  # one copy, no temp files

    catalog.delete_document("acme", a.id)
    assert path_a.is_file()  # b still uses it
    with pytest.raises(NotFoundError):
        catalog.get_document("acme", a.id)
    catalog.delete_document("acme", b.id)
    assert not path_a.exists()
    with pytest.raises(NotFoundError):
        catalog.delete_document("acme", b.id)


def test_store_file_is_atomic(
    catalog: Catalog, contract: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf, _ = contract
    doc = catalog.create_document("acme", pdf.name, sha256_of(pdf), "application/pdf")
    folder = catalog.files_dir / "acme"

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash before the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        catalog.store_file("acme", doc.id, pdf)
    monkeypatch.undo()
    assert list(folder.iterdir()) == []  # neither a partial file nor a temp file
    with pytest.raises(NotFoundError, match="no stored original"):
        catalog.file_path("acme", doc.id)

    # bytes that do not match the document's hash are refused, nothing is kept
    with pytest.raises(KnowledgeBaseError, match="does not match"):
        catalog.store_file("acme", doc.id, NDA_DOCX)
    assert list(folder.iterdir()) == []
    with pytest.raises(KnowledgeBaseError, match="no-such-file"):
        catalog.store_file("acme", doc.id, folder / "no-such-file.pdf")
    assert list(folder.iterdir()) == []

    assert catalog.store_file("acme", doc.id, pdf).read_bytes() == pdf.read_bytes()
    assert _file_store_leftovers(folder) == []


# --------------------------------------------------------------------------- jobs


def test_job_lifecycle(catalog: Catalog) -> None:
    job = catalog.create_job("acme", "review", {"document_id": "d1", "playbook": "nda"})
    assert job.status is JobStatus.QUEUED
    assert job.created_at.tzinfo is not None
    assert catalog.job_payload(job.id) == {"document_id": "d1", "playbook": "nda"}
    assert catalog.get_job("acme", job.id) == job
    result = {"findings": [{"clause": "Governing Law", "page": 3}]}
    done = catalog.update_job(job.id, status=JobStatus.DONE, result=result, pages=3)
    assert (done.status, done.result, done.pages) == (JobStatus.DONE, result, 3)
    assert catalog.get_job("acme", job.id).result == result
    assert [j.id for j in catalog.list_jobs(statuses=[JobStatus.DONE])] == [job.id]
    assert catalog.list_jobs(statuses=[JobStatus.QUEUED]) == []

    with pytest.raises(TypeError, match="tenant"):
        catalog.update_job(job.id, tenant="evil")
    with pytest.raises(NotFoundError):
        catalog.update_job(uuid.uuid4().hex, status="failed")
    with pytest.raises(NotFoundError):
        catalog.job_payload(uuid.uuid4().hex)
    with pytest.raises(TypeError, match="JSON"):
        catalog.create_job("acme", "ingest", {"when": datetime.now(UTC)})


def test_claim_job_oldest_first_by_kind(catalog: Catalog) -> None:
    first = catalog.create_job("acme", "ingest", {"n": 1})
    second = catalog.create_job("beta", "review", {"n": 2})
    third = catalog.create_job("acme", "ingest", {"n": 3})
    assert catalog.claim_job("w1", kinds=["review"]).id == second.id  # type: ignore[union-attr]
    claimed = catalog.claim_job("w1")
    assert claimed is not None
    assert claimed.id == first.id
    assert (claimed.status, claimed.worker_id, claimed.attempts) == (JobStatus.RUNNING, "w1", 1)
    assert catalog.claim_job("w2", kinds=["review"]) is None
    assert catalog.claim_job("w2").id == third.id  # type: ignore[union-attr]
    assert catalog.claim_job("w2") is None  # running jobs with fresh heartbeats are not taken


def test_claim_job_from_threads_never_twice(catalog: Catalog) -> None:
    created = {catalog.create_job("acme", "ingest", {"n": i}).id for i in range(40)}
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            while (job := catalog.claim_job(name)) is not None:
                with lock:
                    claimed.append(job.id)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(claimed) == len(set(claimed)) == 40
    assert set(claimed) == created
    assert {j.status for j in catalog.list_jobs()} == {JobStatus.RUNNING}


_CLAIM_SCRIPT = """
import json, sys
from pathlib import Path
from knowledge_base.catalog import Catalog
cat = Catalog(sys.argv[1], Path(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()  # start together with the other process
ids = []
while (job := cat.claim_job(sys.argv[3])) is not None:
    ids.append(job.id)
cat.close()
print(json.dumps(ids))
"""


@pytest.mark.slow
def test_claim_job_from_processes_never_twice(catalog: Catalog, catalog_url: str) -> None:
    created = {catalog.create_job("acme", "ingest", {"n": i}).id for i in range(60)}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CLAIM_SCRIPT, catalog_url, str(catalog.files_dir), f"p{i}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for i in range(2)
    ]
    for proc in procs:  # both have opened the catalog ...
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
    for proc in procs:  # ... and now claim at the same time
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    claimed: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        claimed += json.loads(out.strip().splitlines()[-1])
    assert len(claimed) == len(set(claimed)) == 60
    assert set(claimed) == created


@contextmanager
def _claimed_elsewhere(catalog_url: str, job_id: str) -> Iterator[None]:
    """Another worker's claim of ``job_id``, held uncommitted while the body runs."""
    if catalog_url.startswith("sqlite"):
        db = sqlite3.connect(catalog_url.removeprefix("sqlite:///"), isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # the catalog's SQLite format
        db.execute(
            "UPDATE jobs SET status = 'running', worker_id = 'other', heartbeat_at = ? WHERE id = ?",
            (now, job_id),
        )
        try:
            yield
        finally:
            db.execute("COMMIT")
            db.close()
        return
    engine = create_engine(catalog_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT id FROM jobs WHERE id = :i FOR UPDATE"), {"i": job_id})
            conn.execute(
                text(
                    "UPDATE jobs SET status = 'running', worker_id = 'other', heartbeat_at = now()"
                    " WHERE id = :i"
                ),
                {"i": job_id},
            )
            yield
            conn.commit()
    finally:
        engine.dispose()


def test_claim_never_takes_a_job_being_claimed(catalog: Catalog, catalog_url: str) -> None:
    """Deterministic race: while another worker's claim of the oldest job is in
    flight, a claim gets the next job (PostgreSQL: skips the locked row; SQLite:
    waits for the write lock, then reads the committed claim)."""
    first = catalog.create_job("acme", "ingest", {"n": 1})
    second = catalog.create_job("acme", "ingest", {"n": 2})
    got: list[object] = []
    with _claimed_elsewhere(catalog_url, first.id):
        thread = threading.Thread(target=lambda: got.append(catalog.claim_job("me")))
        thread.start()
        thread.join(timeout=0.5)
    thread.join(timeout=60)
    assert len(got) == 1
    assert getattr(got[0], "id", None) == second.id
    assert catalog.get_job("acme", first.id).worker_id == "other"


def test_stale_running_job_is_reclaimed(catalog: Catalog) -> None:
    job = catalog.create_job("acme", "ingest", {})
    assert catalog.claim_job("dead-worker").id == job.id  # type: ignore[union-attr]
    catalog.heartbeat(job.id, "dead-worker")
    assert catalog.claim_job("w2", stale_after_s=60) is None  # heartbeat is fresh
    time.sleep(0.05)
    again = catalog.claim_job("w2", stale_after_s=0.01)
    assert again is not None
    assert again.id == job.id
    assert (again.worker_id, again.attempts) == ("w2", 2)
    with pytest.raises(NotFoundError, match="not running"):
        catalog.heartbeat(job.id, "dead-worker")  # it lost the job
    catalog.heartbeat(job.id, "w2")

    # a job whose worker keeps dying is given up after max_attempts
    time.sleep(0.05)
    assert catalog.claim_job("w3", stale_after_s=0.01, max_attempts=3).attempts == 3  # type: ignore[union-attr]
    time.sleep(0.05)
    assert catalog.claim_job("w4", stale_after_s=0.01, max_attempts=3) is None
    gone = catalog.get_job("acme", job.id)
    assert gone.status is JobStatus.FAILED
    assert "stopped responding" in (gone.error or "")


def test_updates_are_fenced_by_the_claiming_worker(catalog: Catalog) -> None:
    """A worker that lost its job (stale heartbeat, re-claimed) can no longer
    write progress, a result or a final status over the new owner's."""
    job = catalog.create_job("acme", "summary", {"document_ids": []})
    assert catalog.claim_job("slow").id == job.id  # type: ignore[union-attr]
    catalog.update_job(job.id, worker_id="slow", pages=1, result={"documents": {"a": 1}})
    time.sleep(0.05)
    assert catalog.claim_job("fast", stale_after_s=0.01).id == job.id  # type: ignore[union-attr]
    catalog.update_job(job.id, worker_id="fast", pages=2, result={"documents": {"b": 2}})

    for fields in (
        {"pages": 99},
        {"result": {"documents": {"stale": 0}}},
        {"status": JobStatus.DONE},
        {"status": JobStatus.FAILED, "error": "stale worker"},
    ):
        with pytest.raises(JobLostError, match="claimed by fast"):
            catalog.update_job(job.id, worker_id="slow", **fields)
    with pytest.raises(JobLostError):
        catalog.heartbeat(job.id, "slow")
    current = catalog.get_job("acme", job.id)
    assert (current.status, current.pages, current.worker_id) == (JobStatus.RUNNING, 2, "fast")
    assert current.result == {"documents": {"b": 2}}
    assert current.error is None

    done = catalog.update_job(job.id, worker_id="fast", status=JobStatus.DONE)
    assert done.status is JobStatus.DONE
    with pytest.raises(JobLostError, match="not running"):  # finished: no more writes
        catalog.update_job(job.id, worker_id="fast", pages=3)
    with pytest.raises(NotFoundError) as missing:
        catalog.update_job(uuid.uuid4().hex, worker_id="fast", pages=1)
    assert not isinstance(missing.value, JobLostError)
    # Without worker_id (administrative writes) the row is not fenced.
    assert catalog.update_job(job.id, error="note").error == "note"


def test_requeue_running_jobs(catalog: Catalog) -> None:
    a = catalog.create_job("acme", "ingest", {})
    catalog.create_job("acme", "ingest", {})
    catalog.claim_job("w1")
    assert catalog.requeue_running_jobs() == 1
    requeued = catalog.get_job("acme", a.id)
    assert requeued.status is JobStatus.QUEUED
    assert requeued.worker_id is None
    assert catalog.requeue_running_jobs() == 0
    with pytest.raises(NotFoundError):
        catalog.heartbeat(a.id)


# --------------------------------------------------------------------------- API keys, audit


def test_api_keys(catalog: Catalog, catalog_url: str, tmp_path: Path) -> None:
    key, record = catalog.create_api_key("acme", "member", name="paralegal laptop")
    assert key.startswith("dsk_")
    assert len(key) >= 4 + 43
    assert record.prefix == key[: len(record.prefix)]
    assert len(record.prefix) < 16
    assert (record.tenant, record.role, record.name, record.revoked_at) == (
        "acme",
        "member",
        "paralegal laptop",
        None,
    )
    assert catalog.verify_api_key(key) == record
    assert catalog.verify_api_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert catalog.verify_api_key("not-a-key") is None
    other_key, other = catalog.create_api_key("beta", "reader")
    assert [r.id for r in catalog.list_api_keys("acme")] == [record.id]
    assert {r.id for r in catalog.list_api_keys()} == {record.id, other.id}

    catalog.revoke_api_key(record.id)
    catalog.revoke_api_key(record.id)  # idempotent
    assert catalog.verify_api_key(key) is None
    assert catalog.verify_api_key(other_key) == other
    assert catalog.list_api_keys("acme")[0].revoked_at is not None
    with pytest.raises(NotFoundError):
        catalog.revoke_api_key(uuid.uuid4().hex)
    for bad in ["owner", "ADMIN", ""]:
        with pytest.raises(ValueError, match="invalid role"):
            catalog.create_api_key("acme", bad)
    assert set(ROLES) == {"admin", "member", "reader"}

    # the plaintext key is nowhere in the database
    secret_part = key.removeprefix("dsk_")
    engine = create_engine(catalog_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        dumped = json.dumps(
            [list(map(str, r)) for r in conn.execute(text("SELECT * FROM api_keys"))]
        )
    engine.dispose()
    assert secret_part[8:] not in dumped
    if catalog_url.startswith("sqlite"):
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("catalog.db*"))
        assert raw
        assert secret_part[8:].encode() not in raw
        assert key.encode() not in raw


def test_audit_since_filter(catalog: Catalog) -> None:
    catalog.audit("acme", "alice", "document.upload", {"document_id": "d1"})
    time.sleep(0.02)
    since = datetime.now(UTC)
    time.sleep(0.02)
    catalog.audit("acme", "bob", "document.delete", {"document_id": "d1"})
    catalog.audit("beta", "carol", "key.create", {"key_id": "k1"})
    catalog.audit("acme", "alice", "review.start", {"job_id": "j1", "n": 2})

    assert [e.action for e in catalog.audit_entries("acme")] == [
        "document.upload",
        "document.delete",
        "review.start",
    ]
    recent = catalog.audit_entries("acme", since=since)
    assert [(e.actor, e.action) for e in recent] == [
        ("bob", "document.delete"),
        ("alice", "review.start"),
    ]
    assert recent[1].detail == {"job_id": "j1", "n": 2}
    assert all(e.created_at >= since and e.created_at.tzinfo is not None for e in recent)
    assert len(catalog.audit_entries(since=since)) == 3
    assert len(catalog.audit_entries(limit=2)) == 2
    assert catalog.audit_entries(since=datetime.now(UTC) + timedelta(seconds=5)) == []
    with pytest.raises(ValueError, match="timezone"):
        catalog.audit_entries(since=datetime.now())


# --------------------------------------------------------------------------- set-up, errors


def test_reopen_and_schema_version(catalog_url: str, tmp_path: Path) -> None:
    first = Catalog(catalog_url, tmp_path / "files")
    key, _ = first.create_api_key("acme", "admin")
    first.close()
    second = Catalog(catalog_url, tmp_path / "files")
    assert second.verify_api_key(key) is not None  # same pepper after a restart
    second.close()

    engine = create_engine(catalog_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    engine.dispose()
    with pytest.raises(ConfigurationError, match="schema version 99"):
        Catalog(catalog_url, tmp_path / "files")


def test_sqlite_is_configured_for_concurrency(tmp_path: Path) -> None:
    cat = Catalog(f"sqlite:///{tmp_path / 'sub' / 'catalog.db'}", tmp_path / "files")
    try:
        with cat._engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        cat.close()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] >= 5000


def test_database_errors_become_knowledge_base_errors(tmp_path: Path) -> None:
    broken = tmp_path / "catalog.db"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(KnowledgeBaseError, match="catalog"):
        Catalog(f"sqlite:///{broken}", tmp_path / "files")


def test_bad_urls_are_configuration_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad_urls = ["sqlite://", "sqlite:///:memory:", "mysql://x@y/z", "not a url"]
    for url in [*bad_urls, f"sqlite:///{blocker}/catalog.db"]:
        with pytest.raises(ConfigurationError):
            Catalog(url, tmp_path / "files")


def test_replaced_versions_are_older_ready_rows_of_a_lineage(catalog: Catalog) -> None:
    """What a crash between a new version's READY and the old one's
    supersede leaves: two READY versions; only the older one is listed.
    Another document with the same name is not a version of it."""
    v1 = catalog.create_document("acme", "deal.pdf", "1" * 64, "application/pdf", version=1)
    v2 = catalog.create_document(
        "acme", "deal.pdf", "2" * 64, "application/pdf", version=2, lineage=v1.id
    )
    namesake = catalog.create_document("acme", "deal.pdf", "3" * 64, "application/pdf", 3)
    other = catalog.create_document("beta", "deal.pdf", "1" * 64, "application/pdf", version=1)
    for tenant, doc in (("acme", v1), ("acme", v2), ("acme", namesake), ("beta", other)):
        catalog.mark_ready(tenant, doc.id, 1, 1)
    assert [d.id for d in catalog.replaced_versions("acme")] == [v1.id]
    assert [d.id for d in catalog.replaced_versions()] == [v1.id]
    assert [d.id for d in catalog.replaced_versions("acme", v1.id)] == [v1.id]
    assert catalog.replaced_versions("acme", namesake.id) == []
    assert catalog.replaced_versions("beta") == []
    catalog.mark_superseded("acme", v1.id)
    assert catalog.replaced_versions() == []


def test_a_version_only_when_the_caller_says_so(catalog: Catalog) -> None:
    """Same name is not same document: a new upload is version 1 of its own
    lineage unless it ``replaces`` a document or shares its ``source``."""
    pdf = "application/pdf"
    first, _ = catalog.create_or_get_document("acme", "Agreement.pdf", "1" * 64, pdf)
    namesake, _ = catalog.create_or_get_document("acme", "Agreement.pdf", "2" * 64, pdf)
    assert (first.version, first.lineage) == (1, first.id)
    assert (namesake.version, namesake.lineage) == (1, namesake.id)

    v2, _ = catalog.create_or_get_document("acme", "renamed.pdf", "3" * 64, pdf, replaces=first.id)
    v3, _ = catalog.create_or_get_document("acme", "x.pdf", "4" * 64, pdf, replaces=first.id)
    assert [(d.version, d.lineage) for d in (v2, v3)] == [(2, first.id), (3, first.id)]

    src, _ = catalog.create_or_get_document("acme", "a.pdf", "5" * 64, pdf, source="k" * 64)
    again, _ = catalog.create_or_get_document("acme", "a.pdf", "6" * 64, pdf, source="k" * 64)
    assert (again.version, again.lineage) == (2, src.id)
    elsewhere, _ = catalog.create_or_get_document("acme", "a.pdf", "7" * 64, pdf, source="j" * 64)
    assert (elsewhere.version, elsewhere.lineage) == (1, elsewhere.id)

    # another tenant's id reads like one that does not exist; nothing is written
    other, _ = catalog.create_or_get_document("beta", "b.pdf", "8" * 64, pdf)
    for missing in (other.id, uuid.uuid4().hex):
        with pytest.raises(NotFoundError):
            catalog.create_or_get_document("acme", "c.pdf", "9" * 64, pdf, replaces=missing)
    assert catalog.find_by_sha("acme", "9" * 64) is None


def test_a_version_1_catalog_is_upgraded_keeping_its_name_chains(
    catalog_url: str, tmp_path: Path
) -> None:
    """A catalog written before lineages (schema 1, versions chained by name)
    opens: each chain becomes one lineage, the first version's id."""
    first = Catalog(catalog_url, tmp_path / "files")
    v1 = first.create_document("acme", "deal.pdf", "1" * 64, "application/pdf", 1)
    v2 = first.create_document("acme", "deal.pdf", "2" * 64, "application/pdf", 2)
    solo = first.create_document("acme", "other.pdf", "3" * 64, "application/pdf", 1)
    for doc in (v1, v2, solo):
        first.mark_ready("acme", doc.id, 1, 1)
    first.close()
    engine = create_engine(catalog_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:  # back to the version-1 table
        conn.execute(text("DROP INDEX ix_documents_tenant_lineage"))
        conn.execute(text("DROP INDEX ix_documents_tenant_source"))
        conn.execute(text("ALTER TABLE documents DROP COLUMN lineage"))
        conn.execute(text("ALTER TABLE documents DROP COLUMN source"))
        conn.execute(text("UPDATE schema_version SET version = 1"))
    engine.dispose()
    upgraded = Catalog(catalog_url, tmp_path / "files")
    try:
        lineages = {d.id: d.lineage for d in upgraded.list_documents("acme")}
        assert lineages == {v1.id: v1.id, v2.id: v1.id, solo.id: solo.id}
        assert [d.id for d in upgraded.replaced_versions("acme")] == [v1.id]
        v3, _ = upgraded.create_or_get_document(
            "acme", "deal.pdf", "4" * 64, "application/pdf", replaces=v2.id
        )
        assert (v3.version, v3.lineage) == (3, v1.id)
    finally:
        upgraded.close()
