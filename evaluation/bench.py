"""``make bench``: reproducible benchmarks → ``BENCHMARKS.md``.

Every measurement is a subprocess running a command a reader can paste into a
shell (the ``dossier`` CLI with ``--json`` wherever one exists), so the
numbers can be reproduced by hand; its exact command line is written next to
its table. Peak RSS is the child's own ``ru_maxrss`` from ``os.wait4`` (the
largest resident set of the process tree it waited for), so each side of a
comparison is measured alone.

Sections: ingestion (Dossier vs the LangChain-style baseline of
:mod:`evaluation.baseline`), retrieval (LegalBench-RAG precision/recall, vs
the paper's naive baseline), clause extraction (``dossier eval clauses --cv
5`` and the time of ``dossier review`` on a 40-page contract), agent latency
(``dossier eval agent-latency``) and API latency under load (``python -m
api.bench_api``). The ingestion section builds the bench knowledge base
(``.cache/bench/kb``) that the agent and API sections then query; those two
share one local vLLM server, started once (or ``DOSSIER_LLM__BASE_URL``) and
stopped at the end. A section whose command is missing says "not yet
available"; a failing one reports its error and the others still run.

Environment: ``BENCH_QUICK=1`` runs a small slice (10 PDFs, 100 queries);
``BENCH_OUT`` the report path (default ``BENCHMARKS.md``, or
``BENCHMARKS.quick.md`` in quick mode, so a quick run never overwrites a full
one); ``BENCH_BUDGET_S`` the wall-clock budget (default 2700 s = 45 min):
sections that would start after it are skipped, and each command is killed
at it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["BenchContext", "CommandResult", "Section", "main", "run_command"]

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data").resolve()
CUAD = DATA / "cuad-dev"
VERSIONED = (
    "torch",
    "sentence-transformers",
    "transformers",
    "pymilvus",
    "milvus-lite",
    "pymupdf",
    "langchain-text-splitters",
    "langchain-huggingface",
    "numpy",
)


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    wall_s: float
    peak_rss_mb: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def json(self) -> Any:
        """The ``--json`` contract: the last non-empty stdout line."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise ValueError(f"{self.display}: no output (exit {self.returncode})")
        return json.loads(lines[-1])

    @property
    def display(self) -> str:
        return shlex.join(_shorten(a) for a in self.argv)

    def failure(self) -> str:
        tail = self.stderr.strip().splitlines()[-5:]
        why = "timed out" if self.timed_out else f"exit {self.returncode}"
        return f"`{self.display}` failed ({why}): " + " / ".join(tail)


def _shorten(arg: str) -> str:
    """Paths as a reader would type them: relative to the repo root."""
    for root, alias in ((str(REPO) + "/", ""), (str(DATA), "../shared/data")):
        if arg.startswith(root):
            return alias + arg[len(root) :]
    return arg


def run_command(
    argv: Sequence[str],
    *,
    timeout_s: float,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
) -> CommandResult:
    """Run one command; return its output, wall time and peak RSS (own tree)."""
    env = {**os.environ, **(env or {}), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=err)
        timed_out = False
        deadline = t0 + max(timeout_s, 1.0)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                timed_out = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return CommandResult(
            list(argv),
            proc.returncode,
            wall,
            usage.ru_maxrss / 1024,
            out.read(),
            err.read(),
            timed_out,
        )


@dataclass
class Section:
    title: str
    commands: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    #: The whole Markdown block, for a section kept from an earlier report.
    raw: str | None = None
    #: The section's name (``ingestion``, ``retrieval``, ...), once it has run.
    name: str = ""

    def markdown(self) -> str:
        if self.raw is not None:
            return self.raw
        lines = [f"## {self.title}", ""]
        if self.commands:
            lines += ["Commands (from the repository root):", "", "```sh"]
            lines += self.commands
            lines += ["```", ""]
        lines += self.body
        return "\n".join(lines).rstrip() + "\n"


