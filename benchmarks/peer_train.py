"""``graft train`` against LLaMA-Factory: the same LoRA on the same SNIPS file, in one run.

The tool a user would pick instead is LLaMA-Factory (``llamafactory-cli train``). Its pins
differ from graftlm's (peft, transformers), so the benchmark installs it from PyPI into an
environment of its own (``.cache/peer/llamafactory``: the CPU torch wheel first, then
``llamafactory==VERSION``). On a machine without an accelerator it trains on the CPU in fp32,
which its maintainers do not support: if it cannot train here, the benchmark records its error
and the plain-``Trainer`` baseline of ``benchmarks/train_bench.py`` remains the comparison.

Both sides: the embedded SmolLM2-135M-Instruct, LoRA rank 16, alpha 32, dropout 0.05 on every
linear layer of the blocks, learning rate ``--lr`` with 5% linear warm-up then linear decay,
batch 8, ``--epochs`` over the same SNIPS intent file (the split of
``benchmarks/peft_methods.py``: text → intent under a system prompt naming the seven intents),
prompt tokens masked, SmolLM2's ChatML template (LLaMA-Factory's ``smollm2``). Each trains in a
child process (peak resident memory from ``/usr/bin/time``). Reported for each: wall time, the
training loop's seconds and tokens per second (the same token count — the train file's tokens
through graftlm's tokenizer, times the epochs — over each tool's own training-loop time), peak
memory, and held-out choice accuracy and exact match of the saved adapter, both scored here by
the same function (:func:`tuning.evaluate.evaluate_answers`) on the same dev split.

    python benchmarks/peer_train.py [--epochs 1] [--train-per-intent 40]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from peft_methods import SYSTEM, graft, split  # noqa: E402

VERSION = "0.9.5"
VENV = ROOT / ".cache" / "peer" / "llamafactory"


def ensure_llamafactory() -> Path | str:
    """The ``llamafactory-cli`` of the benchmark's own environment, or why it is not there."""
    cli = VENV / "bin" / "llamafactory-cli"
    if cli.exists():
        return cli
    # torch held at the CPU wheel graftlm uses: left free, llamafactory's torchvision and
    # torchaudio would pull the newest torch, a CUDA build of several GB.
    VENV.mkdir(parents=True, exist_ok=True)
    (VENV.parent / "constraints.txt").write_text("torch==2.13.0\n")
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c",
           str(VENV.parent / "constraints.txt")]
    # The torchvision wheel it resolves is built for another torch and breaks importing
    # transformers ("operator torchvision::nms does not exist"); text training does not need
    # it. torchaudio stays: llamafactory imports it unconditionally (data/mm_plugin.py).
    for step in ([sys.executable, "-m", "venv", str(VENV)],
                 [*pip, "torch==2.13.0"],
                 [*pip, f"llamafactory=={VERSION}"],
                 [str(VENV / "bin" / "python"), "-m", "pip", "uninstall", "--quiet", "--yes",
                  "torchvision"]):
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            return f"{' '.join(step[-2:])} failed: {done.stderr[-1500:]}"
    return cli


def peak_of(report: Path) -> float:
    return round(int(report.read_text().split()[-1]) / 1024, 1)


def run_llamafactory(cli: Path, work: Path, base: Path, train: list[dict], args) -> dict:
    data = work / "lf-data"
    data.mkdir()
    (data / "snips.json").write_text(json.dumps(
        [{"instruction": r["text"], "output": r["intent"], "system": SYSTEM} for r in train]))
    (data / "dataset_info.json").write_text(json.dumps({"snips": {
        "file_name": "snips.json",
        "columns": {"prompt": "instruction", "response": "output", "system": "system"}}}))
    out = work / "lf-out"
    config = {
        "model_name_or_path": str(base), "trust_remote_code": False, "stage": "sft",
        "do_train": True, "finetuning_type": "lora", "lora_rank": 16, "lora_alpha": 32,
        "lora_dropout": 0.05, "lora_target": "all", "dataset": "snips",
        "dataset_dir": str(data), "template": "smollm2", "cutoff_len": 256,
        "overwrite_cache": True, "preprocessing_num_workers": 1, "output_dir": str(out),
        "logging_steps": 5, "save_strategy": "no", "overwrite_output_dir": True,
        "report_to": "none", "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1, "learning_rate": args.lr,
        "num_train_epochs": args.epochs, "lr_scheduler_type": "linear", "warmup_ratio": 0.05,
        "bf16": False, "fp16": False, "seed": 0}
    (work / "lf.json").write_text(json.dumps(config, indent=1))
    peak_file = work / "lf-peak"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DISABLE_VERSION_CHECK": "1",
           "CUDA_VISIBLE_DEVICES": "", "WANDB_DISABLED": "true"}
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(peak_file), str(cli), "train",
                           str(work / "lf.json")], capture_output=True, text=True, env=env,
                          cwd=work)
    wall = time.perf_counter() - started
    (work / "lf.log").write_text(done.stdout + done.stderr)
    results = out / "train_results.json"
    if done.returncode != 0 or not (out / "adapter_model.safetensors").exists():
        return {"ok": False, "wall_seconds": round(wall, 1),
                "error": (done.stderr or done.stdout)[-2000:]}
    metrics = json.loads(results.read_text()) if results.exists() else {}
    return {"ok": True, "adapter": str(out), "wall_seconds": round(wall, 1),
            "training_seconds": metrics.get("train_runtime"), "peak_memory_mib": peak_of(
                peak_file), "train_loss": metrics.get("train_loss")}


