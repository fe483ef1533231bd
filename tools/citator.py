"""The citator: which of our documents cite an authority, and how.

:class:`CitatorTool` is the agent's tool (planner and native tool calling
alike): given a question naming an authority by citation ("288 Ark. 37") or
case name ("Carter v. Matthews"), it lists our documents that cite it with
the citing sentence, page and treatment, says whether any of our decisions
distinguished, questioned or overruled it, and registers each citing sentence
as evidence, so the answer's citations are checked like every other.

The report functions (:func:`citations_report`, :func:`cited_by_report`,
:func:`authorities_report`) are the JSON shapes the CLI and the API return.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, Field

from core.errors import ToolError
from ingest.citations import normalise_authority
from ingest.opinions import normalise_court
from knowledge_base.citation_graph import CitationGraph, CitationRef, DocumentProfile
from knowledge_base.service import KnowledgeBase
from tools.base import ToolResult
from tools.retrieval import EvidenceLedger

__all__ = [
    "NEGATIVE",
    "CitatorArgs",
    "CitatorTool",
    "authorities_report",
    "citation_form",
    "citations_report",
    "cited_by_report",
    "find_authority",
    "short_case_name",
]

#: Treatments that weaken an authority.
NEGATIVE = ("overruled", "abrogated", "questioned", "criticized", "limited", "distinguished")
_PROFILE_FIELDS = (
    "kind", "kind_source", "case_name", "court_id", "court_name", "decided", "docket",
    "author", "judges", "parties", "attorneys", "disposition", "own_citations", "sources",
)  # fmt: skip
_CASE_NAME = re.compile(
    r"([A-Z][\w.&'’-]*(?:\s+[A-Z][\w.&'’-]*){0,5})\s+vs?\.\s+([A-Z][\w.&'’-]*(?:\s+[A-Z][\w.&'’-]*){0,5})"
)


def short_case_name(name: str | None) -> str | None:
    """'Leslie T. CARTER v. George E. and Bessie MATTHEWS' -> 'Carter v. Matthews'."""
    if not name:
        return None
    sides = re.split(r"\s+vs?\.\s+", name, maxsplit=1)
    out = []
    for side in sides:
        side = re.sub(r",?\s+(?:et al|ET AL)\.?.*$", "", side).split(",")[0].strip()
        caps = re.findall(r"\b[A-Z][A-Z'’\-]+\b", side)
        if caps and not side.isupper():
            side = " ".join(caps)
        out.append(side.title() if side.isupper() else side)
    return " v. ".join(out)


def citation_form(
    case_name: str | None, authority: str, pin: str | None = None, year: str | None = None
) -> str:
    """'Smith v. Jones, 288 Ark. 37, 41 (1986)' from what is known."""
    text = f"{short_case_name(case_name)}, {authority}" if case_name else authority
    if pin:
        text += f", {pin}"
    return f"{text} ({year})" if year else text


def _profile_json(p: DocumentProfile | None) -> dict[str, Any] | None:
    return None if p is None else {k: getattr(p, k) for k in _PROFILE_FIELDS}


def _ref_json(r: CitationRef) -> dict[str, Any]:
    return r.model_dump(exclude={"document"}) | {"document": r.document}


def citations_report(kb: KnowledgeBase, tenant: str, document_id: str) -> dict[str, Any]:
    """``dossier citations DOC_ID --json``."""
    graph = CitationGraph(kb.catalog)
    record = kb.get_document(tenant, document_id)
    refs = graph.citations(tenant, document_id)
    return {
        "document_id": document_id,
        "document": record.name,
        "profile": _profile_json(graph.profile(tenant, document_id)),
        "citations": [_ref_json(r) for r in refs],
    }


def find_authority(graph: CitationGraph, tenant: str, text: str) -> str | None:
    """The authority ``text`` names: a citation, else a case name matched
    against our opinions' case names and the case names citations give."""
    found = normalise_authority(text)
    if found:
        return found
    m = _CASE_NAME.search(text)
    if not m:
        return None
    wanted = {w.lower() for w in (m.group(1).split()[-1], m.group(2).split()[0])}
    for profile in graph.profiles(tenant).values():
        short = short_case_name(profile.case_name) or ""
        if profile.own_citations and wanted <= {w.lower().strip(".,") for w in short.split()}:
            return profile.own_citations[0]
    for ref in graph.cited_by_name(tenant, m.group(1).split()[-1]):
        short = ref.case_name or ""
        if ref.authority and wanted <= {w.lower().strip(".,") for w in short.split()}:
            return ref.authority
    return None


