"""Retrieval evaluation: hit@k, recall@k, MRR and nDCG@10 against gold document ids.

Queries come either BEIR-style (``queries.jsonl`` with ``_id`` and ``text``, plus a ``qrels.tsv``
of query-id, corpus-id, score) or as one JSONL file with a question field and a gold-id field
(string or list). Retrieved chunks are collapsed to documents (first occurrence wins) before
scoring, since the gold ids name documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graftlm.core import jsonl
from graftlm.core.errors import DataFormatError
from graftlm.rag.index import Index
from graftlm.rag.retrieve import MODES, search


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    gold: frozenset[str]


def load_queries(path: Path, *, qrels: Path | None = None, query_field: str = "question",
                 gold_field: str = "gold_doc_id", id_field: str = "id") -> list[Query]:
    """Read evaluation queries; every problem names the file and line."""
    rows = _jsonl(path)
    if qrels is not None:
        gold = _qrels(qrels)
        queries = []
        for n, row in rows:
            qid, text = str(row.get("_id", row.get(id_field, ""))), row.get("text")
            if not qid or not isinstance(text, str):
                raise DataFormatError("a BEIR query needs '_id' and 'text'", path=path, line=n)
            if qid in gold:
                queries.append(Query(qid, text, frozenset(gold[qid])))
        if not queries:
            raise DataFormatError(f"no query has relevance judgements in {qrels}", path=path)
        return queries
    queries = []
    for n, row in rows:
        text, golds = row.get(query_field), row.get(gold_field)
        if not isinstance(text, str) or not text.strip():
            raise DataFormatError(f"missing or empty '{query_field}' (choose it with "
                                  "--query-field)", path=path, line=n)
        if golds is None or golds == [] or golds == "":
            raise DataFormatError(f"missing '{gold_field}' (choose it with --gold-field)",
                                  path=path, line=n)
        golds = golds if isinstance(golds, list) else [golds]
        queries.append(Query(str(row.get(id_field, n)), text, frozenset(map(str, golds))))
    if not queries:
        raise DataFormatError("no queries", path=path)
    return queries


def evaluate(index: Index, queries: Sequence[Query], *, modes: Sequence[str] = MODES,
             k: int = 10, rrf_k: int = 10,
             sparse_weight: float = 0.5) -> dict[str, dict[str, float]]:
    """Mean metrics per mode over ``queries``."""
    out = {}
    for mode in modes:
        totals = {f"hit@{k}": 0.0, f"recall@{k}": 0.0, "mrr": 0.0, "ndcg@10": 0.0}
        depth = max(k, 10) * 3
        for query in queries:
            results = search(index, query.text, k=depth, mode=mode, rrf_k=rrf_k,
                             sparse_weight=sparse_weight)
            docs = list(dict.fromkeys(r.chunk.doc_id for r in results))
            for name, value in metrics(docs, query.gold, k).items():
                totals[name] += value
        out[mode] = {name: round(v / len(queries), 4) for name, v in totals.items()}
    return out


def metrics(ranked: Sequence[str], gold: frozenset[str], k: int) -> dict[str, float]:
    """Binary-relevance metrics of one ranked list of document ids."""
    top = ranked[:k]
    hits = [d in gold for d in ranked]
    first = next((i for i, h in enumerate(hits) if h), None)
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), 10)))
    return {
        f"hit@{k}": float(any(d in gold for d in top)),
        f"recall@{k}": len(gold & set(top)) / len(gold),
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "ndcg@10": dcg / ideal if ideal else 0.0,
    }


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFormatError("does not exist", path=path) from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"is not UTF-8 ({exc.reason} at byte {exc.start})",
                              path=path) from None
    rows = []
    for n, row, problem in jsonl.records(text):
        if problem is not None:
            raise DataFormatError(problem, path=path, line=n)
        rows.append((n, row))
    return rows


def _qrels(path: Path) -> dict[str, set[str]]:
    gold: dict[str, set[str]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"cannot be read ({exc})", path=path) from None
    for n, line in enumerate(lines, 1):
        parts = line.split("\t")
        if n == 1 and parts[0].lower() in {"query-id", "query_id", "qid"}:
            continue
        if not line.strip():
            continue
        if len(parts) < 2:
            raise DataFormatError("expected query-id<TAB>corpus-id[<TAB>score]", path=path,
                                  line=n)
        if len(parts) > 2 and parts[2].strip() in {"0", "0.0"}:
            continue
        gold.setdefault(parts[0], set()).add(parts[1])
    return gold
