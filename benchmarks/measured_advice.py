"""Measured advice on real data: a skill task (SNIPS intents) and two knowledge tasks (PubMedQA
yes/no/maybe, SQuAD short answers about the University of Notre Dame).

Writes a labelled sample of ``../shared/data`` into a scratch folder (never into the repo),
runs ``graft advise --measure --examples … --budget …`` on it — with the abstracts or paragraphs as
``--docs`` for the knowledge tasks — and keeps the advice JSON and the HTML report under ``--out``.

    python benchmarks/measured_advice.py --task snips    [--per-label 43] [--budget 15m]
    python benchmarks/measured_advice.py --task pubmedqa [--questions 300] [--budget 15m]
    python benchmarks/measured_advice.py --task squad    [--questions 269] [--budget 15m]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data"
SNIPS_SYSTEM = ("Classify the request into one intent: AddToPlaylist, BookRestaurant, "
                "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent. "
                "Answer with the intent only.")
PUBMED_SYSTEM = "Answer the biomedical research question with yes, no or maybe only."
SQUAD_SYSTEM = "Answer the question about the University of Notre Dame with a short phrase."
DESCRIPTIONS = {
    "snips": "Classify each voice-assistant request into one of our 7 intents; we have a few "
             "hundred labelled requests.",
    "pubmedqa": "Answer yes/no/maybe research questions about biomedical studies, using the "
                "abstracts of the papers; we have a few hundred questions with answers.",
    "squad": "Answer visitors' questions about the University of Notre Dame with short facts "
             "from our collection of articles about it; we have a few hundred questions with "
             "answers.",
}


def snips_sample(folder: Path, per_label: int, seed: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "snips" / "train.jsonl").open()]
    random.Random(seed).shuffle(rows)
    taken: dict[str, int] = {}
    with open(folder / "snips.jsonl", "w") as out:
        for row in rows:
            if taken.get(row["intent"], 0) < per_label:
                taken[row["intent"]] = taken.get(row["intent"], 0) + 1
                out.write(json.dumps({"text": row["text"], "intent": row["intent"]}) + "\n")
    return ["--examples", str(folder / "snips.jsonl"), "--input-field", "text",
            "--target-field", "intent", "--system", SNIPS_SYSTEM]


def pubmedqa_sample(folder: Path, questions: int, seed: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "pubmedqa" / "questions.jsonl").open()]
    random.Random(seed).shuffle(rows)
    with open(folder / "pubmedqa.jsonl", "w") as out:
        for row in rows[:questions]:
            out.write(json.dumps({"question": row["question"], "answer": row["final_decision"],
                                  "gold_doc": row["gold_doc_id"]}) + "\n")
    docs = folder / "abstracts"
    docs.mkdir()
    with open(docs / "abstracts.jsonl", "w") as out:
        for line in (DATA / "pubmedqa" / "corpus.jsonl").open():
            doc = json.loads(line)
            out.write(json.dumps({"id": doc["_id"], "text": doc["text"]}) + "\n")
    return ["--examples", str(folder / "pubmedqa.jsonl"), "--input-field", "question",
            "--target-field", "answer", "--system", PUBMED_SYSTEM, "--docs", str(docs)]


def squad_sample(folder: Path, questions: int, seed: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "squad_notredame" / "questions.jsonl").open()]
    random.Random(seed).shuffle(rows)
    with open(folder / "squad.jsonl", "w") as out:
        for row in rows[:questions]:
            out.write(json.dumps({"question": row["question"], "answer": row["answers"][0],
                                  "answers": row["answers"], "gold_doc": row["gold_doc_id"]})
                      + "\n")
    docs = folder / "paragraphs"
    docs.mkdir()
    with open(docs / "paragraphs.jsonl", "w") as out:
        for line in (DATA / "squad_notredame" / "corpus.jsonl").open():
            doc = json.loads(line)
            out.write(json.dumps({"id": doc["_id"], "text": doc["text"]}) + "\n")
    return ["--examples", str(folder / "squad.jsonl"), "--input-field", "question",
            "--target-field", "answer", "--system", SQUAD_SYSTEM, "--docs", str(docs)]


SAMPLES = {"snips": lambda folder, args: snips_sample(folder, args.per_label, args.seed),
           "pubmedqa": lambda folder, args: pubmedqa_sample(folder, args.questions or 300,
                                                            args.seed),
           "squad": lambda folder, args: squad_sample(folder, args.questions or 269, args.seed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(SAMPLES), required=True)
    parser.add_argument("--per-label", type=int, default=43, help="SNIPS examples per intent")
    parser.add_argument("--questions", type=int, default=None,
                        help="PubMedQA (default 300) or SQuAD (default all 269) questions")
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not here; this benchmark needs the shared data.")
    with tempfile.TemporaryDirectory(prefix="graft-measured-") as scratch:
        folder = Path(scratch)
        options = SAMPLES[args.task](folder, args)
        report = args.out / f"measured_{args.task}"
        command = [sys.executable, "-m", "graftlm.cli", "advise", DESCRIPTIONS[args.task],
                   "--measure", *options, "--budget", args.budget, "--report", str(report)]
        # Documents are JSONL records; their ids name each chunk's document (the gold_doc).
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRAFT_RAG__ID_FIELD": "id"}
        subprocess.run(command, check=True, env=env)
    print(f"report: {report / 'report.html'}")


if __name__ == "__main__":
    main()