class BenchContext:
    """Settings of one bench run, its clock, its knowledge base and LLM server.

    The ingestion section indexes the CUAD PDFs into ``kb`` (``.cache/bench/kb``,
    emptied at the start of each run except its converted LLM under
    ``models/``); the agent and API sections search that same index, and the
    local vLLM server for that data dir is started once for both and stopped
    at the end.
    """

    def __init__(self, quick: bool, budget_s: float, kb: Path | None = None) -> None:
        self.quick = quick
        self.started = time.perf_counter()
        self.budget_s = budget_s
        self.python = str(REPO / ".venv" / "bin" / "python")
        if not Path(self.python).exists():
            self.python = sys.executable
        dossier = Path(self.python).parent / "dossier"
        self.dossier = [str(dossier)] if dossier.exists() else [self.python, "-m", "api"]
        self.pdf_limit = 10 if quick else None
        self.query_limit = 100 if quick else None
        self.kb = kb or REPO / ".cache" / ("bench-quick" if quick else "bench") / "kb"
        self.llm_url: str | None = None
        self._llm_started = False
        #: A partial run (``only`` the named sections) keeps the others from
        #: the existing report (``kept``).
        self.only: set[str] = set()
        self.kept: dict[str, Section] = {}

    def reset_kb(self) -> None:
        """Empty the bench data dir, keeping a converted model (``models/``)."""
        self.kb.mkdir(parents=True, exist_ok=True)
        for entry in self.kb.iterdir():
            if entry.name == "models":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def remaining_s(self) -> float:
        return self.budget_s - (time.perf_counter() - self.started)

    def run(
        self, argv: Sequence[str], section: Section, env: dict[str, str] | None = None
    ) -> CommandResult:
        result = run_command(argv, timeout_s=self.remaining_s(), env=env)
        prefix = "".join(f"{k}={v} " for k, v in (env or {}).items())
        section.commands.append(prefix + result.display)
        return result

    def has_eval_command(self, name: str) -> bool:
        probe = run_command([*self.dossier, "eval", name, "--help"], timeout_s=120)
        return probe.returncode == 0

    def ensure_llm(self, section: Section) -> str | None:
        """The local vLLM server of ``kb`` (started once), or
        ``DOSSIER_LLM__BASE_URL`` when set. Notes its start-up time in
        ``section``; returns None (and says why) if it cannot start."""
        if self.llm_url is None and os.environ.get("DOSSIER_LLM__BASE_URL"):
            self.llm_url = os.environ["DOSSIER_LLM__BASE_URL"]
            section.body += [f"- LLM: {self.llm_url} (DOSSIER_LLM__BASE_URL)", ""]
        if self.llm_url is not None:
            return self.llm_url
        result = self.run([*self.dossier, "llm", "start", "--kb", str(self.kb), "--json"], section)
        if result.returncode != 0:
            section.body.append("LLM server did not start: " + result.failure())
            return None
        status = result.json
        self._llm_started = True
        self.llm_url = status.get("base_url") or f"http://127.0.0.1:{status['port']}/v1"
        section.body.append(
            f"- LLM: local vLLM CPU server ({status.get('model') or 'SmolLM2-135M-Instruct'}), "
            f"start-up {_fmt(status.get('startup_s'), 1)} s (model preparation included "
            "on a first run)"
        )
        section.body.append("")
        return self.llm_url

    def close(self) -> None:
        if self._llm_started:
            run_command([*self.dossier, "llm", "stop", "--kb", str(self.kb)], timeout_s=120)
            self._llm_started = False


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _environment() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    versions = []
    for name in VERSIONED:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return "\n".join(
        [
            f"- date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
            f"- CPU: {cpu}; {os.cpu_count()} cores visible; memory {memory}; no GPU used",
            f"- OS: {platform.platform()}; Python {platform.python_version()}",
            f"- commit: {commit or 'unknown'} (working tree may differ)",
            f"- versions: {', '.join(versions)}",
            "- the machine may be shared: wall-clock numbers are of this run only",
        ]
    )