def score(base: Path, adapter: str, dev_file: Path) -> dict:
    """Choice accuracy and exact match of ``adapter`` on the dev split, graftlm's scorers."""
    import torch
    from peft import PeftModel

    from graftlm.core.loader import load_pretrained
    from graftlm.core.settings import Settings
    from graftlm.tuning.data import FieldMap, check_data
    from graftlm.tuning.evaluate import answer_budget, evaluate_answers
    from graftlm.tuning.metrics import Scorer

    model, tokenizer = load_pretrained(base)
    model = PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()
    report = check_data(dev_file, tokenizer, Settings(),
                        fields=FieldMap(target="intent", input="text", system=SYSTEM))
    examples = report.examples
    scorer = Scorer.for_targets([ex.target for ex in examples])
    with torch.no_grad():
        result = evaluate_answers(model, tokenizer, examples, scorer,
                                  max_new_tokens=answer_budget(tokenizer, [ex.target for ex
                                                                           in examples]))
    return {name: round(value, 4) for name, value in result.means().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-per-intent", type=int, default=40)
    parser.add_argument("--dev-per-intent", type=int, default=15)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "peer_train.json")
    args = parser.parse_args()

    from graftlm.core.models import base_model_dir
    from graftlm.core.settings import Settings
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap, check_data

    shared = Path(os.environ.get("GRAFT_HOME", ROOT / ".cache" / "graft-home"))
    graft(shared, "models", "prepare")
    base = base_model_dir(Settings(home=shared).models, Workspace(shared), prepare=False)
    work = Path(tempfile.mkdtemp(prefix="peer-train-"))
    (work / "models").symlink_to(shared / "models")
    train, dev = split(args.train_per_intent, args.dev_per_intent)
    (work / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (work / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev))
    from transformers import AutoTokenizer

    counted = check_data(work / "train.jsonl", AutoTokenizer.from_pretrained(base), Settings(),
                         fields=FieldMap(target="intent", input="text", system=SYSTEM))
    tokens = counted.tokens * args.epochs
    result: dict = {"train_examples": len(train), "dev_examples": len(dev),
                    "epochs": args.epochs, "learning_rate": args.lr, "tokens": tokens,
                    "cores": os.cpu_count(), "llamafactory": VERSION}

    started = time.perf_counter()
    done, peak = graft(work, "train", str(work / "train.jsonl"), "--name", "peer", "--method",
                       "lora", "--rank", "16", "--lr", str(args.lr), "--epochs", str(args.epochs),
                       "--batch-size", "8", "--input-field", "text", "--target-field", "intent",
                       "--system", SYSTEM, "--eval-file", str(work / "dev.jsonl"), "--json",
                       timed=True)
    card = json.loads(done.stdout)
    seconds = card["training"]["seconds"]
    result["graft"] = {"wall_seconds": round(time.perf_counter() - started, 1),
                       "training_seconds": seconds,
                       "tokens_per_second": round(tokens / seconds, 1),
                       "peak_memory_mib": peak,
                       **score(base, str(work / "adapters" / "peer"), work / "dev.jsonl")}
    print(json.dumps({"graft": result["graft"]}), flush=True)

    cli = ensure_llamafactory()
    if isinstance(cli, str):
        result["llamafactory"] = {"ok": False, "error": cli}
    else:
        peer = run_llamafactory(cli, work, base, train, args)
        if peer["ok"]:
            peer["tokens_per_second"] = round(tokens / peer["training_seconds"], 1)
            peer.update(score(base, peer["adapter"], work / "dev.jsonl"))
        result["llamafactory"] = peer
    print(json.dumps({"llamafactory": result["llamafactory"]}), flush=True)
    if result["llamafactory"].get("ok"):
        lf, g = result["llamafactory"], result["graft"]
        result["ratios"] = {
            "tokens_per_second_graft_over_llamafactory": round(
                g["tokens_per_second"] / lf["tokens_per_second"], 2),
            "peak_memory_graft_over_llamafactory": round(
                g["peak_memory_mib"] / lf["peak_memory_mib"], 2)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
