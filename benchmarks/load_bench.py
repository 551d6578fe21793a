"""Load on the gateway: mixed traffic at rising concurrency, then a table of bad inputs.

``graft serve`` runs in its own process, as users run it, with an adapter and an index and a
small admission bound (``--max-in-flight``, ``--max-queue``) so that the levels cross it. At each
concurrency level, that many clients send requests back to back for ``--seconds``: a quarter each
of plain base requests, adapter requests, retrieval requests (``base+<index>``) and streamed base
requests, ``--tokens`` tokens each. Reported per level: requests and tokens per second answered,
p50 and p99 latency of the answered ones, the share refused with 429, and the share that failed
any other way (which should be zero); and the first level where 429s appear. Then each bad input
is sent once and the status and message it got are recorded.

    python benchmarks/load_bench.py [--engine local|vllm] [--levels 1 4 16 64 256]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from graftlm.serving.launch import graft_serve  # noqa: E402

HERE = Path(__file__).parent
KEY = "load-bench-key"
ASK = [{"role": "user", "content": "My router keeps dropping the wifi. What should I do?"}]
KINDS = ("base", "adapter", "retrieval", "streamed")
FAILURES: list[str] = []  # what the failed requests said


def body(kind: str, args) -> dict:
    model = {"adapter": args.adapter, "retrieval": f"base+{args.index}"}.get(kind, "base")
    return {"model": model, "messages": ASK, "max_tokens": args.tokens, "temperature": 0,
            "stream": kind == "streamed"}


async def one(client, kind: str, args) -> tuple[str, int, float, int]:
    """(kind, status, seconds, completion tokens) of one request."""
    started = time.perf_counter()
    if kind != "streamed":
        reply = await client.post("/v1/chat/completions", json=body(kind, args))
        tokens = reply.json()["usage"]["completion_tokens"] if reply.status_code == 200 else 0
        if reply.status_code not in (200, 429):
            FAILURES.append(f"{reply.status_code}: {reply.text[:300]}")
        return kind, reply.status_code, time.perf_counter() - started, tokens
    tokens, status = 0, 0
    async with client.stream("POST", "/v1/chat/completions", json=body(kind, args)) as reply:
        status = reply.status_code
        async for line in reply.aiter_lines():
            if status != 200:
                continue  # a refusal (429 …) is a JSON error, not an event stream
            if '"error"' in line:
                FAILURES.append(f"error event: {line[:300]}")
                status = 599  # an error event: a failure the status line could not carry
            elif '"content":' in line and '"content":""' not in line:
                tokens += 1
    return kind, status, time.perf_counter() - started, tokens


async def level(url: str, clients: int, args) -> dict:
    import httpx

    results = []
    failures: dict[str, int] = {}
    FAILURES.clear()
    stop = time.perf_counter() + args.seconds

    async def client_loop(i: int, http) -> None:
        n = i
        while time.perf_counter() < stop:
            try:
                results.append(await one(http, KINDS[n % len(KINDS)], args))
            except httpx.HTTPError as exc:  # no answer at all: counted as status 0
                FAILURES.append(f"{type(exc).__name__}: {exc!r}"[:300])
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                results.append((KINDS[n % len(KINDS)], 0, 0.0, 0))
            n += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=600, headers={
            "Authorization": f"Bearer {KEY}"},
            limits=httpx.Limits(max_connections=clients + 8)) as http:
        await asyncio.gather(*(client_loop(i, http) for i in range(clients)))
    wall = time.perf_counter() - started
    ok = [r for r in results if r[1] == 200]
    latencies = sorted(r[2] for r in ok)
    refused = sum(r[1] == 429 for r in results)
    failed = len(results) - len(ok) - refused

    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1) \
            if latencies else None

    return {"clients": clients, "requests": len(results), "answered": len(ok),
            "answered_per_s": round(len(ok) / wall, 2),
            "tokens_per_s": round(sum(r[3] for r in ok) / wall, 1),
            "p50_ms": pct(0.5), "p99_ms": pct(0.99),
            "refused_429_share": round(refused / max(1, len(results)), 3),
            "failed_share": round(failed / max(1, len(results)), 3),
            "statuses": {str(code): sum(r[1] == code for r in results)
                         for code in sorted({r[1] for r in results})},
            "transport_errors": failures,
            "failure_examples": sorted(set(FAILURES))[:5],
            "by_kind_p50_ms": {k: round(statistics.median(
                [r[2] for r in ok if r[0] == k]) * 1000, 1) for k in KINDS
                if any(r[0] == k for r in ok)}}


def bad_inputs(url: str, args) -> list[dict]:
    """Each bad input once: what it was, the status, and the start of the message."""
    import httpx

    good = {"model": "base", "messages": ASK, "max_tokens": 4}
    keyed = {"Authorization": f"Bearer {KEY}"}
    cases = [
        ("no API key", dict(json=good, headers={})),
        ("wrong API key", dict(json=good, headers={"Authorization": "Bearer nope"})),
        ("malformed JSON", dict(content=b"{not json", headers={
            **keyed, "content-type": "application/json"})),
        ("a cross-site form post", dict(content=b"model=base", headers={
            **keyed, "content-type": "application/x-www-form-urlencoded"})),
        ("body over the limit (declared)", dict(json={**good, "pad": "x" * 2_000_000},
                                                headers=keyed)),
        ("body over the limit (chunked)", dict(content=iter([b"{" + b" " * 65536] * 40),
                                               headers={**keyed,
                                                        "content-type": "application/json"})),
        ("unknown model", dict(json={**good, "model": "gpt-9"}, headers=keyed)),
        ("temperature 5", dict(json={**good, "temperature": 5}, headers=keyed)),
        ("max_tokens over the limit", dict(json={**good, "max_tokens": 10**6}, headers=keyed)),
        ("prompt beyond the context", dict(json={**good, "messages": [
            {"role": "user", "content": "router " * 6000}]}, headers=keyed)),
        ("n = 2", dict(json={**good, "n": 2}, headers=keyed)),
        ("tools", dict(json={**good, "tools": [{"type": "function", "function": {
            "name": "f", "parameters": {}}}]}, headers=keyed)),
        ("logprobs", dict(json={**good, "logprobs": True}, headers=keyed)),
        ("seed 2**70", dict(json={**good, "seed": 2**70}, headers=keyed)),
        ("five stop sequences", dict(json={**good, "stop": list("abcde")}, headers=keyed)),
        ("an image content part", dict(json={**good, "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "x"}}]}]}, headers=keyed)),
        ("retrieval k = 500", dict(json={**good, "model": f"base+{args.index}",
                                         "retrieval": {"k": 500}}, headers=keyed)),
        ("unknown adapter to load", dict(json={"name": "ghost"}, headers=keyed,
                                         path="/v1/adapters")),
    ]
    table = []
    with httpx.Client(base_url=url, timeout=120) as http:
        for name, spec in cases:
            path = spec.pop("path", "/v1/chat/completions")
            reply = http.post(path, **spec)
            try:
                message = reply.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = reply.text
            table.append({"input": name, "status": reply.status_code,
                          "message": message[:160]})
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="vllm", choices=["vllm", "local"])
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 4, 16, 64, 256])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tokens", type=int, default=16)
    parser.add_argument("--max-in-flight", type=int, default=16)
    parser.add_argument("--max-queue", type=int, default=32)
    parser.add_argument("--adapter", default="support-router")
    parser.add_argument("--index", default="router-docs")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "load_bench.json")
    args = parser.parse_args()

    env = {**os.environ, "GRAFT_SERVING__MAX_IN_FLIGHT": str(args.max_in_flight),
           "GRAFT_SERVING__MAX_QUEUE": str(args.max_queue)}
    out = {"engine": args.engine, "cpus": os.cpu_count(), "tokens": args.tokens,
           "seconds_per_level": args.seconds, "max_in_flight": args.max_in_flight,
           "max_queue": args.max_queue, "levels": []}
    with tempfile.TemporaryDirectory() as scratch, graft_serve(
            "--engine", args.engine, "--adapter", args.adapter, "--index", args.index,
            "--api-key", KEY, log=Path(scratch) / "serve.log", env=env) as (url, _):
        asyncio.run(level(url, 2, argparse.Namespace(**{**vars(args), "seconds": 3})))  # warm
        for clients in args.levels:
            result = asyncio.run(level(url, clients, args))
            out["levels"].append(result)
            print(json.dumps(result), flush=True)
        out["429s_start_at_clients"] = next(
            (r["clients"] for r in out["levels"] if r["refused_429_share"] > 0), None)
        out["bad_inputs"] = bad_inputs(url, args)
    for row in out["bad_inputs"]:
        print(f"{row['status']}  {row['input']}: {row['message']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