# -- sections ---------------------------------------------------------------------
def ingestion_section(ctx: BenchContext) -> Section:
    section = Section("Ingestion: 101 CUAD contracts (PDF)")
    pdf_dir = CUAD / "pdf"
    pdfs = sorted(p for p in pdf_dir.iterdir() if p.suffix.lower() == ".pdf")
    limit_args: list[str] = []
    inputs: list[str] = [str(pdf_dir)]
    if ctx.pdf_limit is not None:
        pdfs = pdfs[: ctx.pdf_limit]
        inputs = [str(p) for p in pdfs]
        limit_args = ["--limit", str(ctx.pdf_limit)]
        section.title = f"Ingestion: first {len(pdfs)} CUAD contracts (PDF, quick slice)"
    ctx.reset_kb()
    ours = ctx.run([*ctx.dossier, "ingest", *inputs, "--kb", str(ctx.kb), "--json"], section)
    base = ctx.run(
        [ctx.python, "-m", "evaluation.baseline", "ingest", str(pdf_dir), *limit_args, "--json"],
        section,
    )
    rows = []
    data: dict[str, Any] = {}
    for label, result in (("Dossier", ours), ("LangChain-style baseline", base)):
        if result.returncode not in (0, 1) or result.timed_out:
            section.body.append(f"- {label}: {result.failure()}")
            continue
        try:
            stats = result.json
        except ValueError as exc:
            section.body.append(f"- {label}: no JSON result ({exc})")
            continue
        seconds = float(stats["seconds"])
        row = {
            "files": stats.get("files"),
            "failed": stats.get("failed"),
            "pages": stats.get("pages"),
            "chunks": stats.get("chunks"),
            "seconds": seconds,
            "wall_s": result.wall_s,
            "pages_per_s": stats["pages"] / seconds if seconds else None,
            "chunks_per_s": stats["chunks"] / seconds if seconds else None,
            "peak_rss_mb": result.peak_rss_mb,
        }
        data[label] = row
        rows.append(
            [
                label,
                _fmt(row["files"]),
                _fmt(row["failed"]),
                _fmt(row["pages"]),
                _fmt(row["chunks"]),
                _fmt(seconds, 1),
                _fmt(result.wall_s, 1),
                _fmt(row["pages_per_s"], 2),
                _fmt(row["chunks_per_s"], 2),
                _fmt(result.peak_rss_mb, 0),
            ]
        )
    if len(data) == 2:
        a, b = data["Dossier"], data["LangChain-style baseline"]
        rows.append(
            [
                "ratio Dossier / baseline",
                "",
                "",
                "",
                "",
                _ratio(a["seconds"], b["seconds"]),
                _ratio(a["wall_s"], b["wall_s"]),
                _ratio(a["pages_per_s"], b["pages_per_s"]),
                _ratio(a["chunks_per_s"], b["chunks_per_s"]),
                _ratio(a["peak_rss_mb"], b["peak_rss_mb"]),
            ]
        )
    header = ["pipeline", "files", "failed", "pages", "chunks", "s (in-process)", "s (wall)"]
    header += ["pages/s", "chunks/s", "peak RSS MB"]
    section.body = _table(header, rows) + section.body
    section.body.append(
        "Seconds are each tool's own clock (model load included on both sides); pages/s "
        "and chunks/s divide by it. Wall includes interpreter start-up. Dossier also "
        "OCRs image-only pages, parses layout and headings and writes the catalog; the "
        "baseline only extracts PyMuPDF text. Chunk counts differ by design "
        "(Dossier ~160-token structure-aware chunks vs 1000/200-character splits)."
    )
    engine = _embedding_engine()
    section.body.append(
        f"Embedding forward pass: Dossier {engine} (settings embedding.backend/dtype = auto); "
        "baseline torch fp32 through langchain-huggingface."
    )
    section.data = data | {"embedding_engine": engine}
    return section


def _embedding_engine() -> str:
    """What ``auto`` resolves to on this machine, e.g. "openvino bf16"."""
    from core.settings import EmbeddingSettings
    from knowledge_base.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(EmbeddingSettings())
    return f"{embedder.backend} {embedder.dtype}"