def cited_by_report(kb: KnowledgeBase, tenant: str, text: str) -> dict[str, Any]:
    """``dossier cited-by "288 Ark. 37" --json``."""
    graph = CitationGraph(kb.catalog)
    authority = find_authority(graph, tenant, text) or re.sub(r"\s+", " ", text.strip())
    refs, seen = [], set()
    for r in graph.cited_by(tenant, authority):
        key = (r.document_id, r.page, r.sentence, r.form)  # parallel citations: one entry
        if key not in seen:
            seen.add(key)
            refs.append(r)
    profiles = graph.profiles(tenant)
    index = graph.own_citation_index(tenant)
    linked = next((index[a] for a in sorted(graph.aliases(tenant, authority)) if a in index), None)
    citing = []
    for r in refs:
        p = profiles.get(r.document_id or "")
        citing.append(
            _ref_json(r)
            | {
                "citing_case_name": p.case_name if p else None,
                "citing_court_id": p.court_id if p else None,
                "citing_decided": p.decided if p else None,
            }
        )
    return {
        "authority": authority,
        "linked_document_id": linked,
        "linked_profile": _profile_json(profiles.get(linked)) if linked else None,
        "citing_documents": len({r.document_id for r in refs}),
        "negative": sorted(
            {r.treatment for r in refs if r.treatment in NEGATIVE and r.part != "dissent"}
        ),
        "citing": citing,
    }


def authorities_report(
    kb: KnowledgeBase, tenant: str, *, top: int = 20, court: str | None = None
) -> list[dict[str, Any]]:
    """``dossier authorities --json``: most-cited authorities."""
    court_id = normalise_court(court) if court else None
    return CitationGraph(kb.catalog).authorities(tenant, top=top, court=court_id)


class CitatorArgs(BaseModel):
    question: str = Field(
        ...,
        min_length=1,
        max_length=2000,
        description=(
            "The authority to look up, by citation ('288 Ark. 37') or case name "
            "('Carter v. Matthews'), or the whole question naming it."
        ),
    )


class CitatorTool:
    """The agent's citator over the tenant's citation graph (module docstring)."""

    name = "citator"
    description = (
        "Which of our opinions and filings cite an authority, with the citing sentence, "
        "page and treatment (followed, cited, distinguished, questioned, overruled, "
        "abrogated); says whether our decisions distinguished or overruled it."
    )
    input_model = CitatorArgs

    def __init__(
        self, kb: KnowledgeBase, tenant: str, ledger: EvidenceLedger | None = None
    ) -> None:
        self.kb, self.tenant, self.ledger = kb, tenant, ledger

    async def run(self, args: BaseModel) -> ToolResult:
        assert isinstance(args, CitatorArgs)
        return await anyio.to_thread.run_sync(self._run, args.question)

    def _run(self, question: str) -> ToolResult:
        graph = CitationGraph(self.kb.catalog)
        authority = find_authority(graph, self.tenant, question)
        if authority is None:
            raise ToolError(
                "citator: name the authority by citation ('288 Ark. 37') or case name ('Smith v. Jones')"
            )
        report = cited_by_report(self.kb, self.tenant, authority)
        lines = [self._headline(report)]
        for item in report["citing"]:
            lines.append(self._line(item))
        return ToolResult(content="\n".join(lines), data=report)

    def _headline(self, report: dict[str, Any]) -> str:
        authority = report["authority"]
        p = report["linked_profile"]
        first = next((c for c in report["citing"] if c["case_name"]), None)
        name = p["case_name"] if p else (first["case_name"] if first else None)
        year = (p["decided"] or "")[:4] if p else (first["year"] if first else None)
        cited = citation_form(name, authority, None, year or None)
        n = report["citing_documents"]
        if n == 0:
            return f"{cited}: none of our documents cites it."
        negative = report["negative"]
        verdict = (
            f"negative treatment in our decisions: {', '.join(negative)}"
            if negative
            else "no negative treatment in our decisions (not distinguished, questioned or overruled)"
        )
        return f"{cited} is cited by {n} of our documents; {verdict}."

    def _line(self, item: dict[str, Any]) -> str:
        citing = short_case_name(item["citing_case_name"]) or item["document"]
        year = (item["citing_decided"] or "")[:4]
        where = f"{citing}{f' ({year})' if year else ''}, p. {item['page']}"
        part = " (in a dissent)" if item["part"] == "dissent" else ""
        pin = f", pin {item['pin']}" if item["pin"] else ""
        n = self._evidence(item)
        mark = f"[{n}] " if n else ""
        return f"- {mark}{where}: {item['treatment']}{part}{pin}: “{item['sentence'][:300]}”"

    def _evidence(self, item: dict[str, Any]) -> int | None:
        """Register the citing sentence (verbatim on its page) as evidence."""
        if self.ledger is None or not item["sentence"]:
            return None
        page = self.kb.page_text(self.tenant, item["document_id"], item["page"])
        start = page.find(item["sentence"])
        if start < 0:
            return None
        key = f"{item['document_id']}:{item['page']}:{start}"
        chunk = "cite-" + hashlib.sha1(key.encode()).hexdigest()[:27]
        evidence = self.ledger.add_passage(
            chunk_id=chunk, document_id=item["document_id"], document=item["document"],
            page=item["page"], quote=item["sentence"], start=start,
            end=start + len(item["sentence"]), score=1.0,
        )  # fmt: skip
        return evidence.n
