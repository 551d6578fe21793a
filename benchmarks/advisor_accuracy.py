"""Advisor accuracy on the labelled task descriptions, by split, with a confusion matrix.

Sets of cases, each written by a separate author from FRAMEWORK.md alone (now docs/framework.md), without seeing the
code or the other sets: ``dev`` (used while writing the signal table), ``val`` (a second round
of fixes), ``heldout``, ``dev2`` and ``heldout2`` (written around four classes of misses), and
then ``heldout3`` … ``heldout10``, each scored once on arrival — that first score is the held-out
figure — and only then used to fix the classes of its misses and, from heldout9 on, to refit the
learned reader (``benchmarks/fit_advisor_reader.py``). Then real posts (``real``, ``real_heldout``,
see ``NEVER_FIT``). Each case has an expected strategy and a set of acceptable ones.

    python benchmarks/advisor_accuracy.py [--lexical | --no-reader] [--sets SET ...]
        [--out benchmarks/results/advisor_accuracy.json]

Reports top-1 and acceptable-set agreement per split, the confusion matrix over all cases, the
misses, and the warm advice latency (median and p95 over every case, embedder loaded).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from graftlm.advisor import STRATEGIES, Advisor  # noqa: E402

HERE = Path(__file__).parent
SPLITS = {"dev": "advisor_cases_dev.jsonl", "val": "advisor_cases_val.jsonl",
          "heldout": "advisor_cases_heldout.jsonl", "dev2": "advisor_cases_dev2.jsonl",
          **{f"heldout{n}": f"advisor_cases_heldout{n}.jsonl" for n in range(2, 11)},
          "real": "advisor_cases_real.jsonl", "real_heldout": "advisor_cases_real_heldout.jsonl",
          "real2": "advisor_cases_real2.jsonl",
          "real_heldout2": "advisor_cases_real_heldout2.jsonl",
          "real3": "advisor_cases_real3.jsonl",
          "real_heldout3": "advisor_cases_real_heldout3.jsonl"}
# Real posts (issue #28): task descriptions practitioners posted in public threads, each with
# its URL and the strategy the thread's answers recommended (or, where none answered, the
# framework's rule, marked as such). A third was split off before any code changed, stratified
# by label: it is scored, never fitted or tuned on. A second batch (real2, real_heldout2)
# arrived after the first round of fixes and was split the same way before any further change.
NEVER_FIT = ("real_heldout", "real_heldout2", "real_heldout3")
FIT_SETS = [name for name in SPLITS if name not in NEVER_FIT]
WRITTEN = [name for name in SPLITS if not name.startswith("real")]


# Each set's top-1 when it was first scored, before any fix it prompted (recorded on arrival;
# rerunning cannot reproduce them, since the fixes are in the code now). From heldout9 on, the
# advisor had the learned reader (advisor/reader.py, fitted on the sets before them); the
# signal table alone scored them as in FIRST_RUN_WITHOUT_READER.
FIRST_RUN = {"heldout": 0.9, "heldout2": 0.85, "heldout3": 0.7708, "heldout4": 0.8667,
             "heldout5": 0.85, "heldout6": 0.9167, "heldout7": 0.85, "heldout8": 0.8333,
             "heldout9": 0.9667, "heldout10": 0.9333}
FIRST_RUN_WITHOUT_READER = {"heldout9": 0.95, "heldout10": 0.8833}
# The real posts on arrival, scored by the code of 6e0f1d5 (before any change for them): the
# held-out third 25.4% top-1 (44.1% in an acceptable strategy), 32.2% by the signal table
# alone; the development two thirds 30.5% (46.6%), 33.1% alone.
FIRST_RUN.update({"real_heldout": 0.2542, "real": 0.3051})
FIRST_RUN_WITHOUT_READER.update({"real_heldout": 0.322, "real": 0.3305})
FIRST_RUN_ACCEPTABLE = {"real_heldout": 0.4407, "real": 0.4661}
# The second batch on arrival, scored by the code of 30a8fb1 (after the first round of fixes):
# held-out 58.1% top-1 (71.0% acceptable), 29.0% by the signal table alone; the development
# part 58.7% (76.2%), 47.6% alone. The code of 6e0f1d5 scored them 38.7% and 27.0%.
FIRST_RUN.update({"real_heldout2": 0.5806, "real2": 0.5873})
FIRST_RUN_WITHOUT_READER.update({"real_heldout2": 0.2903, "real2": 0.4762})
FIRST_RUN_ACCEPTABLE.update({"real_heldout2": 0.7097, "real2": 0.7619})
PREVIOUS_RELEASE = {"real_heldout2": 0.3871, "real2": 0.2698}
# The third batch (88 posts, mostly the trackers of Chinese and fine-tuning projects) on arrival,
# scored by the code of b15938f (the second round of fixes): held-out 51.7% top-1 (79.3%
# acceptable), 37.9% by the signal table alone; the development part 59.3% (78.0%), 40.7% alone.
FIRST_RUN.update({"real_heldout3": 0.5172, "real3": 0.5932})
FIRST_RUN_WITHOUT_READER.update({"real_heldout3": 0.3793, "real3": 0.4068})
FIRST_RUN_ACCEPTABLE.update({"real_heldout3": 0.7931, "real3": 0.7797})
# The replay that chose the reader's weight and regularisation (issue #11, recorded once: it ran
# each set through a checkout of the code as it was when the set arrived, plus a reader fitted
# only on the sets that existed then): top-1 of those rules alone, and with that reader.
REPLAY = {"heldout3": (0.7292, 0.875), "heldout4": (0.8667, 0.9333),
          "heldout5": (0.85, 0.8667), "heldout6": (0.8667, 0.9), "heldout7": (0.85, 0.9167),
          "heldout8": (0.8333, 0.9333)}


def load_cases() -> dict[str, list[dict]]:
    return {split: [json.loads(line) for line in (HERE / name).read_text().split("\n") if line]
            for split, name in SPLITS.items()}


def evaluate(advisor: Advisor, cases: dict[str, list[dict]]) -> dict:
    per_split, confusion, misses, latencies = {}, {}, [], []
    for split, rows in cases.items():
        top1 = acceptable = 0
        for case in rows:
            start = time.perf_counter()
            advice = advisor.advise(case["description"])
            latencies.append((time.perf_counter() - start) * 1000)
            got = advice.recommendation
            top1 += got == case["expected"]
            acceptable += got in case["acceptable"]
            confusion.setdefault(case["expected"], dict.fromkeys(STRATEGIES, 0))[got] += 1
            if got != case["expected"]:
                misses.append({"id": case["id"], "expected": case["expected"], "got": got,
                               "acceptable": got in case["acceptable"],
                               "description": case["description"]})
        per_split[split] = {"cases": len(rows), "top1": round(top1 / len(rows), 4),
                            "acceptable": round(acceptable / len(rows), 4)}
    latencies.sort()
    return {"splits": per_split, "confusion": confusion, "misses": misses,
            "latency_ms": {"median": round(statistics.median(latencies), 2),
                           "p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
                           "runs": len(latencies)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lexical", action="store_true", help="no semantic matching")
    parser.add_argument("--no-reader", action="store_true",
                        help="leave out the learned reader (advisor/reader.npz)")
    parser.add_argument("--sets", nargs="*", default=list(SPLITS), metavar="SET",
                        help=f"the sets to score (default: all; any of {', '.join(SPLITS)})")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "advisor_accuracy.json")
    args = parser.parse_args()

    embedder = reader = None
    if not args.lexical:
        from graftlm.advisor.reader import load_reader
        from graftlm.core.embedder import load_embedder
        from graftlm.core.settings import ModelSettings

        embedder = load_embedder(ModelSettings())
        reader = None if args.no_reader else load_reader(embedder)
    advisor = Advisor(embedder, reader=reader)
    cases = {name: rows for name, rows in load_cases().items() if name in args.sets}
    never = {c["id"] for name in NEVER_FIT if name in cases for c in cases[name]}
    advisor.advise("warm-up: translate emails")  # first call pays one-off costs
    result = {"semantic": embedder is not None, "reader": reader is not None,
              "first_run_top1": FIRST_RUN,
              "first_run_top1_without_reader": FIRST_RUN_WITHOUT_READER,
              "first_run_acceptable": FIRST_RUN_ACCEPTABLE,
              "previous_release_top1": PREVIOUS_RELEASE,
              "replay_top1_rules_then_with_reader": REPLAY,
              **evaluate(advisor, cases)}

    print(f"{'split':8} {'cases':>5} {'top-1':>7} {'acceptable':>10}")
    for split, row in result["splits"].items():
        print(f"{split:8} {row['cases']:5d} {row['top1']:7.1%} {row['acceptable']:10.1%}")
    print("\nconfusion (rows: expected, columns: recommended)")
    print(" " * 10 + "".join(f"{s[:8]:>9}" for s in STRATEGIES))
    for expected, row in result["confusion"].items():
        print(f"{expected:10}" + "".join(f"{row[s]:9d}" for s in STRATEGIES))
    print(f"\nwarm advice latency: median {result['latency_ms']['median']} ms, "
          f"p95 {result['latency_ms']['p95']} ms over {result['latency_ms']['runs']} runs")
    held_back = sum(m["id"] in never for m in result["misses"])
    if held_back:  # counted in the table; not listed, so that nobody tunes on them by accident
        print(f"  ({held_back} misses of the never-fitted real posts are not listed)")
    for miss in result["misses"]:
        if miss["id"] in never:
            continue
        mark = "acceptable" if miss["acceptable"] else "wrong"
        print(f"  miss {miss['id']}: expected {miss['expected']}, got {miss['got']} ({mark})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
