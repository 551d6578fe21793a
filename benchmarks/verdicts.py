"""The verdict suite: measured advice on four shared tasks, beside the verdict an expert would give.

One after another, at the default budget, ``graft advise --measure`` runs on a sample of each
task of ``../shared/data`` (written to a scratch folder, never into the repo):

- ``snips``: classify voice-assistant requests into 7 intents — a *skill*: expect LoRA;
- ``squad``: short answers about the University of Notre Dame with the article's paragraphs as
  ``--docs`` — *knowledge*: expect RAG or the hybrid;
- ``pubmedqa``: yes/no/maybe over biomedical abstracts (as ``--docs``) — on a 135M model, expect
  "no arm works yet", pointing to retrieval;
- ``style``: Bible verses from Basic English into the American Standard Version's style, 300
  pairs (the description's "few hundred") — a *style skill* with long free-text answers:
  expect LoRA or few-shot. Whether the arm also beats copying the input is the model's to
  show, not part of the expert's verdict: on SmolLM2-135M it does not.

Per task it records the arms (score, interval, probability of being the best), the split, the
headline and the recommendation, and whether the expert's verdict was met; then prints the
table docs/benchmarks.md shows and writes ``benchmarks/results/verdicts.json``.

    python benchmarks/verdicts.py [--tasks snips squad pubmedqa style] [--budget 15m]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measured_advice import DATA, DESCRIPTIONS, pubmedqa_sample, snips_sample, squad_sample

HERE = Path(__file__).parent
STYLE_SYSTEM = "Rewrite the verse in the style of the American Standard Version."
TASKS = {
    "snips": (lambda folder: snips_sample(folder, 43, 0), DESCRIPTIONS["snips"],
              {"lora"}, True, "skill → LoRA"),
    "squad": (lambda folder: squad_sample(folder, 150, 0), DESCRIPTIONS["squad"],
              {"rag", "hybrid"}, True, "knowledge → RAG or the hybrid"),
    "pubmedqa": (lambda folder: pubmedqa_sample(folder, 120, 0), DESCRIPTIONS["pubmedqa"],
                 {"rag", "hybrid"}, False, "no arm works yet on this model → retrieval"),
    "style": (lambda folder: style_sample(folder, 300, 0),
              "Rewrite Bible verses from Basic English into the style of the American Standard "
              "Version; we have a few hundred verse pairs.",
              {"lora", "few_shot"}, None, "style → LoRA or few-shot"),
}


def style_sample(folder: Path, pairs: int, seed: int) -> list[str]:
    rows = [json.loads(line) for line in (DATA / "style_bible" / "train.jsonl").open()]
    random.Random(seed).shuffle(rows)
    with open(folder / "style.jsonl", "w") as out:
        for row in rows[:pairs]:
            messages = [{"role": "system", "content": STYLE_SYSTEM},
                        *[m for m in row["messages"] if m["role"] != "system"]]
            out.write(json.dumps({"messages": messages}) + "\n")
    return ["--examples", str(folder / "style.jsonl")]


def run_task(name: str, budget: str) -> dict:
    sample, description, expected, works, said = TASKS[name]
    with tempfile.TemporaryDirectory(prefix=f"graft-verdict-{name}-") as scratch:
        options = sample(Path(scratch))
        command = [sys.executable, "-m", "graftlm.cli", "advise", description, "--measure",
                   *options, "--budget", budget, "--json"]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRAFT_RAG__ID_FIELD": "id"}
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        return {"task": name, "expected": said, "error": done.stderr[-2000:], "seconds": seconds}
    advice = json.loads(done.stdout)
    m = advice["measurement"]
    # works: whether the expert's verdict says some arm beats the trivial baseline (None: it
    # names the arm only)
    met = advice["recommendation"] in expected and works in (None, m["works"])
    return {"task": name, "expected": said, "met": met, "recommendation": advice[
        "recommendation"], "headline": m["headline"], "works": m["works"], "split": m["split"],
        "examples": m["examples"], "held_out": m["held_out"], "metric": m["metric"],
        "baseline": ({"name": f"always “{m['majority_label']}”", "score": m["majority_score"]}
                     if m["majority_label"] else {"name": m["trivial_name"],
                                                  "score": m["trivial_score"]}),
        "arms": [{"id": a["id"], "score": a["score"], "ci": [a["ci_low"], a["ci_high"]],
                  "p_best": m["probabilities"].get(a["id"]), "status": a["status"]}
                 for a in m["arms"]],
        "separate_with": m["separate_with"], "verdict": m["verdict"], "seconds": seconds}


def table(rows: list[dict]) -> str:
    out = ["| task | expert's verdict | headline | met | arms (score, P(best)) | split |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            out.append(f"| {r['task']} | {r['expected']} | failed | no | | |")
            continue
        arms = "; ".join(f"{a['id']} {a['score'] * 100:.1f} ({(a['p_best'] or 0):.0%})"
                         for a in r["arms"] if a["status"] == "measured")
        out.append(f"| {r['task']} | {r['expected']} | {r['headline']} | "
                   f"{'yes' if r['met'] else 'no'} | {arms} | {r['held_out']} of "
                   f"{r['examples']} held out |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--budget", default="15m")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "verdicts.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is not here; this benchmark needs the shared data.")
    rows = []
    for name in args.tasks:
        print(f"{name}: measuring at --budget {args.budget} …", flush=True)
        rows.append(run_task(name, args.budget))
        print(f"  {rows[-1].get('headline') or rows[-1].get('error')}", flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"budget": args.budget, "tasks": rows}, indent=2) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
