"""Every PEFT method on SNIPS intents, then ``--auto`` against the grid of them.

From ``../shared/data/snips/train.jsonl`` (seeded): ``--train-per-intent`` utterances per
intent to train on and ``--dev-per-intent`` to score on (text → intent name under a system
prompt naming the seven intents). Each method of ``--methods`` trains with the real
``graft train --method M`` in a child process (so its peak resident memory is its own; taken
by ``/usr/bin/time``) for ``--epochs`` at batch 8: the LoRA family at
``advisor.measure_learning_rate`` (1e-3: the short-run rate measured advice uses), the other
methods at their own default rate. Reported per method: choice accuracy and generated exact
match on the dev split (the card's, scored by ``graft eval``'s scorers), trainable parameters,
training seconds and tokens per second, peak memory, and the served latency — the median of
``--requests`` greedy requests (8 tokens) through one ``graft serve --engine local`` gateway
holding every method.

The manual grid is every method at each of ``--rate-factors`` times that rate (1 and 3: with
one short epoch, the direction a user tries next); the table is the first factor's row.
``--reuse`` keeps the rows an earlier run of the same split already wrote to ``--out``.

Then ``graft train --auto`` searches the same methods on the same train file (its validation
split carved from it) with a budget of a third of the grid's summed wall time, less the time
its final training will take (the grid's median); its published adapter is scored on the same
dev split. The result says whether it landed within one point of the grid's best, and what it
spent against the grid.

    python benchmarks/peft_methods.py [--train-per-intent 40] [--dev-per-intent 20] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = ROOT.parent / "shared" / "data" / "snips" / "train.jsonl"
SYSTEM = ("Classify the user's request into one intent: AddToPlaylist, BookRestaurant, "
          "GetWeather, PlayMusic, RateBook, SearchCreativeWork, SearchScreeningEvent. "
          "Answer with the intent only.")


def split(train_per: int, dev_per: int) -> tuple[list[dict], list[dict]]:
    rows = [json.loads(line) for line in DATA.open()]
    random.Random(0).shuffle(rows)
    train, dev, seen = [], [], {}
    for row in rows:
        n = seen.get(row["intent"], 0)
        seen[row["intent"]] = n + 1
        record = {"text": row["text"], "intent": row["intent"]}
        if n < dev_per:
            dev.append(record)
        elif n < dev_per + train_per:
            train.append(record)
    return train, dev


def graft(home: Path, *args: str, timed: bool = False,
          check: bool = True) -> tuple[subprocess.CompletedProcess, float | None]:
    """Run ``graft ARGS`` against ``home`` (exiting when it fails, with ``check``); with
    ``timed``, also its peak memory in MiB."""
    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "graftlm.cli", *args]
    peak = None
    if timed:
        report = Path(tempfile.mktemp(prefix="peak-"))
        command = ["/usr/bin/time", "-f", "%M", "-o", str(report), *command]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if timed:
        peak = round(int(report.read_text().split()[-1]) / 1024, 1)
        report.unlink()
    if done.returncode != 0 and check:
        sys.exit(f"graft {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done, peak


def card_row(card: dict, peak: float | None, wall: float) -> dict:
    m, training = card["metrics"], card["training"]
    return {
        "choice_accuracy": m["adapter"], "exact_match": m["adapter_metrics"]["exact_match"],
        "base_choice_accuracy": m["base"], "eval_loss": m["adapter_eval_loss"],
        "trainable_parameters": card["method"]["trainable_parameters"],
        "training_seconds": training["seconds"], "steps": training["steps"],
        "tokens_per_second": round(training["tokens"] / training["seconds"], 1),
        "peak_memory_mib": peak, "wall_seconds": round(wall, 1)}


def served_latency(home: Path, names: list[str], requests: int) -> dict[str, float]:
    """Median seconds of ``requests`` greedy 8-token answers per adapter, one local gateway."""
    import openai

    sys.path.insert(0, str(ROOT))
    from graftlm.serving.launch import graft_serve

    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    adapters = [arg for name in names for arg in ("--adapter", name)]
    ask = [{"role": "system", "content": SYSTEM},
           {"role": "user", "content": "will it rain in lisbon tomorrow"}]
    out = {}
    with graft_serve("--engine", "local", *adapters, log=home / "serve.log", env=env) as (url, _):
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        for name in ["base", *names]:
            client.chat.completions.create(model=name, messages=ask, max_tokens=8,
                                           temperature=0)  # warm
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                client.chat.completions.create(model=name, messages=ask, max_tokens=8,
                                               temperature=0)
                times.append(time.perf_counter() - started)
            out[name] = round(statistics.median(times) * 1000, 1)
    return out


def run_auto(home: Path, grid: dict, methods: list[str], common: list[str]) -> dict:
    """``graft train --auto`` over ``methods`` with a third of the grid's time, less its final
    training (the grid's median run), scored on the same dev split."""
    grid_seconds = sum(r["wall_seconds"] for r in grid.values())
    final = statistics.median(r["wall_seconds"] for r in grid.values())
    budget = max(60, int(grid_seconds / 3 - final))
    os.environ["GRAFT_TUNING__AUTO_METHODS"] = json.dumps(methods)
    started = time.perf_counter()
    done, peak = graft(home, "train", str(home / "train.jsonl"), "--name", "auto", "--auto",
                       "--budget", f"{budget}s", "--report", str(home / "search"), *common,
                       timed=True, check=False)
    wall = time.perf_counter() - started
    facts = {"budget_seconds": budget, "grid_seconds": round(grid_seconds, 1),
             "wall_seconds": round(wall, 1), "share_of_grid_time": round(wall / grid_seconds, 3)}
    if done.returncode != 0:
        return {"ok": False, **facts, "error": done.stderr.strip()[-1500:]}
    card = json.loads(done.stdout)
    best_method, best = max(grid.items(), key=lambda kv: kv[1]["choice_accuracy"])
    search = card["search"]
    chosen = next(t for t in search["trials"] if t["number"] == search["chosen"])
    row = card_row(card, peak, wall)
    return {"ok": True, "searched": methods, **row, **facts, "chosen": chosen["params"],
            "trials": len(search["trials"]),
            "finished": sum(t["state"] == "complete" for t in search["trials"]),
            "grid_best": best_method, "grid_best_choice_accuracy": best["choice_accuracy"],
            "points_behind_grid_best": round((best["choice_accuracy"]
                                              - row["choice_accuracy"]) * 100, 2),
            "search_report": str(home / "search" / "search.html")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-per-intent", type=int, default=40)
    parser.add_argument("--dev-per-intent", type=int, default=20)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--methods", nargs="+",
                        default=["lora", "dora", "pissa", "ia3", "prefix", "loreft", "spectrum"])
    parser.add_argument("--rate-factors", type=float, nargs="+", default=[1.0, 3.0],
                        help="The grid: each method at these multiples of its rate.")
    parser.add_argument("--reuse", action="store_true",
                        help="Keep the grid rows (and latencies) --out holds for this split.")
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--no-auto", action="store_true", help="Only the methods table.")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "peft_methods.json")
    args = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"{DATA} is missing: the benchmark reads SNIPS from ../shared/data.")

    from graftlm.core.settings import load_settings
    from graftlm.tuning.auto import default_rate
    from graftlm.tuning.methods import get
    from graftlm.tuning.methods.lora import Lora

    settings = load_settings().settings
    measure_rate, tuning = settings.advisor.measure_learning_rate, settings.tuning
    shared = Path(os.environ.get("GRAFT_HOME", ROOT / ".cache" / "graft-home"))
    graft(shared, "models", "prepare")
    home = Path(tempfile.mkdtemp(prefix="peft-methods-"))
    (home / "models").symlink_to(shared / "models")
    train, dev = split(args.train_per_intent, args.dev_per_intent)
    (home / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (home / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dev))
    common = ["--input-field", "text", "--target-field", "intent", "--system", SYSTEM,
              "--eval-file", str(home / "dev.jsonl"), "--batch-size", "8", "--json"]
    result: dict = {"train_examples": len(train), "dev_examples": len(dev),
                    "epochs": args.epochs, "machine": os.uname().machine,
                    "cores": os.cpu_count(), "methods": {}, "grid": {}}
    earlier = json.loads(args.out.read_text()) if args.reuse and args.out.is_file() else {}
    same = all(earlier.get(k) == result[k] for k in ("train_examples", "dev_examples", "epochs"))
    table = earlier.get("table_rate_factor", 1.0)  # the factor the earlier table rows used
    kept = earlier.get("grid", {}) | {f"{m}-x{table:g}": row
                                      for m, row in earlier.get("methods", {}).items()}
    for factor in args.rate_factors:
        for method in args.methods:
            key = f"{method}-x{factor:g}"
            if same and key in kept:
                result["grid"][key] = kept[key]
                continue
            base = measure_rate if isinstance(get(method), Lora) else default_rate(method, tuning)
            started = time.perf_counter()
            done, peak = graft(home, "train", str(home / "train.jsonl"), "--name", key,
                               "--method", method, "--epochs", str(args.epochs),
                               "--lr", f"{base * factor:g}", *common, timed=True)
            row = card_row(json.loads(done.stdout), peak, time.perf_counter() - started)
            row["learning_rate"] = json.loads(done.stdout)["hyperparameters"]["peak_learning_rate"]
            result["grid"][key] = row
            print(json.dumps({key: row}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")  # each row as it lands
    first = args.rate_factors[0]
    result["table_rate_factor"] = first
    result["methods"] = {m: result["grid"].pop(f"{m}-x{first:g}") for m in args.methods}
    # Served latency of the table's adapters trained in this run; a reused row keeps its own
    # (its adapter was in the earlier run's workspace).
    table_keys = {f"{m}-x{first:g}": m for m in args.methods}
    fresh = {key: m for key, m in table_keys.items() if not (same and key in kept)}
    latency = dict(earlier.get("served_latency_ms", {})) if same else {}
    # Each row's latency is compared with the base model's measured by the same gateway: a
    # reused row keeps the base of its own run.
    bases = {m: row.get("served_base_ms", latency.get("base"))
             for m, row in earlier.get("methods", {}).items()} if same else {}
    if fresh:
        measured = served_latency(home, list(fresh), args.requests)
        latency.update({fresh.get(k, k): v for k, v in measured.items()
                        if k != "base" or "base" not in latency})
        bases.update({m: measured.get("base") for m in fresh.values()})
    result["served_latency_ms"] = latency
    for method in args.methods:
        result["methods"][method]["served_latency_ms"] = latency.get(method)
        result["methods"][method]["served_base_ms"] = bases.get(method)
    print(json.dumps({"served_latency_ms": latency}), flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")  # the table, before --auto
    if not args.no_auto:
        grid = {f"{m}-x{first:g}": row for m, row in result["methods"].items()} | result["grid"]
        result["auto"] = run_auto(home, grid, args.methods, common)
        print(json.dumps({"auto": result["auto"]}), flush=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    elif same and "auto" in earlier:  # the earlier search stands, over the methods it searched
        result["auto"] = {"searched": list(earlier.get("methods", {})), **earlier["auto"]}
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