def retrieval_section(ctx: BenchContext) -> Section:
    queries = CUAD / "queries.json"
    total = len(json.loads(queries.read_text(encoding="utf-8"))["tests"])
    n = min(total, ctx.query_limit or total)
    section = Section(f"Retrieval: LegalBench-RAG on CUAD dev ({n} queries, txt)")
    argv = [
        *ctx.dossier,
        "eval",
        "retrieval",
        "--queries",
        str(queries),
        "--corpus",
        str(CUAD / "txt"),
        "--source",
        "txt",
        "--baseline",
        "--json",
    ]
    if ctx.query_limit is not None:
        argv += ["--limit", str(ctx.query_limit)]
    result = ctx.run(argv, section)
    if result.returncode != 0:
        section.body.append(result.failure())
        return section
    data = result.json
    base = data.get("baseline", {})
    rows = []
    for k, ours in data["k"].items():
        b = base.get("k", {}).get(k, {})
        rows.append(
            [
                k,
                _fmt(ours["precision"], 4),
                _fmt(b.get("precision"), 4),
                _ratio(ours["precision"], b.get("precision")),
                _fmt(ours["recall"], 4),
                _fmt(b.get("recall"), 4),
                _ratio(ours["recall"], b.get("recall")),
            ]
        )
    header = ["k", "precision", "baseline P", "P ratio", "recall", "baseline R", "R ratio"]
    section.body += _table(header, rows)
    section.body += [
        f"- Dossier: {data.get('documents')} documents, {data.get('chunks')} chunks, "
        f"ingest {_fmt(data.get('ingest_s'), 1)} s, search p50 {_fmt(data.get('query_ms_p50'), 1)} ms "
        f"(mode {data.get('mode')}; one search per query at the largest k, scored at every k: top-k is prefix-stable)",
        f"- baseline (LegalBench-RAG naive: RecursiveCharacterTextSplitter(500, 0), MiniLM, "
        f"exact cosine): {base.get('chunks')} chunks, chunk+embed {_fmt(base.get('ingest_s'), 1)} s, "
        f"search p50 {_fmt(base.get('query_ms_p50'), 1)} ms",
        "- metric: LegalBench-RAG character-span precision@k / recall@k, mean over queries; "
        "every query searches the whole corpus (see `evaluation/metrics.py`).",
        f"- wall time of the command: {result.wall_s:.0f} s, peak RSS {result.peak_rss_mb:.0f} MB",
    ]
    section.data = data
    return section


def _run_json(
    ctx: BenchContext,
    section: Section,
    argv: Sequence[str],
    render: Callable[[Any], list[str]],
    *,
    env: dict[str, str] | None = None,
    note: str = "",
) -> Section:
    """Run a ``--json`` command into ``section``: its rendered result and wall
    time, or its failure."""
    result = ctx.run(argv, section, env=env)
    if result.returncode != 0:
        section.body.append(result.failure())
        return section
    section.data = result.json
    section.body += render(section.data)
    section.body.append(
        f"- wall time of the command: {result.wall_s:.0f} s{note}, "
        f"peak RSS {result.peak_rss_mb:.0f} MB"
    )
    return section


def _hook_section(
    ctx: BenchContext,
    title: str,
    command: str,
    args: Sequence[str],
    render: Callable[[Any], list[str]],
    precondition: Callable[[], str | None] = lambda: None,
) -> Section:
    """Run ``dossier eval <command> <args> --json`` if it exists, else say so."""
    section = Section(title)
    missing = precondition()
    if missing is None and not ctx.has_eval_command(command):
        missing = f"`dossier eval {command}` does not exist yet"
    if missing is not None:
        section.body.append(f"Not yet available: {missing}.")
        return section
    return _run_json(ctx, section, [*ctx.dossier, "eval", command, *args, "--json"], render)


def _render_json(data: Any) -> list[str]:
    """Fallback rendering for hook results: flat numbers as a table, the rest as JSON."""
    if isinstance(data, dict):
        flat = [(k, v) for k, v in data.items() if isinstance(v, (int, float, str))]
        rest = {k: v for k, v in data.items() if not isinstance(v, (int, float, str))}
        lines = _table(["metric", "value"], [[k, _fmt(v, 4)] for k, v in flat]) if flat else []
        if rest:
            lines += ["<details><summary>full result</summary>", "", "```json"]
            lines += [json.dumps(rest, indent=1)[:20000], "```", "</details>", ""]
        return lines
    return ["```json", json.dumps(data, indent=1)[:20000], "```"]


_CLAUSE_KEYS = ("presence_precision", "presence_recall", "presence_f1")
_CLAUSE_KEYS += ("span_precision", "span_recall", "span_f1")


