"""Hostile requests against a live gateway: what each gets back.

Starts ``graft serve --engine local`` on the embedded base model in a scratch workspace, with an
API key and an admin key from files, a small connection cap and a short body deadline, then sends
every hostile request of issue #30 and prints the status and the error code each got beside the
one expected; writes ``benchmarks/results/abuse_probe.json``.

    python benchmarks/abuse_probe.py [--out benchmarks/results/abuse_probe.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
KEY, ADMIN = "probe-inference-key", "probe-admin-key"
ASK = [{"role": "user", "content": "hi"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port: int, method: str, path: str, body=None, headers=None, timeout=30.0):
    """(status, error code or '', first 160 characters of the body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {KEY}",
            "Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=data, headers={k: v for k, v in sent.items() if v})
    reply = conn.getresponse()
    text = reply.read().decode(errors="replace")
    conn.close()
    try:
        code = json.loads(text)["error"].get("code") or ""
    except (ValueError, KeyError, TypeError, AttributeError):
        code = ""
    return reply.status, code, text[:160]


def trickle(port: int, wait: float) -> tuple[int, str, str]:
    """A body that declares 1,000 bytes and sends 10, then waits."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait + 30) as sock:
        sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                     f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{\"model\": ".encode())
        reply = sock.recv(4096).decode(errors="replace")
    status = int(reply.split()[1]) if reply.startswith("HTTP/") else 0
    return status, "request_timeout" if "request_timeout" in reply else "", reply[:160]


def held_connections(port: int, count: int) -> list[int]:
    """Open ``count`` idle connections, then one request: its status (503 past the cap)."""
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    try:
        time.sleep(0.5)
        try:
            return [request(port, "GET", "/health", timeout=10)[0]]
        except (ConnectionError, http.client.HTTPException, OSError):
            return [0]
    finally:
        for sock in idle:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results" / "abuse_probe.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="graft-probe-") as scratch:
        home = Path(scratch)
        (home / "key").write_text(KEY)
        (home / "admin").write_text(ADMIN)
        port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRAFT_HOME": str(home / "home"),
               "GRAFT_SERVING__MAX_CONNECTIONS": "6", "GRAFT_SERVING__BODY_READ_S": "3",
               "GRAFT_SERVING__MAX_BODY_BYTES": "100000"}
        server = subprocess.Popen(
            [sys.executable, "-m", "graftlm.cli", "serve", "--engine", "local", "--port",
             str(port), "--api-key-file", str(home / "key"), "--admin-key-file",
             str(home / "admin")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 600
            while True:
                try:
                    if request(port, "GET", "/health", timeout=5)[0] == 200:
                        break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"the gateway did not start: {server.stderr.read().decode()[-2000:]}")
                time.sleep(1)
            long = "word " * 40
            probes = [
                ("64 choices of ~40 tokens each", 400, request(port, "POST",
                 "/v1/chat/completions", {"model": "base", "messages": ASK, "max_tokens": 2,
                                          "structured_outputs": {"choice": [
                                              f"{i} {long}" for i in range(64)]}})),
                ("one choice of 600 characters", 400, request(port, "POST",
                 "/v1/chat/completions", {"model": "base", "messages": ASK, "max_tokens": 2,
                                          "structured_outputs": {"choice": ["x" * 600, "y"]}})),
                ("no key", 401, request(port, "GET", "/v1/models",
                                        headers={"Authorization": ""})),
                ("POST /v1/adapters with the inference key", 401, request(
                    port, "POST", "/v1/adapters", {"name": "ghost"})),
                ("POST /v1/adapters, admin key, no such adapter", 404, request(
                    port, "POST", "/v1/adapters", {"name": "ghost"},
                    headers={"Authorization": f"Bearer {ADMIN}"})),
                ("a form post (a cross-site <form>)", 415, request(
                    port, "POST", "/v1/chat/completions", b"model=base",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})),
                ("a 200 kB body", 413, request(port, "POST", "/v1/chat/completions",
                                               b"{" + b" " * 200_000 + b"}")),
                ("a body trickled past serving.body_read_s (3 s)", 408, trickle(port, 3)),
                ("an unknown model", 404, request(port, "POST", "/v1/chat/completions",
                                                  {"model": "nope", "messages": ASK})),
            ]
            capped = held_connections(port, 8)[0]
            probes.append(("a request past 8 idle connections (cap 6)", 503,
                           (capped, "", "")))
        finally:
            server.terminate()
            server.wait(timeout=30)
        # Without a key: the Host check (a rebinding page's own name), on a second server.
        port = free_port()
        plain = subprocess.Popen([sys.executable, "-m", "graftlm.cli", "serve", "--engine",
                                  "local", "--port", str(port)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                try:
                    if request(port, "GET", "/health", timeout=5)[0] == 200:
                        break
                except OSError:
                    time.sleep(1)
            probes.append(("keyless server, Host: attacker.example", 403, request(
                port, "GET", "/v1/models", headers={"Host": f"attacker.example:{port}",
                                                    "Authorization": ""})))
            probes.append(("keyless server, Host: localhost", 200, request(
                port, "GET", "/v1/models", headers={"Host": f"localhost:{port}",
                                                    "Authorization": ""})))
        finally:
            plain.terminate()
            plain.wait(timeout=30)
    rows = [{"probe": name, "expected": want, "status": got[0], "code": got[1],
             "ok": got[0] == want, "body": got[2]} for name, want, got in probes]
    print(f"{'probe':50} {'expected':>8} {'got':>5}  code")
    for r in rows:
        print(f"{r['probe']:50} {r['expected']:8d} {r['status']:5d}  {r['code']}"
              f"{'' if r['ok'] else '   <-- unexpected'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"probes": rows}, indent=2) + "\n")
    if not all(r["ok"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
