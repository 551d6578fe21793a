"""A cold ``graft advise --json``: the numpy encoder against sentence-transformers, whole process.

Each run is a fresh ``python -m graftlm.cli advise --json "<task>"`` process against one
workspace (whose prototype cache the warm-up run fills, as a user's first call does). The two
paths — ``advisor.light_embedder`` on (the default: MiniLM in numpy, no torch import) and off
(sentence-transformers) — run in turn, A B A B …, and the medians of wall time and the ratio
are reported and written as JSON.

    python benchmarks/cold_advise.py [--runs 7] [--out benchmarks/results/cold_advise.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
TASK = ("Answer staff questions about our HR handbook; it is revised every month and answers "
        "must cite the section.")


def run(home: str, light: bool) -> tuple[float, str]:
    env = {**os.environ, "GRAFT_HOME": home, "HF_HUB_OFFLINE": "1",
           "GRAFT_ADVISOR__LIGHT_EMBEDDER": "true" if light else "false"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "graftlm.cli", "advise", "--json", TASK],
                         capture_output=True, text=True, env=env, check=True)
    return time.perf_counter() - start, json.loads(out.stdout)["recommendation"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "cold_advise.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        first, _ = run(home, light=True)  # embeds the prototypes once and caches them
        run(home, light=False)
        times: dict[str, list[float]] = {"numpy": [], "sentence-transformers": []}
        answers = set()
        for _ in range(args.runs):
            for name, light in (("numpy", True), ("sentence-transformers", False)):
                seconds, answer = run(home, light)
                times[name].append(seconds)
                answers.add(answer)
    medians = {name: round(statistics.median(t), 3) for name, t in times.items()}
    ratio = round(medians["numpy"] / medians["sentence-transformers"], 3)
    result = {"task": TASK, "runs": args.runs, "first_call_s": round(first, 3),
              "median_wall_s": medians, "ratio": ratio, "same_advice": len(answers) == 1,
              "wall_s": {n: [round(x, 3) for x in t] for n, t in times.items()}}
    print(f"cold graft advise, median of {args.runs}: numpy {medians['numpy']} s, "
          f"sentence-transformers {medians['sentence-transformers']} s (ratio {ratio}); "
          f"first call {first:.2f} s; same advice: {result['same_advice']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