def _render_clauses(data: dict[str, Any]) -> list[str]:
    """Micro/macro table against the issue's targets, then every category."""
    header = ["average", "presence P", "presence R", "presence F1", "span P", "span R", "span F1"]
    rows = [
        [name, *(_fmt(data.get(name, {}).get(key), 4) for key in _CLAUSE_KEYS)]
        for name in ("micro", "macro")
    ]
    lines = _table(header, rows)
    micro_f1 = data.get("micro", {}).get("span_f1")
    lines += [
        f"- {data.get('contracts')} contracts, {data.get('cv')}-fold cross-validation by "
        f"contract (each fold's model, thresholds and calibration fitted on the other folds "
        f"only); presence AUPR {_fmt(data.get('presence_aupr'), 4)}; "
        f"{_fmt(data.get('seconds'), 0)} s",
        f"- targets (issue): span micro-F1 >= 0.50 (here {_fmt(micro_f1, 3)}), presence "
        f"AUPR >= 0.70 (here {_fmt(data.get('presence_aupr'), 3)})",
        "- match rule: a predicted passage matches a gold quote of the same category when "
        "they share at least half of the shorter one's normalised tokens",
        f"- CUAD paper's rule (word-set Jaccard >= 0.5 between predicted and gold quote), for "
        f"comparison with published figures: span micro-F1 "
        f"{_fmt(data.get('micro', {}).get('span_f1_jaccard'), 3)}, macro "
        f"{_fmt(data.get('macro', {}).get('span_f1_jaccard'), 3)} (our passages are whole "
        "chunks, longer than most gold quotes)",
    ]
    lines += _clause_values_and_yes_no(data)
    per = data.get("per_category", {})
    rows = [
        [name, _fmt(v.get("gold_contracts")), *(_fmt(v.get(key), 3) for key in _CLAUSE_KEYS)]
        for name, v in per.items()
    ]
    lines += ["", "<details><summary>per category</summary>", ""]
    lines += _table(["category", "gold contracts", *header[1:]], rows)
    lines += ["</details>", ""]
    return lines


#: The yes/no questions of `dossier eval answers` (CUAD presence categories).
YES_NO_CATEGORIES = ("Non-Compete", "Exclusivity", "Termination for Convenience",
                     "Change of Control", "Anti-Assignment", "Audit Rights",
                     "Uncapped Liability", "Cap on Liability")  # fmt: skip


def _clause_values_and_yes_no(data: dict[str, Any]) -> list[str]:
    """Value accuracy (gold / predicted passages) and held-out yes/no accuracy."""
    values = data.get("values") or {}
    gold, pred = values.get("gold_passages") or {}, values.get("predicted_passages") or {}
    rows = [
        [cat, _fmt(v.get("n")), _fmt(v.get("accuracy")),
         _fmt((pred.get("per_category") or {}).get(cat, {}).get("accuracy"))]
        for cat, v in (gold.get("per_category") or {}).items()
    ]  # fmt: skip
    rows.append(["micro", _fmt(gold.get("n")), _fmt(gold.get("micro_accuracy")),
                 _fmt(pred.get("micro_accuracy"))])  # fmt: skip
    lines = ["", "Values against CUAD's normalised answers (`evaluation/value_match.py`):", ""]
    lines += _table(["category", "gold values", "from gold passages", "from predicted"], rows)
    per = data.get("per_category", {})
    accs = [per[c].get("yes_no_accuracy") for c in YES_NO_CATEGORIES if c in per]
    accs = [a for a in accs if a is not None]
    lines += ["", "Yes/no accuracy held out (cross-validated; \"yes\" at calibrated presence "
              ">= 0.5, as composed answers say it):", ""]  # fmt: skip
    lines += _table(["category", "yes/no accuracy"],
                    [[c, _fmt(per.get(c, {}).get("yes_no_accuracy"))] for c in YES_NO_CATEGORIES]
                    + [["mean", _fmt(sum(accs) / len(accs) if accs else None)]])  # fmt: skip
    return [*lines, ""]


def clauses_section(ctx: BenchContext) -> Section:
    args = ["--labels", str(CUAD / "clause_spans.jsonl"), "--corpus", str(CUAD), "--cv", "5"]
    args += ["--cache", str(REPO / ".cache" / "clauses" / "txt")]
    if ctx.quick:
        args += ["--limit", "20"]
    args += shlex.split(os.environ.get("BENCH_CLAUSES_ARGS", ""))
    title = "Clause extraction: CUAD dev, 5-fold cross-validation"
    section = _hook_section(ctx, title, "clauses", args, _render_clauses)
    if ctx.remaining_s() > 120:
        section.body += _review_timing(ctx, section)
    return section


