"""graftlm's index against the baseline a user would otherwise write, in one process run.

Baseline: LangChain's FAISS vector store over ``HuggingFaceEmbeddings`` (sentence-transformers
under the hood), dense search only. graftlm: ``build_index`` (token-aware chunking, FAISS + BM25,
atomic write) and hybrid search. Both use the same embedded all-MiniLM-L6-v2 on the same corpus
(PubMedQA's 500 abstracts, `../shared/data/pubmedqa/`) and the same chunks, so build throughput
compares like for like.

    python benchmarks/rag_bench.py [--queries 200] [--scale 100000] [--out FILE]

Reports build throughput (chunks/s), query latency p50/p95, peak traced memory (Python and
numpy allocations; torch's own buffers are not traced) and nDCG@10/hit@10 against the gold
abstracts, as graftlm/baseline ratios; graftlm embeds with its default backend (ONNX Runtime,
int8 weights). Then every embedder backend (``models.embedder_backend``: onnx-int8, onnx,
torch) builds the index of PubMedQA and of the SQuAD Notre Dame paragraphs in turn: chunks/s
and nDCG@10 (hybrid and dense-only search), each against the float32 torch backend's.
Past one machine: PubMedQA built locally and on a local Ray with 1 and 2 embedding workers
(chunks/s, and whether the index is the same), and searched in each store — the folder store,
Milvus Lite through graftlm's fusion, Milvus's own hybrid search — for query p50/p95 and
nDCG@10 (``--only-scale-out`` runs just these). ``--scale N`` also builds and queries an index of
N synthetic chunks (exact and approximate dense index) and reports its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import tracemalloc
from functools import partial
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).parent
DATA = HERE.parent.parent / "shared" / "data" / "pubmedqa"


def timed(fn):
    tracemalloc.start()
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return value, seconds, peak / 2**20


def _summary(ms):
    ms = sorted(ms)
    return {"p50": round(statistics.median(ms), 2), "p95": round(ms[int(0.95 * (len(ms) - 1))], 2)}


def latencies(fn, queries):
    out = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000)
    return _summary(out)


def paired_latencies(fn_a, fn_b, queries):
    """Time A and B alternately on each query, so drift of the machine hits both alike."""
    a, b = [], []
    for q in queries:
        for fn, out in ((fn_a, a), (fn_b, b)):
            start = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - start) * 1000)
    return _summary(a), _summary(b)


def run_pubmedqa(n_queries: int) -> dict:
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    from graftlm.core.embedder import load_embedder
    from graftlm.core.models import embedder_location
    from graftlm.core.settings import ModelSettings, RagSettings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.evaluate import load_queries, metrics
    from graftlm.rag.index import build_index, load_index
    from graftlm.rag.retrieve import search

    settings = ModelSettings()
    embedder = load_embedder(settings)
    queries = load_queries(DATA / "questions.jsonl")[:n_queries]
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    docs = work / "docs"
    docs.mkdir()
    shutil.copy(DATA / "corpus.jsonl", docs / "corpus.jsonl")
    rag = RagSettings(id_field="_id")
    ws = Workspace(work / "home")

    report, ours_s, ours_mem = timed(lambda: build_index(docs, "pm", workspace=ws, settings=rag,
                                                          embedder=embedder))
    index = load_index("pm", workspace=ws, embedder=embedder)
    chunks = index.chunks

    base_emb = HuggingFaceEmbeddings(model_name=embedder_location(settings),
                                     model_kwargs={"device": "cpu"},
                                     encode_kwargs={"normalize_embeddings": True})
    lc_docs = [Document(page_content=c.text, metadata={"doc_id": c.doc_id}) for c in chunks]

    def baseline_build():
        store = FAISS.from_documents(lc_docs, base_emb)
        store.save_local(str(work / "baseline"))
        return store

    store, base_s, base_mem = timed(baseline_build)

    def quality(rank_docs):
        tot = {"ndcg@10": 0.0, "hit@10": 0.0}
        for q in queries:
            m = metrics(rank_docs(q.text), q.gold, 10)
            tot["ndcg@10"] += m["ndcg@10"]
            tot["hit@10"] += m["hit@10"]
        return {k: round(v / len(queries), 4) for k, v in tot.items()}

    def ours_docs(text):
        return list(dict.fromkeys(r.chunk.doc_id for r in search(index, text, k=30)))

    def base_docs(text):
        return list(dict.fromkeys(d.metadata["doc_id"]
                                  for d in store.similarity_search(text, k=30)))

    texts = [q.text for q in queries]
    ours_lat, base_lat = paired_latencies(lambda t: search(index, t, k=5),
                                          lambda t: store.similarity_search(t, k=5), texts)
    ours_q, base_q = quality(ours_docs), quality(base_docs)
    shutil.rmtree(work, ignore_errors=True)
    ours = {"chunks": report.chunks, "build_s": round(ours_s, 2),
            "chunks_per_s": round(report.chunks / ours_s, 1), "peak_traced_mib": round(ours_mem, 1),
            "query_ms": ours_lat, **ours_q, "search": "hybrid (dense + BM25, RRF)",
            "embedder_backend": embedder.backend}
    base = {"chunks": len(lc_docs), "build_s": round(base_s, 2),
            "chunks_per_s": round(len(lc_docs) / base_s, 1), "peak_traced_mib": round(base_mem, 1),
            "query_ms": base_lat, **base_q, "search": "dense (FAISS flat)",
            "embedder_backend": "sentence-transformers (torch, float32)"}
    ratios = {"build_throughput": round(ours["chunks_per_s"] / base["chunks_per_s"], 3),
              "query_p50": round(ours_lat["p50"] / base_lat["p50"], 3),
              "query_p95": round(ours_lat["p95"] / base_lat["p95"], 3),
              "ndcg@10": round(ours_q["ndcg@10"] / base_q["ndcg@10"], 4)}
    return {"corpus": "pubmedqa (500 abstracts)", "queries": len(queries), "graftlm": ours,
            "baseline": base, "ratios_graftlm_over_baseline": ratios}


def run_backends(n_queries: int) -> dict:
    """Each embedder backend on each corpus: build throughput and retrieval quality."""
    import numpy as np

    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import ModelSettings, RagSettings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.evaluate import load_queries, metrics
    from graftlm.rag.index import build_index, load_index
    from graftlm.rag.retrieve import search

    out: dict = {}
    for corpus in ("pubmedqa", "squad_notredame"):
        queries = load_queries(DATA.parent / corpus / "questions.jsonl")[:n_queries]
        rows = {}
        for backend in ("onnx-int8", "onnx", "torch"):
            embedder = load_embedder(ModelSettings(embedder_backend=backend))
            embedder.embed(["warm-up"])
            work = Path(tempfile.mkdtemp(prefix="rag-backend-"))
            (work / "docs").mkdir()
            shutil.copy(DATA.parent / corpus / "corpus.jsonl", work / "docs" / "corpus.jsonl")
            ws = Workspace(work / "home")
            report, seconds, _ = timed(partial(
                build_index, work / "docs", "b", workspace=ws,
                settings=RagSettings(id_field="_id"), embedder=embedder))
            index = load_index("b", workspace=ws, embedder=embedder)
            row = {"chunks": report.chunks, "chunks_per_s": round(report.chunks / seconds, 1)}
            for mode in ("hybrid", "dense"):
                row[f"ndcg@10_{mode}"] = round(float(np.mean([metrics(list(dict.fromkeys(
                    r.chunk.doc_id for r in search(index, q.text, k=30, mode=mode))), q.gold,
                    10)["ndcg@10"] for q in queries])), 4)
            rows[backend] = row
            shutil.rmtree(work, ignore_errors=True)
        for row in rows.values():
            row["over_torch"] = {
                "chunks_per_s": round(row["chunks_per_s"] / rows["torch"]["chunks_per_s"], 3),
                **{f"ndcg@10_{m}_diff": round(row[f"ndcg@10_{m}"] - rows["torch"][f"ndcg@10_{m}"],
                                              4) for m in ("hybrid", "dense")}}
        out[corpus] = {"queries": len(queries), **rows}
        print(corpus, json.dumps(out[corpus]), flush=True)
    return out


def run_scale(n: int) -> dict:
    """Build and query ``n`` short synthetic chunks: HNSW (chosen automatically above
    ``exact_max_chunks``) with its measured recall, and exact search over the same vectors."""
    import faiss
    import numpy as np

    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import ModelSettings, RagSettings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.index import build_index, load_index
    from graftlm.rag.retrieve import search

    rng = np.random.default_rng(0)
    vocab = ("router firmware reset warranty signal channel guest network password admin update "
             "light cable power band speed device client parental schedule refund order").split()
    work = Path(tempfile.mkdtemp(prefix="rag-scale-"))
    (work / "docs").mkdir()
    with (work / "docs" / "synthetic.jsonl").open("w") as fh:
        for i in range(n):
            words = " ".join(rng.choice(vocab, size=12))
            fh.write(json.dumps({"id": f"s{i}", "text": f"Note {i}: {words}."}) + "\n")
    embedder = load_embedder(ModelSettings())
    ws = Workspace(work / "home")
    rag = RagSettings(id_field="id", max_file_mb=500)  # default exact_max_chunks: 50,000
    report, seconds, peak = timed(lambda: build_index(work / "docs", "s", workspace=ws,
                                                      settings=rag, embedder=embedder))
    index = load_index("s", workspace=ws, embedder=embedder)
    queries = [" ".join(rng.choice(vocab, size=5)) for _ in range(100)]
    hybrid = latencies(lambda t: search(index, t, k=10), queries)
    vectors = np.load(ws.path("indexes", "s") / "vectors.npy")
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    qvecs = embedder.embed(queries)
    exact = latencies(lambda i: flat.search(qvecs[i:i + 1], 10), range(len(queries)))
    approx = latencies(lambda i: index.store.index.search(qvecs[i:i + 1], 10), range(len(queries)))
    shutil.rmtree(work, ignore_errors=True)
    return {"chunks": report.chunks, "build_s": round(seconds, 1),
            "chunks_per_s": round(report.chunks / seconds, 1), "dense": report.dense,
            "recall_at_10": report.recall_at_10, "hybrid_query_ms": hybrid,
            "dense_search_only_ms": {"hnsw": approx, "exact": exact},
            "peak_traced_mib": round(peak, 1)}


def run_ray(corpus: str) -> dict:
    """The same corpus built locally and on a local Ray with 1 and 2 embedding workers, in one
    run: chunks/s of each, its ratio to the local build's, and whether the index is the same."""
    import numpy as np

    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import ModelSettings, RagSettings, RaySettings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.index import build_index
    from graftlm.rag.ray_build import ray_executor

    models = ModelSettings()
    embedder = load_embedder(models)
    embedder.embed(["warm-up"])
    work = Path(tempfile.mkdtemp(prefix="rag-ray-"))
    (work / "docs").mkdir()
    shutil.copy(DATA.parent / corpus / "corpus.jsonl", work / "docs" / "corpus.jsonl")
    ws = Workspace(work / "home")
    rag = RagSettings(id_field="_id")
    runs = {"local": None, "ray_1_worker": RaySettings(workers=1),
            "ray_2_workers": RaySettings(workers=2)}
    rows = {}
    for name, ray in runs.items():
        executor = ray_executor(models, ray) if ray else None
        report, seconds, _ = timed(partial(build_index, work / "docs", name, workspace=ws,
                                           settings=rag, embedder=embedder,
                                           executor=executor))
        rows[name] = {"chunks": report.chunks, "seconds": round(seconds, 1),
                      "chunks_per_s": round(report.chunks / seconds, 1)}
        print(name, rows[name], flush=True)
    here = np.load(ws.path("indexes", "local") / "vectors.npy")
    for name in runs:
        path = ws.path("indexes", name)
        rows[name]["over_local"] = round(rows[name]["chunks_per_s"]
                                         / rows["local"]["chunks_per_s"], 3)
        rows[name]["same_chunks"] = ((path / "chunks.jsonl").read_text()
                                     == (ws.path("indexes", "local") / "chunks.jsonl").read_text())
        rows[name]["max_vector_diff"] = float(np.abs(np.load(path / "vectors.npy") - here).max())
    shutil.rmtree(work, ignore_errors=True)
    return {"corpus": corpus, "cpus": os.cpu_count(), **rows,
            "note": "Ray figures include starting a local Ray (a few seconds) and loading one "
                    "embedder per worker; on this machine every worker shares the same cores."}


