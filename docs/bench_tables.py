"""The benchmarks page, drawn from ``benchmarks/results``: one section per JSON file.

Each file a benchmark script writes has a renderer here that says in a sentence what the script
measures and draws its tables from the JSON; a file without one still gets a section (its scalar
figures in one table), so a new benchmark never goes missing from the page. Used by
``docs/generate.py``; nothing here runs a benchmark.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

STRATEGIES = ["prompting", "few_shot", "rag", "lora", "full_ft", "hybrid"]
ARMS = {"zero_shot": "zero-shot", "few_shot": "few-shot", "rag": "RAG", "lora": "LoRA",
        "rag_lora": "RAG + LoRA"}


from md_format import interval, num, pct, ratio, table, text  # noqa: E402  (docs/ on sys.path)


# --- one renderer per JSON -------------------------------------------------------------------

def advisor_accuracy(d: dict) -> str:
    first, first_plain = d.get("first_run_top1", {}), d.get("first_run_top1_without_reader", {})
    accept = d.get("first_run_acceptable", {})
    rows = [[f"`{name}`", s["cases"], pct(s["top1"]), pct(s["acceptable"]), pct(first.get(name)),
             pct(first_plain.get(name)), pct(accept.get(name))]
            for name, s in d["splits"].items()]
    out = ["Each case is a task description with the strategy its author expected and the set of "
           "strategies that would also be right. Sets named `real*` are posts practitioners "
           "wrote in public threads; `real_heldout*` are never fitted or tuned on. *On arrival* "
           "is the score a set got when it was first run, before the code had seen it; *now* "
           "is the current code's. Top-1 and acceptable-set agreement, in %:\n",
           table(["set", "cases", "top-1 now", "acceptable now", "top-1 on arrival",
                  "on arrival, without the learned reader", "acceptable on arrival"], rows,
                 "lrrrrrr")]
    replay = d.get("replay_top1_rules_then_with_reader")
    if replay:
        out.append("Replay: each set scored by the signal table as it was when the set arrived, "
                   "then with a learned reader fitted only on the sets that existed then "
                   "(top-1, %):\n")
        out.append(table(["set", "rules then", "with the reader"],
                         [[f"`{k}`", pct(a), pct(b)] for k, (a, b) in replay.items()], "lrr"))
    conf = d.get("confusion")
    if conf:
        cols = [s for s in STRATEGIES if s in conf]
        out.append("Confusion over every case (rows: expected; columns: recommended):\n")
        out.append(table(["expected", *cols],
                         [[f"`{e}`", *(conf[e].get(g, 0) for g in cols)] for e in cols],
                         "l" + "r" * len(cols)))
    lat = d.get("latency_ms")
    if lat:
        out.append(f"Warm advice, embedder loaded: median {num(lat['median'])} ms, p95 "
                   f"{num(lat['p95'])} ms over {lat['runs']:,} runs. Misses listed in the "
                   f"JSON: {len(d.get('misses', []))}.\n")
    return "\n".join(out)


def reader_cv(d: dict) -> str:
    rows = [[w, pct(v)] for w, v in d["top1_by_weight"].items()]
    return (f"The learned reader in {d['folds']}-fold cross-validation over the {d['posts']} "
            "real development posts (fitted on the written sets and the other folds), top-1 % "
            "by the weight the real posts are given in the fit:\n\n"
            + table(["weight of the real posts", "top-1"], rows, "rr"))


def label_agreement(d: dict) -> str:
    groups = [("all", "every post"), ("thread_labels", "labelled from the thread's answers"),
              ("framework_labels", "labelled from the framework's rules")]
    rows = [[what, d[k]["posts"], pct(d[k]["top1"]), pct(d[k]["in_acceptable"]),
             pct(d[k]["either_accepts"])] for k, what in groups if k in d]
    dis = ", ".join(f"{a.replace('->', '→')} ({n})" for a, n in d.get("disagreements", []))
    return ("A second annotator, given only the framework and each post's text, relabelled "
            "development posts; how often its reading matches the recorded label bounds what "
            "any advisor can score (%):\n\n"
            + table(["posts", "count", "same first choice", "in the recorded acceptable set",
                     "either accepts the other's"], rows, "lrrrr")
            + (f"\nDisagreements, recorded → second reading: {dis}.\n" if dis else ""))


def cold_advise(d: dict) -> str:
    med = d["median_wall_s"]
    return (f"Fresh `graft advise --json` processes on one task, the two embedder paths in "
            f"turn, {d['runs']} runs each: *\"{text(d['task'])}\"*\n\n"
            + table(["path", "median wall time, s"],
                    [["numpy encoder (default)", num(med["numpy"], 2)],
                     ["sentence-transformers", num(med["sentence-transformers"], 2)]], "lr")
            + f"\nnumpy over sentence-transformers: {ratio(d['ratio'])}; same advice from both: "
            f"{'yes' if d['same_advice'] else 'no'}. The first call in a new workspace, which "
            f"also embeds the signal prototypes: {num(d['first_call_s'], 2)} s.\n")


def rag_bench(d: dict) -> str:
    out = []
    pub = d.get("pubmedqa")
    if pub:
        g, b, r = pub["graftlm"], pub["baseline"], pub["ratios_graftlm_over_baseline"]
        rows = [[name, s["search"], s["embedder_backend"], s["chunks"], num(s["build_s"]),
                 num(s["chunks_per_s"]), f"{num(s['query_ms']['p50'])} / "
                 f"{num(s['query_ms']['p95'])}", f"{s['ndcg@10']:.4f}", f"{s['hit@10']:.3f}"]
                for name, s in (("graftlm", g), ("LangChain FAISS baseline", b))]
        out += [f"graftlm's index against the one a user would write with LangChain "
                f"({pub['corpus']}, {pub['queries']} questions):\n",
                table(["", "search", "embedder", "chunks", "build s", "chunks/s",
                       "query p50 / p95 ms", "nDCG@10", "hit@10"], rows, "lllrrrrrr"),
                f"\ngraftlm over the baseline: build throughput {ratio(r['build_throughput'])}, "
                f"query p50 {ratio(r['query_p50'])}, p95 {ratio(r['query_p95'])}, nDCG@10 "
                f"{ratio(r['ndcg@10'])}.\n"]
    for corpus, backends in d.get("backends", {}).items():
        rows = [[f"`{name}`", num(s["chunks_per_s"]), ratio(s["over_torch"]["chunks_per_s"]),
                 f"{s['ndcg@10_hybrid']:.4f}", f"{s['ndcg@10_dense']:.4f}"]
                for name, s in backends.items() if isinstance(s, dict)]
        out += [f"Embedder backends (`models.embedder_backend`) on `{corpus}` "
                f"({backends.get('queries')} questions):\n",
                table(["backend", "chunks/s", "vs torch", "nDCG@10 hybrid", "nDCG@10 dense"],
                      rows, "lrrrr")]
    ray = d.get("ray_build")
    if ray:
        rows = [[k.replace("_", " "), num(s["seconds"]), num(s["chunks_per_s"]),
                 ratio(s["over_local"]), "yes" if s["same_chunks"] else "no",
                 s["max_vector_diff"]] for k, s in ray.items() if isinstance(s, dict)]
        out += [f"Index builds on Ray (`{ray['corpus']}`, {ray['cpus']} CPUs):\n",
                table(["build", "seconds", "chunks/s", "vs local", "same chunks",
                       "largest vector difference"], rows, "lrrrlr"),
                f"\n{text(ray.get('note', ''))}\n"]
    stores = d.get("stores")
    if stores:
        rows = [[name, f"{num(s['query_ms']['p50'])} / {num(s['query_ms']['p95'])}",
                 f"{s['ndcg@10']:.4f}"] for name, s in stores.items() if isinstance(s, dict)]
        out += [f"Stores, hybrid search (`{stores['corpus']}`, {stores['queries']} questions, "
                f"{stores['chunks']:,} chunks):\n",
                table(["store", "query p50 / p95 ms", "nDCG@10"], rows, "lrr")]
    return "\n".join(out)


def prompt_shapes(d: dict) -> str:
    rows = []
    for name, s in d["shapes"].items():
        st = s.get("settings") or {}
        rows.append([name, st.get("placement", "—"), st.get("k", "—"),
                     text(st.get("instruction", "—")),
                     f"{pct(s['f1']['mean'])} ({interval(*s['f1']['ci'])})",
                     pct(s["exact_match"]["mean"]), pct(s["contains"]["mean"]),
                     num(s["seconds_per_query"], 2)])
    return (f"{d['questions']} SQuAD questions about one article, answered greedily by the "
            f"untuned {d['model']} from the sources each prompt shape puts in its prompt "
            "(closed book: no sources). F1, exact match and answer contained in %, 95% "
            "intervals in brackets:\n\n"
            + table(["shape", "placement", "k", "instruction", "F1", "exact match", "contains",
                     "s/query"], rows, "llrlrrrr"))


def snips_intent(d: dict) -> str:
    card, tr = d.get("card_metrics", {}), d.get("training", {})
    rows = [[h["step"], f"{h['loss']:.4f}", pct(h["metric"])] for h in card.get("history", [])]
    return (f"SNIPS intents: {d['train_examples']:,} utterances to train on, {d['dev_examples']} "
            f"held out. Exact match of the intent name: base model {pct(d['base_accuracy'])}%, "
            f"LoRA adapter **{pct(d['adapter_accuracy'])}%** ({tr.get('steps')} steps, "
            f"{num(d['train_seconds'], 0)} s including its evaluations). The adapter's own "
            "evaluations during training (on its held-out split):\n\n"
            + table(["step", "eval loss", "exact match %"], rows, "rrr"))


def train_bench(d: dict) -> str:
    out = ["graftlm's training loop against a plain `Trainer` + peft with the same LoRA, batch "
           "and steps, each run in its own process:\n"]
    for shape, runs in d["shapes"].items():
        rows = [[name.replace("_", " "), r["batch"], r["steps"], r["median_tokens"],
                 num(r["tokens_per_s"]), f"{r['peak_rss_mib']:,}", f"{r['eval_loss']:.4f}"]
                for name, r in runs.items() if isinstance(r, dict) and "batch" in r]
        rt = runs["ratios_graftlm_over_baseline"]
        out += [f"Shape `{shape}`:\n",
                table(["run", "batch", "steps", "median tokens", "tokens/s", "peak MiB",
                       "eval loss"], rows, "lrrrrrr"),
                f"\ngraftlm over the baseline: tokens/s {ratio(rt['tokens_per_s'])}, peak "
                f"memory {ratio(rt['peak_rss_mib'])}, eval loss {ratio(rt['eval_loss'])}."
                + (f" Packed over unpacked tokens/s: "
                   f"{ratio(runs['packed_over_unpacked_tokens_per_s'])}."
                   if "packed_over_unpacked_tokens_per_s" in runs else "") + "\n"]
    return "\n".join(out)


def peft_methods(d: dict) -> str:
    served = d.get("served_latency_ms", {})
    head = ["method", "lr", "choice accuracy", "exact match", "trainable", "training s",
            "tokens/s", "peak MiB", "served ms", "× base"]
    rows = [[f"`{m}`", f"{r['learning_rate']:g}", pct(r["choice_accuracy"]),
             pct(r["exact_match"]), f"{r['trainable_parameters']:,}",
             num(r["training_seconds"], 0), num(r["tokens_per_second"], 0),
             f"{r['peak_memory_mib']:,.0f}", num(served.get(m), 0),
             num(served[m] / r["served_base_ms"], 2) if r.get("served_base_ms") and
             served.get(m) else "—"]
            for m, r in d["methods"].items()]
    base = next(iter(d["methods"].values()))["base_choice_accuracy"]
    out = [f"Every method through `graft train --method M` on SNIPS intents: "
           f"{d['train_examples']} utterances to train on, {d['dev_examples']} held out, "
           f"{d['epochs']:g} epoch at batch 8. Base model choice accuracy {pct(base)}; served "
           f"latency is the median of greedy 8-token answers through a `graft serve --engine "
           f"local`, and × base divides it by the base model's through the same gateway (rows "
           f"kept from an earlier run keep that run's base). Accuracies in %:\n",
           table(head, rows, "lrrrrrrrrr")]
    grid = d.get("grid")
    if grid:
        rows = [[f"`{m.split('-x')[0]}`", f"{r['learning_rate']:g}", pct(r["choice_accuracy"]),
                 pct(r["exact_match"]), num(r["training_seconds"], 0), num(r["wall_seconds"], 0)]
                for m, r in grid.items()]
        out += ["The manual grid, each method at a higher rate:\n",
                table(["method", "lr", "choice accuracy", "exact match", "training s",
                       "wall s"], rows, "lrrrrr")]
    auto = d.get("auto")
    if auto and auto.get("ok"):
        c = auto["chosen"]
        over = ("the same methods" if "searched" not in auto else
                ", ".join(f"`{m}`" for m in auto["searched"]))
        out.append(f"`graft train --auto` over {over}, with a budget of "
                   f"{auto['budget_seconds']:,} s: {auto['trials']} trials ({auto['finished']} "
                   f"finished); chose `{c['method']}` rank {c.get('rank')}, targets "
                   f"`{c.get('targets')}`, {c.get('epochs'):g} epochs. Choice accuracy "
                   f"**{pct(auto['choice_accuracy'])}** against the grid's best "
                   f"({auto['grid_best'].split('-x')[0]} at the higher rate) "
                   f"{pct(auto['grid_best_choice_accuracy'])}; {num(auto['wall_seconds'], 0)} s "
                   f"of wall time in all, {pct(auto['share_of_grid_time'], 0)}% of the grid's "
                   f"{num(auto['grid_seconds'], 0)} s.\n")
    return "\n".join(out)


def peer_train(d: dict) -> str:
    lf, g = d["llamafactory"], d["graft"]
    rows = [["graftlm", "yes", num(g["wall_seconds"]), num(g["training_seconds"]),
             num(g["tokens_per_second"]), f"{g['peak_memory_mib']:,.0f}",
             pct(g["choice_accuracy"]), pct(g["exact_match"])]]
    if lf.get("ok"):
        rows.append(["LLaMA-Factory", "yes", num(lf["wall_seconds"]),
                     num(lf.get("training_seconds")), num(lf.get("tokens_per_second")),
                     num(lf.get("peak_memory_mib"), 0), pct(lf.get("choice_accuracy")),
                     pct(lf.get("exact_match"))])
    else:
        rows.append(["LLaMA-Factory", "no", num(lf["wall_seconds"])] + ["—"] * 5)
    last = text(str(lf.get("error", "")).strip().splitlines()[-1]) if lf.get("error") else ""
    return (f"`graft train` beside LLaMA-Factory with the same LoRA on the same SNIPS file "
            f"({d['train_examples']} to train on, {d['dev_examples']} held out, "
            f"{d['epochs']:g} epoch, learning rate {d['learning_rate']:g}):\n\n"
            + table(["tool", "ran", "wall s", "training s", "tokens/s", "peak MiB",
                     "choice accuracy %", "exact match %"], rows, "llrrrrrr")
            + (f"\nLLaMA-Factory's error, last line: `{last}`\n" if last else ""))


def serve_bench(d: dict) -> str:
    g1, g8 = d["gateway_vs_direct_1"], d["gateway_vs_direct_8"]
    eng, ad = d["engines_tok_s"], d["vllm_adapter_vs_base"]
    rag, bw = d["rag_breakdown_ms"], d["decode_vs_bandwidth"]
    rows = [
        ["gateway in front of vLLM vs vLLM direct, 1 stream",
         f"{g1['added_p50_ms']:+.1f} ms p50, throughput {ratio(g1['throughput_ratio'])}"],
        ["the same, 8 concurrent streams",
         f"{g8['added_p50_ms']:+.1f} ms p50, throughput {ratio(g8['throughput_ratio'])}"],
        ["vLLM engine vs plain transformers `generate`, tok/s",
         f"{num(eng['vllm']['single_tok_s'])} vs {num(eng['transformers']['single_tok_s'])} "
         f"single ({ratio(eng['vllm_over_transformers_single'])}); "
         f"{num(eng['vllm']['eight_tok_s'])} vs {num(eng['transformers']['eight_tok_s'])} "
         f"8-way ({ratio(eng['vllm_over_transformers_eight'])})"],
        ["local engine, tok/s", f"{num(eng['local']['single_tok_s'])} single, "
         f"{num(eng['local']['eight_tok_s'])} 8-way"],
        ["adapter from a merged copy vs base, on vLLM, tok/s",
         f"{num(ad['merged']['single_tok_s'])} vs {num(ad['base']['single_tok_s'])} single "
         f"({ratio(ad['merged_over_base_single'])}); {num(ad['merged']['eight_tok_s'])} vs "
         f"{num(ad['base']['eight_tok_s'])} 8-way ({ratio(ad['merged_over_base_eight'])})"],
        ["the same adapter through vLLM's CPU LoRA path, tok/s",
         f"{num(ad['lora']['single_tok_s'])} single ({ratio(ad['lora_over_base_single'])}); "
         f"{num(ad['lora']['eight_tok_s'])} 8-way ({ratio(ad['lora_over_base_eight'])})"],
        ["retrieval-augmented request", f"retrieval {num(rag['retrieval'], 0)} ms, prefill "
         f"{num(rag['prefill'], 0)} ms, decode {num(rag['decode'], 0)} ms"],
        ["single-stream decode vs the memory-bandwidth bound",
         f"{num(bw['vllm_single_decode_tok_s'])} tok/s = {pct(bw['share_of_bound'], 0)}% of "
         f"{num(bw['bound_tok_s'])} tok/s ({num(bw['weights_mb'], 0)} MB of {bw['dtype']} "
         f"weights at {num(bw['read_bandwidth_gbs'])} GB/s)"],
    ]
    return (f"Greedy requests of {d['tokens']} tokens, medians over {d['rounds']} rounds, the "
            "arms of each comparison alternating:\n\n" + table(["comparison", "figure"], rows))


def load_bench(d: dict) -> str:
    rows = [[lv["clients"], lv["requests"], num(lv["answered_per_s"], 2),
             num(lv["tokens_per_s"]), f"{num(lv['p50_ms'] / 1000)} / {num(lv['p99_ms'] / 1000)}",
             pct(lv["refused_429_share"], 0), pct(lv["failed_share"], 0)] for lv in d["levels"]]
    bad = [[text(b["input"]), b["status"], text(b["message"])] for b in d.get("bad_inputs", [])]
    return (f"`graft serve` on the {d['engine']} engine with an adapter and an index, "
            f"`serving.max_in_flight` {d['max_in_flight']} and `serving.max_queue` "
            f"{d['max_queue']}; at each level that many clients send a mix of base, adapter, "
            f"retrieval and streamed requests of {d['tokens']} tokens back to back for "
            f"{num(d['seconds_per_level'], 0)} s. Refusals with 429 start at "
            f"{d.get('429s_start_at_clients')} clients.\n\n"
            + table(["clients", "requests", "answered/s", "tokens/s", "p50 / p99 s",
                     "refused (429) %", "failed otherwise %"], rows, "rrrrrrr")
            + "\nEach bad input, sent once:\n\n"
            + table(["input", "status", "message"], bad, "lrl"))


def abuse_probe(d: dict) -> str:
    rows = [[text(p["probe"]), p["expected"], f"{p['status']} {p.get('code') or ''}".strip(),
             "yes" if p["ok"] else "**no**"] for p in d["probes"]]
    return ("Hostile requests against a live `graft serve --engine local` with an API key, an "
            "admin key, a connection cap and a short body deadline:\n\n"
            + table(["request", "expected", "got", "as expected"], rows, "lrrl"))


def verdicts(d: dict) -> str:
    rows = []
    for t in d["tasks"]:
        arms = ", ".join(f"{ARMS.get(a['id'], a['id'])} {pct(a['score'])}"
                         + (f" ({pct(a['p_best'], 0)}%)" if a.get("p_best") is not None else "")
                         for a in t["arms"] if a["status"] == "measured")
        rows.append([t["task"], text(t["expected"]), text(t["headline"]),
                     "yes" if t["met"] else "**no**", arms,
                     f"{text(t['baseline']['name'])} {pct(t['baseline']['score'])}",
                     f"{t['held_out']} of {t['examples']}"])
    return (f"`graft advise --measure` at a budget of {d['budget']} on each task, beside the "
            "verdict an expert would give. Arms: score (chance of being the best):\n\n"
            + table(["task", "expert's verdict", "graftlm's headline", "met", "arms",
                     "trivial baseline", "held out"], rows))


def measured_advice(d: dict) -> str:
    m = d["measurement"]
    metrics = m["metrics"]
    rows = []
    for a in m["arms"]:
        if a["status"] == "measured":
            rows.append([ARMS.get(a["id"], a["id"]), *(pct(a["metrics"].get(k)) for k in metrics),
                         interval(a["ci_low"], a["ci_high"]), num(a["build_seconds"], 0),
                         num(a["seconds_per_query"], 2), a["train_examples"]])
        else:  # skipped, with the reason in the last column
            rows.append([ARMS.get(a["id"], a["id"]), *["—"] * (len(metrics) + 3),
                         text(a.get("reason") or a["status"])])
    majority = (f" Always answering the most common label scores "
                f"{pct(m['majority_score'])}." if m.get("majority_score") is not None else "")
    return (f"{m['examples']} labelled examples, {m['held_out']} held out, metric "
            f"`{m['metric']}`, budget {num(m['budget_seconds'] / 60, 0)} min "
            f"({num(m['seconds'] / 60, 0)} min taken). Scores in %:\n\n"
            + table(["arm", *metrics, "95% interval", "build s", "s/query", "train examples"],
                    rows, "l" + "r" * (len(metrics) + 4))
            + f"\nRecommendation: `{d['recommendation']}` (confidence "
            f"{d.get('confidence_label')}).{majority} Verdict: {text(m['verdict'])}\n")


def generic(d) -> str:
    flat = {}

    def walk(value, key=""):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif not isinstance(value, list) and len(flat) < 40:
            flat[key] = value
    walk(d)
    return table(["figure", "value"], [[f"`{k}`", text(v)] for k, v in flat.items()])


# (file under results/, script and its arguments, title, renderer)
SECTIONS = [
    ("advisor_accuracy.json", "advisor_accuracy.py", "Advisor accuracy", advisor_accuracy),
    ("reader_cv.json", "fit_advisor_reader.py --cv", "The learned reader, cross-validated",
     reader_cv),
    ("label_agreement.json", "label_agreement.py", "How far two expert readings agree",
     label_agreement),
    ("cold_advise.json", "cold_advise.py", "A cold graft advise", cold_advise),
    ("rag_bench.json", "rag_bench.py", "Retrieval: build, search, scale", rag_bench),
    ("prompt_shapes.json", "prompt_shapes.py", "The retrieval prompt's shape", prompt_shapes),
    ("snips_intent.json", "snips_intent.py", "Skill gain on SNIPS", snips_intent),
    ("train_bench.json", "train_bench.py", "Training speed and memory", train_bench),
    ("peft_methods.json", "peft_methods.py", "PEFT methods and --auto", peft_methods),
    ("peer_train.json", "peer_train.py", "graft train beside LLaMA-Factory", peer_train),
    ("serve_bench.json", "serve_bench.py", "Serving", serve_bench),
    ("load_bench.json", "load_bench.py", "The gateway under load", load_bench),
    ("abuse_probe.json", "abuse_probe.py", "Hostile requests", abuse_probe),
    ("verdicts.json", "verdicts.py", "The verdict suite", verdicts),
]


def _machine(d) -> str:
    if not isinstance(d, dict):
        return ""
    seen = []
    machine = d.get("machine")
    if isinstance(machine, dict):
        seen += [f"{k} {v}" for k, v in machine.items()]
    elif machine:
        seen.append(str(machine))
    for key in ("cpus", "cores"):
        if key in d and not isinstance(machine, dict):
            seen.append(f"{d[key]} {key}")
    return ("Machine recorded: " + ", ".join(seen) + ".") if seen else ""


def _section(title: str, rel: str, script: str | None, body: str, d) -> str:
    source = (f"From `{rel}`, written by `python benchmarks/{script}`." if script
              else f"From `{rel}` (no script of `benchmarks/` is known to write it).")
    return "\n\n".join([f"## {title}", (source + " " + _machine(d)).strip(), body])


def render(bench: Path, header: str) -> str:
    results = bench / "results"
    out = [header.format(source="the JSON files of `benchmarks/results/`"), "# Benchmarks\n",
           "Every benchmark figure in these docs comes from a JSON file that a script in "
           "`benchmarks/` wrote, and this page is drawn from those files. Each run is one run on the machine it "
           "names, usually a shared 2-core CPU: read differences of a few points as noise. "
           "`make bench` runs the main scripts; each script's `--help` says how to run it "
           "alone.\n"]
    known = set()
    for name, script, title, render_one in SECTIONS:
        path = results / name
        if path.is_file():
            known.add(path)
            d = json.loads(path.read_text(encoding="utf-8"))
            out.append(_section(title, f"benchmarks/results/{name}", script, render_one(d), d))
    for path in sorted(results.glob("*/advice.json")):
        known.add(path)
        task = path.parent.name.removeprefix("measured_")
        d = json.loads(path.read_text(encoding="utf-8"))
        out.append(_section(f"Measured advice on {task}", path.relative_to(bench.parent)
                            .as_posix(), f"measured_advice.py --task {task}",
                            measured_advice(d), d))
    for path in sorted(results.glob("*.json")):
        if path not in known:
            d = json.loads(path.read_text(encoding="utf-8"))
            script = path.stem + ".py" if (bench / f"{path.stem}.py").is_file() else None
            out.append(_section(path.stem.replace("_", " "), f"benchmarks/results/{path.name}",
                                script, generic(d), d))
    return re.sub(r"\n{3,}", "\n\n", "\n\n".join(out))
