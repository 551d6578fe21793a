"""graftlm's trainer against a plain transformers ``Trainer`` + peft, same data and steps.

Both train the same LoRA (rank 16, all linear layers, lr 2e-4, batch 8, float32 on CPU) on the
same SNIPS utterances for the same number of steps, one after the other in one process. The
baseline is what a user would write: ``Trainer`` with ``DataCollatorForSeq2Seq`` padding each
random batch to its longest member. Reported: real (non-padding) tokens per second, wall time of
the training steps, peak resident memory during each run (sampled), and eval loss on the same
held-out examples afterwards, as graftlm/baseline ratios.

    python benchmarks/train_bench.py [--steps 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data" / "snips" / "train.jsonl"
SYSTEM = "Extract the slots of the request as JSON."


class PeakRSS:
    """Samples this process's resident memory every 50 ms while active."""

    def __enter__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
            time.sleep(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def examples(n: int):
    from tuning.data import Example

    rows = [json.loads(line) for line in DATA.open()]
    random.Random(0).shuffle(rows)
    out = []
    for i, r in enumerate(rows[:n]):
        slots = json.dumps({s["slot"]: s["value"] for s in r["slots"]}, ensure_ascii=False)
        out.append(Example((("system", SYSTEM), ("user", r["text"]), ("assistant", slots)), i))
    return out


def lora(model):
    """The same LoRA for both sides: graftlm's recipe at the default settings (r 16, alpha 32)."""
    from graftlm.settings import TuningSettings
    from tuning.lora import with_lora

    return with_lora(model, TuningSettings())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "train_bench.json")
    args = parser.parse_args()

    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from graftlm.settings import TuningSettings, load_settings
    from graftlm.workspace import Workspace
    from graftlm.loader import load_base
    from tuning.data import encode
    from tuning.train import eval_loss, train

    settings = load_settings().settings
    workspace = Workspace(settings.home)
    data = examples(args.steps * 8 + 64)
    train_set, held = data[:-64], data[-64:]

    model, tokenizer, _ = load_base(settings.models, workspace, for_training=True)
    pad = tokenizer.pad_token_id
    enc_held = [encode(ex, tokenizer, 256) for ex in held]
    tuning = TuningSettings(max_steps=args.steps, eval_every=10**9, batch_size=8, eval_max=8)
    last = {}
    torch.manual_seed(0)
    with PeakRSS() as ours_mem:
        result = train(lora(model), tokenizer, train_set, held[:8], tuning,
                       progress=lambda e: last.update(e) if "loss" in e else None)
    ours_seconds = last["seconds"]
    ours_loss = eval_loss(result.model, enc_held, pad, 8)
    ours = {"steps": result.steps, "tokens": result.train_tokens,
            "train_seconds": round(ours_seconds, 1),
            "tokens_per_s": round(result.train_tokens / ours_seconds, 1),
            "peak_rss_mib": round(ours_mem.peak / 2**20), "eval_loss": round(ours_loss, 4)}
    print("graftlm:", json.dumps(ours), flush=True)

    model, tokenizer, _ = load_base(settings.models, workspace, for_training=True)
    torch.manual_seed(0)
    peft_model = lora(model)
    encoded = [encode(ex, tokenizer, 256) for ex in train_set]
    dataset = [{"input_ids": e.input_ids, "labels": e.labels,
                "attention_mask": [1] * len(e.input_ids)} for e in encoded]
    mean_tokens = sum(len(e.input_ids) for e in encoded) / len(encoded)
    trainer = Trainer(
        model=peft_model,
        args=TrainingArguments(output_dir=str(HERE / "results" / ".trainer-tmp"),
                               per_device_train_batch_size=8, max_steps=args.steps,
                               learning_rate=2e-4, warmup_steps=max(1, int(0.05 * args.steps)),
                               lr_scheduler_type="linear",
                               logging_strategy="no", save_strategy="no", report_to=[],
                               use_cpu=True, seed=0, dataloader_num_workers=0),
        train_dataset=dataset,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    with PeakRSS() as base_mem:
        metrics = trainer.train().metrics
    base_seconds = metrics["train_runtime"]
    base_tokens = mean_tokens * 8 * args.steps  # expected real tokens of random batches
    base_loss = eval_loss(peft_model, enc_held, pad, 8)
    base = {"steps": args.steps, "tokens": round(base_tokens),
            "train_seconds": round(base_seconds, 1),
            "tokens_per_s": round(base_tokens / base_seconds, 1),
            "peak_rss_mib": round(base_mem.peak / 2**20), "eval_loss": round(base_loss, 4)}
    out = {"data": "SNIPS slots as JSON", "graftlm": ours, "baseline_trainer": base,
           "ratios_graftlm_over_baseline": {
               "tokens_per_s": round(ours["tokens_per_s"] / base["tokens_per_s"], 3),
               "train_seconds": round(ours["train_seconds"] / base["train_seconds"], 3),
               "eval_loss": round(ours["eval_loss"] / base["eval_loss"], 3)}}
    print(json.dumps(out, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
