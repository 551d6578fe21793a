"""The last steps of the loop: serve an adapter and an index together, query them, stop.

Starts ``graft serve`` (vLLM when installed, else the local engine) with the adapter and index
that ``make demo`` built, waits until it is healthy, asks it a knowledge question through the
retrieval model and routes a ticket through the adapter — both with ``graft query``, which uses
the official ``openai`` client — and stops the server.

    python examples/serve_and_query.py [--adapter support-router] [--index router-docs]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

SYSTEM = ("Route the support ticket to one queue: reset, wifi, warranty or firmware. Answer "
          "with the queue only.")


def graft(*args: str) -> list[str]:
    return [sys.executable, "-m", "graftlm.cli", *args]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, server: subprocess.Popen, timeout: float = 900) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if server.poll() is not None:
            sys.exit(f"graft serve exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                if reply.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(1)
    server.send_signal(signal.SIGINT)
    sys.exit(f"graft serve was not healthy after {timeout:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--adapter", default="support-router")
    parser.add_argument("--index", default="router-docs")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(graft("serve", "--adapter", args.adapter, "--index", args.index,
                                    "--port", str(port)))
    try:
        print(f"$ graft serve --adapter {args.adapter} --index {args.index} --port {port}")
        print(f"healthy after {wait_healthy(url, server):.0f} s", flush=True)
        questions = [
            ("How long does the warranty last?", f"base+{args.index}", []),
            ("my laptop cannot find the wireless network", args.adapter, ["--system", SYSTEM]),
        ]
        for question, model, extra in questions:
            print(f"\n$ graft query {question!r} --model {model}", flush=True)
            subprocess.run(graft("query", question, "--model", model, "--url", f"{url}/v1",
                                 "--max-tokens", "64", *extra), check=True)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(120)
        print(f"\nserver stopped (exit code {server.returncode})")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
