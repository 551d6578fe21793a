"""Starting servers: a free local port, and ``graft serve`` as a child process that is up once
its ``/health`` answers and is stopped (SIGINT, as Ctrl-C would) when the block ends."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graftlm.errors import BackendUnavailableError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextmanager
def graft_serve(*args: str, log: Path, env: dict | None = None, timeout: float = 900.0
                ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``graft serve ARGS`` on a free port, its output in ``log``; yield its base URL and
    process once healthy. On exit the server is interrupted and waited for, so
    ``process.returncode`` says how it stopped."""
    import httpx

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "graftlm.cli", "serve", "--port",
                                    str(port), *args], stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise BackendUnavailableError(f"graft serve exited with code "
                                              f"{process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise BackendUnavailableError(f"graft serve was not healthy after {timeout:.0f}"
                                              f" s:\n{_tail(log)}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(120)


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(Path(log).read_text(errors="replace").splitlines()[-lines:])
