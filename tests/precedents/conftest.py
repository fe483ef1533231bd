"""Real opinions for the precedent tests: a few CAP Arkansas texts (an
internal citation 0082 -> 0007 and 0032 -> 0006, a dissent in 0006) and the
court PDFs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import COURT

CAP = COURT / "cap-arkansas"
#: Young v. Young (with a dissent); Carter v. Matthews (701 S.W.2d 374);
#: 0082 cites "288 Ark. 37, 701 S.W.2d 374"; 0032 cites Young v. Young.
CAP_IDS = (
    "32044078577194_0006",
    "32044078577194_0007",
    "32044078577194_0082",
    "32044078577194_0032",
)


def cap_gold(case_id: str) -> dict[str, object]:
    """CAP's metadata.jsonl row of a case."""
    for line in (CAP / "metadata.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["id"] == case_id:
            return row
    raise KeyError(case_id)


def cap_text(case_id: str) -> Path:
    return CAP / "text" / f"{case_id}.txt"


@pytest.fixture
def ingested(make_container) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    """``ingested(*paths, tenant="t1")`` -> a container with those files indexed."""

    def factory(*paths: Path, tenant: str = "t1", container: object | None = None) -> object:
        c = container or make_container()
        results = c.pipeline.ingest_paths(list(paths), tenant)  # type: ignore[attr-defined]
        assert all(r.status != "failed" for r in results), [r.error for r in results]
        return c

    return factory
