"""Skill gain on real data: SNIPS intent classification, base model vs a LoRA adapter.

Holds out a dev split of ``--dev-per-intent`` utterances per intent from
``../shared/data/snips/train.jsonl`` (seeded), trains an adapter on ``--train-per-intent`` of the
rest with ``train_adapter`` (text → intent, a system prompt naming the seven intents), then
scores base and adapter by exact match on the whole dev split. Needs the prepared base model
(``graft models prepare``).

    python benchmarks/snips_intent.py [--train-per-intent 300] [--max-steps 220]
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
SYSTEM = ("Classify the user's request into one intent: AddToPlaylist, BookRestaurant, "
          "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent. "
          "Answer with the intent only.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-per-intent", type=int, default=100)
    parser.add_argument("--train-per-intent", type=int, default=300)
    parser.add_argument("--max-steps", type=int, default=220)
    parser.add_argument("--name", default="snips-intent")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "snips_intent.json")
    args = parser.parse_args()

    from graftlm.settings import load_settings
    from graftlm.workspace import Workspace
    from tuning.adapter import load_base, train_adapter
    from tuning.data import Example, FieldMap
    from tuning.evaluate import generate_answers, score

    rows = [json.loads(line) for line in DATA.open()]
    random.Random(0).shuffle(rows)
    dev, train, seen = [], [], {}
    for row in rows:
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
    fields = FieldMap(target="intent", input="text", system=SYSTEM)
    started = time.perf_counter()
    path, card = train_adapter(work / "train.jsonl", args.name, settings, workspace,
                               eval_file=work / "dev.jsonl", fields=fields, force=True,
                               progress=lambda e: print(json.dumps(
                                   {k: (v.__dict__ if hasattr(v, "__dict__") else v)
                                    for k, v in e.items()}), flush=True) if "eval" in e else None)
    train_seconds = time.perf_counter() - started

    from peft import PeftModel

    base, tokenizer, _ = load_base(settings, workspace, for_training=False)
    examples = [Example((("system", SYSTEM), ("user", r["text"]), ("assistant", r["intent"])), i)
                for i, r in enumerate(dev)]
    targets = [r["intent"] for r in dev]
    base_answers = generate_answers(base, tokenizer, examples, max_new_tokens=12)
    tuned = PeftModel.from_pretrained(base, path)
    tuned_answers = generate_answers(tuned, tokenizer, examples, max_new_tokens=12)
    result = {
        "dev_examples": len(dev), "train_examples": len(train),
        "base_accuracy": round(score(base_answers, targets, "exact_match")[1], 4),
        "adapter_accuracy": round(score(tuned_answers, targets, "exact_match")[1], 4),
        "train_seconds": round(train_seconds, 1), "card_metrics": card["metrics"],
        "training": card["training"], "adapter": str(path),
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
