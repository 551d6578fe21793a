"""The last steps of the loop: serve adapters and an index together, query them, stop.

Starts ``graft serve`` (vLLM when installed, else the local engine) with the two adapters and
the index that ``make demo`` built — ``support-router`` (a skill: routing tickets) and
``router-reader`` (retrieval-aware: trained with sources from the index) — waits until it is
healthy, asks a knowledge question of the base model and of the hybrid ``router-reader+
router-docs``, and routes a ticket through the skill adapter, all with ``graft query`` (the
official ``openai`` client); then stops the server.

    python examples/serve_and_query.py [--adapter support-router] [--reader router-reader]
                                       [--index router-docs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from graftlm.serving.launch import graft_serve

SYSTEM = ("Route the support ticket to one queue: reset, wifi, warranty or firmware. Answer "
          "with the queue only.")


def graft(*args: str) -> list[str]:
    return [sys.executable, "-m", "graftlm.cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default="support-router")
    parser.add_argument("--reader", default="router-reader")
    parser.add_argument("--index", default="router-docs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "serve.log"
        print(f"$ graft serve --adapter {args.adapter} --adapter {args.reader} --index "
              f"{args.index}", flush=True)
        started = time.monotonic()
        serving = graft_serve("--adapter", args.adapter, "--adapter", args.reader, "--index",
                              args.index, log=log)
        with serving as (url, server):
            print(log.read_text(), end="")
            print(f"healthy after {time.monotonic() - started:.0f} s", flush=True)
            shown = len(log.read_text())
            questions = [
                ("How long does the warranty last?", f"base+{args.index}", []),
                ("How long does the warranty last?", f"{args.reader}+{args.index}", []),
                ("my laptop cannot find the wireless network", args.adapter,
                 ["--system", SYSTEM]),
            ]
            for question, model, extra in questions:
                print(f"\n$ graft query {question!r} --model {model}", flush=True)
                subprocess.run(graft("query", question, "--model", model, "--url", f"{url}/v1",
                                     "--max-tokens", "64", *extra), check=True)
        print(log.read_text()[shown:], end="")
        print(f"\nserver stopped (exit code {server.returncode})")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
