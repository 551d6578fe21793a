"""Which retrieval prompt the embedded model answers best from: placement, k and instruction.

On SQuAD questions about one article (``../shared/data/squad_notredame``), the untuned base
model answers greedily from the sources that :func:`rag.prompt.augment` puts in its prompt, for
each prompt shape side by side in one run; the answers are scored by the project's scorer
(SQuAD F1, exact match, answer contained) with bootstrap intervals, and closed-book answers are
the baseline. The default ``rag.prompt`` settings come from this table.

    python benchmarks/prompt_shapes.py [--questions 100] [--out benchmarks/results/prompt_shapes.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data" / "squad_notredame"
SYSTEM = "Answer the question about the University of Notre Dame with a short phrase."
BRIEF = ("Answer the question using the numbered sources, as briefly as the question allows and "
         "in words from the sources. If they do not hold the answer, say you do not know.")
CITE = ("Answer using the numbered sources below and cite the ones you use like [1]. If the "
        "sources do not contain the answer, say that you do not know.")
COPY = "Answer with a short phrase copied from the sources."
SHAPES = {  # name: rag.prompt settings (None: closed book)
    "closed book": None,
    "system, k=3, cite": {"placement": "system", "k": 3, "instruction": CITE},
    "user, k=1, copy": {"placement": "user", "k": 1, "instruction": COPY},
    "user, k=3, copy": {"placement": "user", "k": 3, "instruction": COPY},
    "user, k=3, brief": {"placement": "user", "k": 3, "instruction": BRIEF},
    "user, k=5, brief": {"placement": "user", "k": 5, "instruction": BRIEF},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "prompt_shapes.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is not here; this benchmark needs the shared data.")

    from graftlm.core.stats import bootstrap_ci
    from graftlm.core.embedder import load_embedder
    from graftlm.core.loader import load_base
    from graftlm.core.settings import load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.index import build_index, load_index
    from graftlm.tuning.data import Example
    from graftlm.tuning.evaluate import evaluate_answers
    from graftlm.tuning.metrics import Scorer
    from graftlm.tuning.raft import render

    settings = load_settings().settings
    rows = [json.loads(line) for line in (DATA / "questions.jsonl").open()]
    random.Random(args.seed).shuffle(rows)
    examples = [Example((("system", SYSTEM), ("user", r["question"]),
                         ("assistant", r["answers"][0])), i, references=tuple(r["answers"]),
                        gold=r["gold_doc_id"]) for i, r in enumerate(rows[:args.questions])]
    model, tokenizer, _ = load_base(settings.models, Workspace(settings.home))
    embedder = load_embedder(settings.models)
    scorer = Scorer("short")
    table = {}
    with tempfile.TemporaryDirectory() as scratch:
        docs = Path(scratch) / "docs"
        docs.mkdir()
        with open(docs / "paragraphs.jsonl", "w") as out:
            for line in (DATA / "corpus.jsonl").open():
                doc = json.loads(line)
                out.write(json.dumps({"id": doc["_id"], "text": doc["text"]}) + "\n")
        workspace = Workspace(Path(scratch) / "home")
        rag = settings.rag.model_copy(update={"id_field": "id"})
        build_index(docs, "squad", workspace=workspace, settings=rag, embedder=embedder)
        index = load_index("squad", workspace=workspace, embedder=embedder)
        for name, shape in SHAPES.items():
            prompts = examples
            if shape is not None:
                shaped = rag.model_copy(update={"prompt": rag.prompt.model_copy(update=shape)})
                prompts = render(examples, index, shaped, tokenizer).examples
            started = time.perf_counter()
            result = evaluate_answers(model, tokenizer, prompts, scorer, max_new_tokens=24)
            seconds = (time.perf_counter() - started) / len(prompts)
            row = {"settings": shape, "seconds_per_query": round(seconds, 3)}
            for metric in scorer.metrics:
                values = [s[metric] for s in result.scores]
                low, high = bootstrap_ci(values)
                row[metric] = {"mean": round(sum(values) / len(values), 4),
                               "ci": [round(low, 4), round(high, 4)]}
            row["samples"] = [{"question": ex.question, "answer": a, "reference": ex.target}
                              for ex, a in list(zip(examples, result.answers))[:3]]
            table[name] = row
            print(f"{name:22} F1 {row['f1']['mean'] * 100:5.1f}  EM "
                  f"{row['exact_match']['mean'] * 100:5.1f}  contains "
                  f"{row['contains']['mean'] * 100:5.1f}  {seconds:.2f} s/q", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"questions": len(examples), "model": "SmolLM2-135M-Instruct",
                                    "shapes": table}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