#: A 40-page CUAD contract for the review-time figure.
REVIEW_PDF = (
    "RangeResourcesLouisianaInc_20150417_8-K_EX-10.5_9045501_EX-10.5_Transportation Agreement.pdf"
)


def _review_timing(ctx: BenchContext, section: Section) -> list[str]:
    """``dossier review`` of a 40-page contract into an empty knowledge base:
    wall time (start-up, parse, embed, index, review) and the review alone."""
    pdf = CUAD / "pdf" / REVIEW_PDF
    with tempfile.TemporaryDirectory(prefix="dossier-review-") as tmp:
        result = ctx.run([*ctx.dossier, "review", str(pdf), "--kb", tmp, "--json"], section)
    lines = ["", "**Review of a 40-page contract** (`dossier review`, empty knowledge base)", ""]
    if result.returncode != 0:
        return [*lines, result.failure()]
    report = result.json
    findings = report.get("findings", [])
    present = sum(1 for f in findings if f.get("verdict") != "absent")
    rows = [
        ["pages", "40"],
        ["wall s (start-up + parse + embed + index + review)", _fmt(result.wall_s, 1)],
        ["review s (retrieval + clause model + playbook)", _fmt(report.get("seconds"), 2)],
        ["clauses found / categories", f"{present} / {len(findings)}"],
        [
            "risks high / medium / low",
            " / ".join(str(v) for v in report.get("risk_counts", {}).values()),
        ],
        ["peak RSS MB", _fmt(result.peak_rss_mb, 0)],
    ]
    if isinstance(section.data, dict):
        section.data["review_40_pages"] = {
            "wall_s": result.wall_s,
            "review_s": report.get("seconds"),
            "findings": len(findings),
        }
    return lines + _table(["40-page review", "value"], rows)


def _agent_rows(data: dict[str, Any]) -> list[str]:
    rows = []
    for key, label, scale, digits in (
        ("retrieval_s", "retrieval ms", 1000, 0),
        ("tools_s", "tools ms", 1000, 0),
        ("ttft_s", "time to first token s", 1, 2),
        ("prompt_tokens", "prompt tokens", 1, 0),
        ("tokens_per_s", "tokens/s (decode)", 1, 1),
        ("total_s", "total s", 1, 2),
    ):
        p50, p95 = data.get(f"{key}_p50"), data.get(f"{key}_p95")
        rows.append(
            [
                label,
                _fmt(p50 * scale if p50 is not None else None, digits),
                _fmt(p95 * scale if p95 is not None else None, digits),
            ]
        )
    return _table(["per question", "p50", "p95"], rows)


def _render_agent(data: dict[str, Any]) -> list[str]:
    lines = _agent_rows(data)
    lines.append(
        f"- {data.get('questions')} questions (after one warm-up question not in the set) over "
        f"{data.get('documents')} indexed contracts ({data.get('chunks')} chunks); model "
        f"{data.get('model')}; degraded answers: {data.get('degraded_answers')}"
    )
    rows = [
        [
            str(r["question"]),
            _fmt(r.get("retrieval_s") and r["retrieval_s"] * 1000, 0),
            _fmt(r.get("tools_s") and r["tools_s"] * 1000, 0),
            _fmt(r.get("prompt_tokens")),
            _fmt(r.get("ttft_s"), 2),
            _fmt(r.get("tokens_per_s"), 1),
            _fmt(r.get("total_s"), 2),
            _fmt(r.get("completion_tokens")),
            _fmt(r.get("citations")),
        ]
        for r in data.get("rows", [])
    ]
    lines += ["", "<details><summary>per question</summary>", ""]
    lines += _table(
        [
            "question",
            "retrieval ms",
            "tools ms",
            "prompt tokens",
            "TTFT s",
            "tok/s",
            "total s",
            "tokens",
            "citations",
        ],
        rows,
    )
    lines += ["</details>", ""]
    return lines


