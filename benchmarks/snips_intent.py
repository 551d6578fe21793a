"""Skill gain on real data: SNIPS, base model vs a LoRA adapter.

Holds out a dev split of ``--dev-per-intent`` utterances per intent from
``../shared/data/snips/train.jsonl`` (seeded), trains an adapter on ``--train-per-intent`` of the
rest with ``train_adapter``, then scores base and adapter on the whole dev split. Two tasks:
``intent`` (text → intent name, a system prompt naming the seven intents; exact match) and
``slots`` (text → the slots as a JSON object; an answer counts when it parses to exactly the
gold object). Needs the prepared base model (``graft models prepare``).

    python benchmarks/snips_intent.py [--task intent|slots] [--max-steps 220]
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
DATA = HERE.parent.parent / "shared" / "data" / "snips" / "train.jsonl"
SLOTS_SYSTEM = ("Extract the slots of the request as a JSON object mapping slot names to the "
                "exact words, {} when there are none.")
SYSTEM = ("Classify the user's request into one intent: AddToPlaylist, BookRestaurant, "
          "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent. "
          "Answer with the intent only.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-per-intent", type=int, default=100)
    parser.add_argument("--train-per-intent", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=220)
    parser.add_argument("--task", choices=("intent", "slots"), default="intent")
    parser.add_argument("--name", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.name = args.name or f"snips-{args.task}"
    args.out = args.out or HERE / "results" / f"snips_{args.task}.json"

    from graftlm.core.settings import load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.core.loader import load_base
    from graftlm.tuning.pipeline import train_adapter
    from graftlm.tuning.data import Example, FieldMap
    from graftlm.tuning.evaluate import generate_answers
    from graftlm.tuning.metrics import score

    rows = [json.loads(line) for line in DATA.open()]
    random.Random(0).shuffle(rows)
    dev, train, seen = [], [], {}
    for row in rows:
        row["target"] = row["intent"] if args.task == "intent" else json.dumps(
            {s["slot"]: s["value"] for s in row["slots"]}, ensure_ascii=False)
        n = seen.get(row["intent"], 0)
        seen[row["intent"]] = n + 1
        if n < args.dev_per_intent:
            dev.append(row)
        elif n < args.dev_per_intent + args.train_per_intent:
            train.append(row)
    work = Path(tempfile.mkdtemp(prefix="snips-"))
    (work / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (work / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev[::5]))

    loaded = load_settings(overrides={"tuning.max_steps": args.max_steps,
                                      "tuning.eval_every": max(1, args.max_steps // 4)})
    settings, workspace = loaded.settings, Workspace(loaded.settings.home)
    system = SYSTEM if args.task == "intent" else SLOTS_SYSTEM
    fields = FieldMap(target="target", input="text", system=system)
    started = time.perf_counter()
    path, card = train_adapter(work / "train.jsonl", args.name, settings, workspace,
                               eval_file=work / "dev.jsonl", fields=fields, force=True,
                               progress=lambda e: print(json.dumps(
                                   {k: (v.__dict__ if hasattr(v, "__dict__") else v)
                                    for k, v in e.items()}), flush=True) if "eval" in e else None)
    train_seconds = time.perf_counter() - started

    from peft import PeftModel

    base, tokenizer, _ = load_base(settings.models, workspace)
    examples = [Example((("system", system), ("user", r["text"]), ("assistant", r["target"])), i)
                for i, r in enumerate(dev)]
    targets = [r["target"] for r in dev]
    budget = 12 if args.task == "intent" else 64
    base_answers = generate_answers(base, tokenizer, examples, max_new_tokens=budget)
    tuned = PeftModel.from_pretrained(base, path)
    tuned_answers = generate_answers(tuned, tokenizer, examples, max_new_tokens=budget)
    accuracy = (lambda a: score(a, targets, "exact_match")[1]) if args.task == "intent" \
        else (lambda a: sum(_same_json(x, t) for x, t in zip(a, targets)) / len(targets))
    result = {
        "task": args.task, "dev_examples": len(dev), "train_examples": len(train),
        "base_accuracy": round(accuracy(base_answers), 4),
        "adapter_accuracy": round(accuracy(tuned_answers), 4),
        "train_seconds": round(train_seconds, 1), "card_metrics": card["metrics"],
        "training": card["training"], "adapter": str(path),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


def _same_json(answer: str, target: str) -> bool:
    try:
        return json.loads(answer) == json.loads(target)
    except json.JSONDecodeError:
        return False


if __name__ == "__main__":
    main()