def run_stores(n_queries: int) -> dict:
    """PubMedQA in each store: query p50/p95 and nDCG@10 of the folder store (FAISS + bm25s,
    fused by graftlm), of Milvus Lite with graftlm's fusion of Milvus's dense and BM25 searches
    (what graft serve does), and of Milvus's own hybrid search (its RRF ranker, k = 10)."""
    import numpy as np

    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import MilvusSettings, ModelSettings, RagSettings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.evaluate import load_queries, metrics
    from graftlm.rag.index import build_index, load_index
    from graftlm.rag.milvus import MilvusWriter, resolved
    from graftlm.rag.retrieve import search

    embedder = load_embedder(ModelSettings())
    queries = load_queries(DATA / "questions.jsonl")[:n_queries]
    work = Path(tempfile.mkdtemp(prefix="rag-stores-"))
    (work / "docs").mkdir()
    shutil.copy(DATA / "corpus.jsonl", work / "docs" / "corpus.jsonl")
    rag = RagSettings(id_field="_id")
    ws = Workspace(work / "home")
    milvus = resolved(MilvusSettings(uri=str(work / "milvus.db")), ws)
    build_index(work / "docs", "folder", workspace=ws, settings=rag, embedder=embedder)
    build_index(work / "docs", "milvus", workspace=ws, settings=rag, embedder=embedder,
                store=MilvusWriter(milvus, ws))
    folder = load_index("folder", workspace=ws, embedder=embedder)
    held = load_index("milvus", workspace=ws, embedder=embedder, milvus=milvus)

    def milvus_own(text):
        from pymilvus import AnnSearchRequest, RRFRanker

        store = held.store
        vector = embedder.embed([text])[0].tolist()
        found = store.client.hybrid_search(store.collection, [
            AnnSearchRequest([vector], "vector", {"metric_type": "IP"}, 50),
            AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, 50)],
            RRFRanker(10), limit=30, output_fields=["chunk"])
        return [h["entity"]["chunk"]["doc_id"] for h in found[0]]

    ways = {"folder (FAISS + bm25s)": lambda t: [r.chunk.doc_id for r in search(folder, t, k=30)],
            "milvus lite, graftlm fusion": lambda t: [r.chunk.doc_id
                                                     for r in search(held, t, k=30)],
            "milvus lite, its own hybrid search": milvus_own}
    out = {}
    for name, ranked in ways.items():
        ranked(queries[0].text)  # warm-up
        times, scores = [], []
        for q in queries:
            start = time.perf_counter()
            docs = list(dict.fromkeys(ranked(q.text)))
            times.append((time.perf_counter() - start) * 1000)
            scores.append(metrics(docs, q.gold, 10)["ndcg@10"])
        out[name] = {"query_ms": _summary(times), "ndcg@10": round(float(np.mean(scores)), 4)}
        print(name, out[name], flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return {"corpus": "pubmedqa", "queries": len(queries), "chunks": len(folder), **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--scale", type=int, default=0, help="also run N synthetic chunks")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "rag_bench.json")
    parser.add_argument("--only-scale-out", action="store_true",
                        help="run only the Ray build and store comparisons (and --scale)")
    args = parser.parse_args()
    result = {}
    if DATA.is_dir() and not args.only_scale_out:
        result = {"pubmedqa": run_pubmedqa(args.queries), "backends": run_backends(args.queries)}
    if DATA.is_dir():
        result["ray_build"] = run_ray("pubmedqa")
        result["stores"] = run_stores(args.queries)
    if args.scale:
        result["scale"] = run_scale(args.scale)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
