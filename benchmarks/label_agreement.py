"""How far two expert readings of the same real posts agree: the ceiling on any advisor's top-1.

A second annotator (a separate agent given FRAMEWORK.md (now docs/framework.md) and each post's text only: not the
thread, not the first label, not the code) labelled 70 development posts drawn at random from
``advisor_cases_real.jsonl`` and ``advisor_cases_real2.jsonl``; its labels are in
``real_posts_second_opinion.jsonl``. This prints how often its first choice is the
recorded one, how often it lies in the recorded acceptable set, and how often either reading
accepts the other's first choice — overall and for the posts labelled from the thread's answers.

    python benchmarks/label_agreement.py [--out benchmarks/results/label_agreement.json]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from advisor_accuracy import load_cases

from graftlm.core.jsonl import records

HERE = Path(__file__).parent
RECORDED = ("real", "real2")  # the sets of advisor_accuracy.py the posts were drawn from
SECOND = HERE / "real_posts_second_opinion.jsonl"


def agreement(pairs: list[tuple[dict, dict]]) -> dict:
    n = len(pairs)
    return {"posts": n,
            "top1": round(sum(a["expected"] == b["expected"] for a, b in pairs) / n, 4),
            "in_acceptable": round(sum(b["expected"] in a["acceptable"] for a, b in pairs) / n, 4),
            "either_accepts": round(sum(b["expected"] in a["acceptable"]
                                        or a["expected"] in b["acceptable"]
                                        for a, b in pairs) / n, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "label_agreement.json")
    args = parser.parse_args()
    cases = load_cases()
    recorded = {c["id"]: c for name in RECORDED for c in cases[name]}
    pairs = [(recorded[s["id"]], s) for _, s, _ in records(SECOND.read_text())]
    result = {"all": agreement(pairs),
              "thread_labels": agreement([p for p in pairs if p[0]["label_source"] == "thread"]),
              "framework_labels": agreement([p for p in pairs
                                             if p[0]["label_source"] == "framework"]),
              "disagreements": Counter(f"{a['expected']} -> {b['expected']}" for a, b in pairs
                                       if a["expected"] != b["expected"]).most_common()}
    print(f"{'labels':18} {'posts':>5} {'top-1':>7} {'in acceptable':>14} {'either accepts':>15}")
    for name in ("all", "thread_labels", "framework_labels"):
        r = result[name]
        print(f"{name:18} {r['posts']:5d} {r['top1']:7.1%} {r['in_acceptable']:14.1%} "
              f"{r['either_accepts']:15.1%}")
    print("most common disagreements (recorded -> second):",
          ", ".join(f"{k} ×{v}" for k, v in result["disagreements"][:6]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