def agent_section(ctx: BenchContext) -> Section:
    """``dossier eval agent-latency --json`` on the bench KB, local LLM warm."""
    section = Section("Agent latency (local vLLM CPU, SmolLM2-135M)")
    if ctx.ensure_llm(section) is None:
        return section
    args = ["--kb", str(ctx.kb)]
    args += ["--quick"] if ctx.quick else ["--pdfs", "101"]
    argv = [*ctx.dossier, "eval", "agent-latency", *args, "--json"]
    note = " (re-ingesting the already indexed contracts is a no-op)"
    return _run_json(ctx, section, argv, _render_agent, note=note)


def _render_api(data: dict[str, Any]) -> list[str]:
    alone, during = data.get("search_alone", {}), data.get("search_during_ingest", {})
    lines = _table(
        ["`/v1/search` (k=8)", "requests", "p50 ms", "p95 ms"],
        [
            ["alone", _fmt(alone.get("n")), _fmt(alone.get("p50_ms"), 1), _fmt(alone.get("p95_ms"), 1)],
            [
                f"while {during.get('pdfs')} PDFs are ingested ({_fmt(during.get('ingest_s'), 0)} s)",
                _fmt(during.get("n")),
                _fmt(during.get("p50_ms"), 1),
                _fmt(during.get("p95_ms"), 1),
            ],
        ],
    )  # fmt: skip
    rows = [
        [
            clients,
            _fmt(v.get("p50_ms") and v["p50_ms"] / 1000, 2),
            _fmt(v.get("p95_ms") and v["p95_ms"] / 1000, 2),
            _fmt(v.get("total_p50_ms") and v["total_p50_ms"] / 1000, 1),
            _fmt(v.get("total_p95_ms") and v["total_p95_ms"] / 1000, 1),
        ]
        for clients, v in data.get("ask_ttft", {}).items()
    ]
    lines += _table(
        ["`/v1/ask` concurrent clients", "TTFT p50 s", "TTFT p95 s", "total p50 s", "total p95 s"],
        rows,
    )
    lines.append(
        f"- {data.get('documents_searched')} documents searched; LLM: {data.get('llm')}; "
        "TTFT = time to the first SSE event carrying answer text"
    )
    return lines


def api_section(ctx: BenchContext) -> Section:
    """API latency under load: ``python -m api.bench_api --json`` on the bench KB."""
    section = Section("API latency under load")
    url = ctx.ensure_llm(section)
    argv = [ctx.python, "-m", "api.bench_api", "--json", "--kb", str(ctx.kb)]
    argv += ["--pdfs", "10", "--requests", "20"] if ctx.quick else ["--pdfs", "101"]
    env = {"DOSSIER_LLM__BASE_URL": url} if url else None
    return _run_json(ctx, section, argv, _render_api, env=env)


def answers_section(ctx: BenchContext) -> Section:
    """``dossier eval answers``: checked vs draft answers (evaluation/bench_answers.py)."""
    from evaluation.bench_answers import answers_section as run

    return run(ctx)


def reports_section(ctx: BenchContext) -> Section:
    """``dossier eval reports`` on financebench-dev (evaluation/bench_reports.py)."""
    from evaluation.bench_reports import reports_section as run

    return run(ctx)


def precedents_section(ctx: BenchContext) -> Section:
    """``dossier eval precedents`` on CAP's 288 Arkansas opinions (evaluation/precedents.py):
    metadata accuracy, citation-graph recall/precision, headnote retrieval vs naive."""
    from evaluation.precedents import render_markdown

    title = "Precedents: 288 Arkansas Supreme Court opinions (CAP)"
    corpus = ["--corpus", str(DATA / "court" / "cap-arkansas")]
    section = Section(title)
    for source, heading in (("text", "From the plain texts (metadata detected from the text):"),
                            ("xml", "From CAP's CASEMETS XML (metadata from the file's own "
                                    "elements; headnotes removed as above):")):  # fmt: skip
        part = _hook_section(ctx, title, "precedents", [*corpus, "--source", source],
                             render_markdown)  # fmt: skip
        section.commands += part.commands
        section.body += [heading, "", *part.body, ""]
        section.data[source] = part.data
    return section


SECTIONS: tuple[Callable[[BenchContext], Section], ...] = (
    ingestion_section,
    retrieval_section,
    clauses_section,
    precedents_section,
    agent_section,
    answers_section,
    reports_section,
    api_section,
)


