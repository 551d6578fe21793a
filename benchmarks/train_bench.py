"""graftlm's trainer against a plain transformers ``Trainer`` + peft, same data and steps.

Both train the same LoRA (graftlm's recipe: rank 16, alpha 32, dropout 0.05, all linear
layers, lr 2e-4, float32 on CPU) with the same batch size for the same number of steps, on two
shapes:

* ``snips`` — SNIPS utterances with their slots as JSON: ~60-token examples, about half answer;
* ``raft`` — the shape retrieval-aware training produces: two PubMedQA abstracts as sources
  (the gold one and a distractor, ~600 tokens through graftlm's retrieval prompt) and the
  question, answered by the first words of the paper's conclusion (~20 tokens).

The baseline is what a user would write: ``Trainer`` with ``DataCollatorForSeq2Seq`` padding
each random batch to its longest member and the model's own ``labels=`` loss. Each run is its
own child process, so each peak resident memory (VmHWM, the model load included) is that
run's alone; the parent runs them one after the other and writes the JSON. Reported per shape:
real (non-padding) tokens per second over the training steps, peak memory, and the eval loss
on the same 64 held-out examples afterwards (the same function for both), as graftlm/baseline
ratios. On the snips shape graftlm also runs with packing (``tuning.packing``: rows of 256
tokens, as many rows per step as make about 8 examples), reported against its unpacked run.

    python benchmarks/train_bench.py [--shapes snips raft] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data"
SYSTEM = "Extract the slots of the request as JSON."
HELD_OUT = 64
# Steps and batch size per shape: each side's training takes two to five minutes on a 2-core
# CPU. At batch 8 the raft shape's Trainer run was killed for memory on a 24 GiB machine
# (graftlm's peaked at 20 GiB), so that shape runs at batch 4 on both sides.
STEPS = {"snips": 30, "raft": 8}
BATCH = {"snips": 8, "raft": 4}
MAX_LENGTH = {"snips": 256, "raft": 896}  # raft: graftlm's budget with sources (raft.py)
ANSWER_WORDS = 14
SOURCE_WORDS = 190  # each abstract's first words: two of them make a ~600-token prompt


def snips(n: int):
    from graftlm.tuning.data import Example

    rows = [json.loads(line) for line in (DATA / "snips" / "train.jsonl").open()]
    random.Random(0).shuffle(rows)
    out = []
    for i, r in enumerate(rows[:n]):
        slots = json.dumps({s["slot"]: s["value"] for s in r["slots"]}, ensure_ascii=False)
        out.append(Example((("system", SYSTEM), ("user", r["text"]), ("assistant", slots)), i))
    return out


def raft(n: int):
    """Questions with their gold abstract and a random other one as numbered sources, rendered
    by graftlm's one retrieval prompt; the answer is the conclusion's first words."""
    from graftlm.core.settings import PromptSettings
    from graftlm.rag.prompt import with_sources
    from graftlm.tuning.data import Example

    corpus = {}
    for line in (DATA / "pubmedqa" / "corpus.jsonl").open():
        row = json.loads(line)
        corpus[row["_id"]] = row["text"]
    ids = sorted(corpus)
    rows = [json.loads(line) for line in (DATA / "pubmedqa" / "questions.jsonl").open()]
    rng = random.Random(0)
    rng.shuffle(rows)
    out = []
    for i, r in enumerate(rows[:n]):
        other = rng.choice([d for d in ids if d != r["gold_doc_id"]])
        sources = [" ".join(corpus[d].split()[:SOURCE_WORDS]) for d in (r["gold_doc_id"], other)]
        rng.shuffle(sources)
        block = "\n\n".join(f"[{k}] {text}" for k, text in enumerate(sources, 1))
        messages = with_sources([{"role": "user", "content": r["question"]}], block,
                                PromptSettings())
        answer = " ".join(r["long_answer"].split()[:ANSWER_WORDS])
        out.append(Example((*((m["role"], m["content"]) for m in messages),
                            ("assistant", answer)), i))
    return out


def lora(model):
    """The same LoRA for both sides: graftlm's recipe at the default settings."""
    from graftlm.core.settings import TuningSettings
    from graftlm.tuning.methods import prepare

    return prepare(model, TuningSettings())[0]


def peak_rss_mib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return 0


