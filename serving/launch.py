"""Starting servers: ports, waiting for ``/health``, and the end of a server's log.

Every server graftlm starts goes through here. ``graft serve`` checks that its port is free
(:func:`require_free`) before loading anything; the vLLM engine and :func:`graft_serve` (``graft
serve`` as a child process, for the example, the benchmark and the end-to-end tests) wait for
their child with :func:`wait_healthy`, which shows the end of the child's log when the child dies
or does not come up. It imports only the standard library at module level, so ``graft serve``
can check its port before anything heavy loads.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from graftlm.core.errors import BackendUnavailableError, InputError


def free_port(host: str = "127.0.0.1") -> int:
    """A port on ``host`` that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach (``localhost`` included)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def require_free(host: str, port: int) -> None:
    """Check that a server can listen on ``host:port``.

    Raises:
        InputError: Something else listens there (or the address is not this machine's).
    """
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise InputError(f"cannot listen on {host}:{port} ({exc.strerror}); pass another "
                             "--port or stop what is using it.") from exc


def wait_healthy(url: str, process: subprocess.Popen, *, timeout: float, log_path: Path,
                 what: str, setting: str | None = None, interval: float = 0.5,
                 uds: str | None = None) -> None:
    """Wait until ``GET {url}/health`` answers 200.

    Blocking; an async caller runs it with ``asyncio.to_thread``.

    Args:
        url: The server's base URL.
        process: The server's process, watched so that a server that dies fails at once.
        timeout: Seconds to wait at the most.
        log_path: The server's log; its end goes into the error.
        what: The server, as the error names it ("the vLLM server").
        setting: The setting that holds ``timeout``, named when it runs out.
        interval: Seconds between two probes.
        uds: The Unix socket the server listens on, if it listens on one.

    Raises:
        BackendUnavailableError: The process exited, or the server was not healthy in time.
    """
    import httpx

    deadline = time.monotonic() + timeout
    client = httpx.Client(transport=httpx.HTTPTransport(uds=uds) if uds else None, timeout=2)
    while True:
        if process.poll() is not None:
            raise BackendUnavailableError(
                f"{what} exited with code {process.returncode} while starting; its log "
                f"({log_path}) ends with:\n{tail(log_path)}")
        if time.monotonic() > deadline:
            knob = f" ({setting})" if setting else ""
            raise BackendUnavailableError(
                f"{what} was not healthy after {timeout:.0f} s{knob}; its log ({log_path}) "
                f"ends with:\n{tail(log_path)}")
        try:
            if client.get(f"{url}/health").status_code == 200:
                client.close()
                return
        except httpx.HTTPError:
            pass  # not listening yet
        time.sleep(interval)


def die_with_parent() -> None:
    """For ``Popen(preexec_fn=...)``: the child gets SIGTERM when the process that started it
    dies, even by SIGKILL (Linux; elsewhere nothing). It survives ``exec``."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of the file at ``path``; empty if there is no such file."""
    path = Path(path)
    if not path.is_file():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def graft_serve(*args: str, log: Path, env: dict | None = None, timeout: float = 900.0
                ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run ``graft serve ARGS`` on a free port, its output in ``log``; yield its base URL and
    process once healthy. On exit the server is interrupted (SIGINT, as Ctrl-C would) and waited
    for, so ``process.returncode`` says how it stopped."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "graftlm.cli", "serve", "--port",
                                    str(port), *args], stdout=out, stderr=subprocess.STDOUT,
                                   env=env)
    try:
        wait_healthy(url, process, timeout=timeout, log_path=log, what="graft serve")
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(120)