#: Title prefix of each section's heading (finds it in an earlier report).
TITLE_PREFIX = {
    "ingestion": "Ingestion",
    "retrieval": "Retrieval",
    "clauses": "Clause extraction",
    "precedents": "Precedents",
    "agent": "Agent latency",
    "answers": "Answers",
    "reports": "Reports",
    "api": "API latency",
}


def previous_sections(path: Path) -> dict[str, Section]:
    """The sections of the report at ``path`` by name (for a partial re-run)."""
    if not path.is_file():
        return {}
    json_path = path.with_suffix(".json")
    data = json.loads(json_path.read_text(encoding="utf-8")) if json_path.is_file() else {}
    out: dict[str, Section] = {}
    for block in path.read_text(encoding="utf-8").split("\n## ")[1:]:
        title = block.split("\n", 1)[0].strip()
        for name, prefix in TITLE_PREFIX.items():
            if title == name or title.startswith(prefix):
                raw = "## " + block.rstrip() + "\n"
                out[name] = Section(title, data=data.get(title) or {}, raw=raw)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m evaluation.bench [SECTION...]``: every section, or only the
    named ones (``ingestion retrieval clauses agent api``), keeping the other
    sections of the existing report."""
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0", "false")
    default_out = "BENCHMARKS.quick.md" if quick else "BENCHMARKS.md"
    out_path = Path(os.environ.get("BENCH_OUT", REPO / default_out))
    ctx = BenchContext(quick, float(os.environ.get("BENCH_BUDGET_S", "2700")))
    only = set(argv if argv is not None else sys.argv[1:])
    unknown = only - set(TITLE_PREFIX)
    if unknown:
        print(f"bench: unknown section(s) {sorted(unknown)}; known: {list(TITLE_PREFIX)}")
        return 2
    ctx.kept = previous_sections(out_path) if only else {}
    ctx.only = only
    sections: list[Section] = []
    try:
        _run_sections(ctx, only, sections, out_path)
    finally:
        ctx.close()
    _write(out_path, ctx, sections)
    print(f"bench: wrote {out_path}", file=sys.stderr)
    return 0


def _run_sections(
    ctx: BenchContext, only: set[str], sections: list[Section], out_path: Path
) -> None:
    for build in SECTIONS:
        name = build.__name__.removesuffix("_section")
        if only and name not in only:
            continue
        if ctx.remaining_s() <= 60:
            sections.append(Section(name, body=["Skipped: the time budget was spent."]))
            continue
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            section = build(ctx)
        except Exception as exc:  # one broken section must not lose the others
            section = Section(name, body=[f"Failed: {type(exc).__name__}: {exc}"])
        print(f"bench: {name} done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
        section.name = name
        sections.append(section)
        _write(out_path, ctx, sections)  # keep what is done if a later section dies


def _write(path: Path, ctx: BenchContext, sections: Sequence[Section]) -> None:
    mode = "quick slice (BENCH_QUICK=1)" if ctx.quick else "full"
    command = ("BENCH_QUICK=1 " if ctx.quick else "") + "make bench"
    if ctx.only:
        command += ' SECTIONS="' + " ".join(n for n in TITLE_PREFIX if n in ctx.only) + '"'
    head = [
        "# Dossier benchmarks",
        "",
        f"Produced by `{command}` (`python -m evaluation.bench`), {mode}, in "
        f"{time.perf_counter() - ctx.started:.0f} s. Every section lists the exact commands "
        "that produced it; run them from the repository root to reproduce a number.",
        "",
        _environment(),
        "",
    ]
    kept = ctx.kept
    if kept:
        rerun = " ".join(n for n in TITLE_PREFIX if n in ctx.only)
        head += [
            f"This run re-ran only `python -m evaluation.bench {rerun}`; the other sections "
            "are kept from the previous report (their commands and environment lines "
            "are as they were then).",
            "",
        ]
        fresh = {s.name or s.title: s for s in sections}
        names = [n for n in TITLE_PREFIX if n in fresh or n in kept]
        sections = [fresh.get(n) or kept[n] for n in names]
    text = "\n".join(head) + "\n" + "\n".join(s.markdown() for s in sections)
    path.write_text(text, encoding="utf-8")
    path.with_suffix(".json").write_text(
        json.dumps({s.title: s.data for s in sections}, indent=1, default=str), encoding="utf-8"
    )


if __name__ == "__main__":
    sys.exit(main())