def run_side(side: str, shape: str, steps: int) -> dict:
    """One side's training run in this (child) process."""
    import torch

    from graftlm.core.loader import load_base
    from graftlm.core.settings import TuningSettings, load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import IGNORE, encode
    from graftlm.tuning.loss import eval_loss
    from graftlm.tuning.train import train

    settings = load_settings().settings
    data = (snips if shape == "snips" else raft)(steps * BATCH[shape] + HELD_OUT)
    train_set, held = data[:-HELD_OUT], data[-HELD_OUT:]
    model, tokenizer, _ = load_base(settings.models, Workspace(settings.home), for_training=True)
    enc_held = [encode(ex, tokenizer, MAX_LENGTH[shape]) for ex in held]
    torch.manual_seed(0)
    if side.startswith("graftlm"):
        last = {}
        packing = side == "graftlm-packed"
        rows = BATCH[shape]
        if packing:  # rows of max_length tokens: about as many examples per step as unpacked
            mean = sum(len(encode(ex, tokenizer, MAX_LENGTH[shape]).input_ids)
                       for ex in train_set) / len(train_set)
            rows = max(1, round(BATCH[shape] * mean / MAX_LENGTH[shape]))
        tuning = TuningSettings(max_steps=steps, eval_every=10**9, batch_size=rows,
                                max_length=MAX_LENGTH[shape], packing=packing)
        result = train(lora(model), tokenizer, train_set, [], tuning,
                       progress=lambda e: last.update(e) if "loss" in e else None)
        trained, tokens, seconds = result.model, result.train_tokens, last["seconds"]
    else:
        trained, tokens, seconds = _trainer(lora(model), tokenizer, train_set, steps,
                                            BATCH[shape], MAX_LENGTH[shape])
    peak = peak_rss_mib()
    loss = eval_loss(trained, enc_held, tokenizer.pad_token_id, 8)
    lengths = sorted(len(e.input_ids) for e in enc_held)
    answers = sorted(sum(label != IGNORE for label in e.labels) for e in enc_held)
    return {"median_tokens": lengths[len(lengths) // 2],
            "median_answer_tokens": answers[len(answers) // 2], "batch": BATCH[shape],
            "steps": steps,
            "tokens": tokens, "train_seconds": round(seconds, 1),
            "tokens_per_s": round(tokens / seconds, 1), "peak_rss_mib": peak,
            "eval_loss": round(loss, 4)}


def _trainer(model, tokenizer, train_set, steps: int, batch: int, max_length: int):
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from graftlm.tuning.data import encode

    encoded = [encode(ex, tokenizer, max_length) for ex in train_set]
    dataset = [{"input_ids": e.input_ids, "labels": e.labels,
                "attention_mask": [1] * len(e.input_ids)} for e in encoded]
    pad = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
    counted = {"tokens": 0}

    def collate(features):
        batch = pad(features)
        counted["tokens"] += int(batch["attention_mask"].sum())
        return batch

    trainer = Trainer(
        model=model,
        args=TrainingArguments(output_dir=str(HERE / "results" / ".trainer-tmp"),
                               per_device_train_batch_size=batch, max_steps=steps,
                               learning_rate=2e-4, warmup_steps=max(1, int(0.05 * steps)),
                               lr_scheduler_type="linear",
                               logging_strategy="no", save_strategy="no", report_to=[],
                               use_cpu=True, seed=0, dataloader_num_workers=0),
        train_dataset=dataset, data_collator=collate)
    started = time.perf_counter()
    trainer.train()
    return model, counted["tokens"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", choices=sorted(STEPS), default=["snips", "raft"])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "train_bench.json")
    parser.add_argument("--side", choices=["graftlm", "graftlm-packed", "trainer"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:  # a child: one run, its figures as the last line
        print(json.dumps(run_side(args.side, args.shapes[0], args.steps)), flush=True)
        return

    out = {"machine": f"{os.cpu_count()} CPUs, float32", "shapes": {}}
    for shape in args.shapes:
        runs = {}
        # packing only changes rows of short examples: the raft shape fills a row with one
        sides = ("graftlm", "graftlm-packed", "trainer") if shape == "snips" else \
            ("graftlm", "trainer")
        for side in sides:
            child = subprocess.run(
                [sys.executable, __file__, "--side", side, "--shapes", shape,
                 "--steps", str(STEPS[shape])], capture_output=True, text=True)
            if child.returncode:
                sys.exit(f"{side} on {shape} failed:\n{child.stderr[-3000:]}")
            runs[side] = json.loads(child.stdout.strip().splitlines()[-1])
            print(shape, side, json.dumps(runs[side]), flush=True)
        ours, base = runs["graftlm"], runs["trainer"]
        out["shapes"][shape] = {
            "graftlm": ours, "baseline_trainer": base,
            **({"graftlm_packed": runs["graftlm-packed"], "packed_over_unpacked_tokens_per_s":
                round(runs["graftlm-packed"]["tokens_per_s"] / ours["tokens_per_s"], 3)}
               if "graftlm-packed" in runs else {}),
            "ratios_graftlm_over_baseline": {
                key: round(ours[key] / base[key], 3)
                for key in ("tokens_per_s", "peak_rss_mib", "eval_loss")}}
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
