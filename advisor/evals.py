"""``graft eval run`` and ``graft eval compare``: score any combination of base model, adapter and index on a labelled
set, keep the result in the workspace, and compare runs side by side.

It uses the measured-advice machinery — the same prompts with sources, greedy decoding, metrics
and bootstrap intervals — so a score from ``graft eval run`` can be set against the arms of
``graft advise --examples``. Each run is an artifact ``evals/<name>/`` with its per-example
scores (by line), so runs on the same file compare pairwise.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from graftlm.core.embedder import load_embedder
from graftlm.core.errors import InputError
from graftlm.core.lineage import file_sha256
from graftlm.core.loader import load_base
from graftlm.core.settings import Settings
from graftlm.core.stats import bootstrap_ci, paired_difference_ci
from graftlm.core.workspace import Workspace, write_manifest
from graftlm.rag.index import load_index
from graftlm.tuning.adapter import open_adapter
from graftlm.tuning.data import clean_examples
from graftlm.tuning.evaluate import Scoring
from graftlm.tuning.methods import method_of
from graftlm.tuning.raft import render

KIND = "evals"


def run_eval(data: Path, model: str, settings: Settings, workspace: Workspace, *,
             index: str | None = None, fmt=None, fields=None, limit: int | None = None,
             name: str | None = None, judge=None) -> dict:
    """Score ``model`` ('base' or an adapter), with ``index`` if given, on every example of
    ``data`` (or the first ``limit``); save and return the run."""
    if model == "base":
        net, tokenizer, _ = load_base(settings.models, workspace)
        adapter_version = None
    else:
        net, tokenizer, card = open_adapter(model, settings, workspace)

        net = method_of(card).for_inference(net)  # merged: the same answers, base speed
        adapter_version = card.get("created")
    report = clean_examples(Path(data), tokenizer, settings, fmt=fmt, fields=fields)
    examples = report.examples[:limit] if limit else report.examples
    if not examples:
        raise InputError(f"{data} holds no examples to evaluate.")
    prompts, index_version = examples, None
    if index is not None:
        loaded = load_index(index, workspace=workspace, embedder=load_embedder(settings.models),
                            milvus=settings.rag.milvus)
        prompts = render(examples, loaded, settings.rag, tokenizer).examples
        index_version = loaded.manifest.get("created")
    targets = [ex.target for ex in examples]
    # The labels of a label task: every target of the file, also beyond --limit.
    scoring = Scoring.of(tokenizer, examples, labels_from=report.examples[len(examples):],
                         judge=judge)
    scorer = scoring.scorer
    started = time.perf_counter()
    result = scoring.answers(net, tokenizer, prompts)
    per_query = (time.perf_counter() - started) / len(examples)
    scores, answers = result.primary(), result.answers
    low, high = bootstrap_ci(scores)
    stamp = datetime.now(timezone.utc)
    name = name or f"{model}{'-' + index if index else ''}-{stamp:%Y%m%d-%H%M%S}"
    run = {"name": name, "model": model, "index": index, "adapter_created": adapter_version,
           "index_created": index_version, "data": str(Path(data).resolve()),
           "data_sha256": file_sha256(Path(data)), "examples": len(examples),
           "metric": scorer.primary, "metrics": result.means(),
           "judge": judge.describe() if judge else None,
           "score": round(sum(scores) / len(scores), 4), "ci_low": round(low, 4),
           "ci_high": round(high, 4), "seconds_per_query": round(per_query, 4),
           "samples": [{"line": ex.line, "target": t, "answer": a}
                       for ex, t, a in list(zip(examples, targets, answers))[:5]]}
    with workspace.writer(KIND, name, replace=True) as staging:
        (staging / "scores.json").write_text(json.dumps(
            {str(ex.line): s for ex, s in zip(examples, scores)}))
        write_manifest(staging, "eval", run)
    return run


def compare(workspace: Workspace, names: list[str] | None = None) -> list[dict]:
    """Runs side by side; each run on the same data as the first also gets its paired
    difference to the first, with a bootstrap interval over the examples both scored."""
    artifacts = [workspace.get(KIND, n) for n in names] if names else workspace.list(KIND)
    if not artifacts:
        return []
    rows = [dict(a.manifest) for a in artifacts]
    scores = [json.loads((a.path / "scores.json").read_text()) for a in artifacts]
    first = rows[0]
    for row, own in zip(rows, scores):
        row["vs_first"] = None
        if row is first or row["data_sha256"] != first["data_sha256"]:
            continue
        shared = sorted(set(own) & set(scores[0]), key=int)
        if shared:
            a, b = [own[k] for k in shared], [scores[0][k] for k in shared]
            low, high = paired_difference_ci(a, b)
            row["vs_first"] = {"difference": round((sum(a) - sum(b)) / len(a), 4),
                               "ci_low": round(low, 4), "ci_high": round(high, 4),
                               "examples": len(shared)}
    return rows
