"""Train the clause model shipped in ``tools/clauses/clause_model.npz``.

Reproducible: fixed seed, contracts in sorted order, CUAD labels from
``../shared/data/cuad-dev`` (CC BY 4.0, see ``tools/clauses/ATTRIBUTION.md``).
Chunk embeddings are cached under ``.cache/clauses/`` so re-training is fast.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python scripts/train_clauses.py
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaluation.clauses import default_embedder, prepare_contracts  # noqa: E402
from tools.clauses.corpus import make_chunker  # noqa: E402
from tools.clauses.model import DEFAULT_MODEL_FILE  # noqa: E402
from tools.clauses.taxonomy import category_names  # noqa: E402
from tools.clauses.training import fit_clause_model  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = ROOT / ".." / "shared" / "data" / "cuad-dev"
    parser.add_argument("--labels", type=Path, default=data / "clause_spans.jsonl")
    parser.add_argument("--corpus", type=Path, default=data)
    parser.add_argument("--source", choices=["txt", "pdf"], default="txt")
    parser.add_argument("--out", type=Path, default=ROOT / "tools" / "clauses" / DEFAULT_MODEL_FILE)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--C", type=float, default=4.0, dest="c")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--files-from", type=Path, default=None, help="train on the txt names listed in this file"
    )
    parser.add_argument(
        "--cached-only", action="store_true", help="train on contracts already embedded in .cache"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    t0 = time.perf_counter()
    chunker = make_chunker()
    contracts = prepare_contracts(
        args.labels,
        args.corpus,
        source=args.source,
        embedder=default_embedder(),
        chunker=chunker,
        cache_dir=ROOT / ".cache" / "clauses" / args.source,
        limit=args.limit,
        only_cached=args.cached_only,
        files=args.files_from.read_text(encoding="utf-8").splitlines() if args.files_from else None,
    )
    t1 = time.perf_counter()
    categories = category_names()
    units = [c.training_unit(categories) for c in contracts]
    model = fit_clause_model(
        units,
        categories,
        embedding_dim=384,
        seed=args.seed,
        folds=args.folds,
        c=args.c,
        metadata={
            "trained_on": f"CUAD v1 dev split ({len(contracts)} contracts, {args.source})",
            "chunker": type(chunker).__module__ + "." + type(chunker).__name__,
            "chunks": int(sum(len(c.chunks) for c in contracts)),
            "license": "trained from CUAD v1 labels, CC BY 4.0 (The Atticus Project)",
        },
    )
    model.save(args.out)
    print(
        json.dumps(
            {
                "out": str(args.out),
                "contracts": len(contracts),
                "chunks": model.metadata["chunks"],
                "prepare_s": round(t1 - t0, 1),
                "fit_s": round(time.perf_counter() - t1, 1),
                "oof": model.metadata["oof"],
                "cv_span_f1": model.metadata["cv_span_f1"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
