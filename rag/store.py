"""Where an index is searched: its store.

A build always leaves the chunks (``chunks.jsonl``) and their vectors (``vectors.npy``) in the
index folder — the record an update reuses — and hands both to a store, which makes them
searchable densely (by vector) and sparsely (by BM25 over words):

- :class:`FolderStore`, the default: a FAISS index and a bm25s index in the same folder,
  loaded into the process that searches.
- :class:`rag.milvus.MilvusStore`: a Milvus collection per build (Milvus Lite in a file or a
  server, or a Milvus cluster), shared by every process that serves the index.

Both answer in :class:`Hit`s: the chunk's position in the build (its line in ``chunks.jsonl``),
a score, and the chunk, so search and fusion do not care which store they talk to.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from graftlm.core.settings import RagSettings
from graftlm.rag.chunking import Chunk

RECALL_SAMPLE = 200


class Hit(NamedTuple):
    """One chunk found by one ranking."""

    position: int
    score: float
    chunk: Chunk


class StoreWriter(Protocol):
    """How a build is handed to a store."""

    def write(self, folder: Path, chunks: Sequence[Chunk], vectors: np.ndarray, *, name: str,
              settings: RagSettings, previous: dict | None) -> dict:
        """Make one build searchable; return what the manifest records of it (``store``,
        ``dense`` and ``sparse`` entries). ``folder`` is the build's staging folder;
        ``previous`` the manifest of the build it replaces, if any."""

    def published(self, described: dict) -> None:
        """Called once the build's manifest is published (a store may then retire old builds)."""


class Store(Protocol):
    """What search needs of a store: the best chunks for a vector or for words."""

    chunks: list[Chunk]

    def dense(self, vector: np.ndarray, depth: int) -> list[Hit]: ...

    def sparse(self, query: str, depth: int) -> list[Hit]: ...

    def __len__(self) -> int: ...


def write_chunks(path: Path, chunks: Sequence[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")


def read_chunks(path: Path) -> list[Chunk]:
    with path.open(encoding="utf-8") as fh:
        return [Chunk.from_dict(json.loads(line)) for line in fh]


def sparse_tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


class FolderStore:
    """FAISS (exact, or HNSW above ``rag.exact_max_chunks``) and bm25s, in the index folder."""

    kind = "faiss"

    def __init__(self, folder: Path):
        import bm25s
        import faiss

        self.chunks = read_chunks(folder / "chunks.jsonl")
        self.index = faiss.read_index(str(folder / "dense.faiss"))
        if hasattr(self.index, "hnsw"):
            self.index.hnsw.efSearch = 64
        self.bm25 = bm25s.BM25.load(str(folder / "sparse"))

    @classmethod
    def write(cls, folder: Path, chunks: Sequence[Chunk], vectors: np.ndarray, *, name: str,
              settings: RagSettings, previous: dict | None) -> dict:
        import bm25s
        import faiss

        dense, recall = _dense_index(vectors, settings.exact_max_chunks)
        faiss.write_index(dense, str(folder / "dense.faiss"))
        bm25 = bm25s.BM25()
        bm25.index(sparse_tokens([c.embedding_text() for c in chunks]), show_progress=False)
        bm25.save(str(folder / "sparse"), show_progress=False)
        return {"store": {"type": cls.kind},
                "dense": {"type": "flat" if recall is None else "hnsw", "recall_at_10": recall},
                "sparse": {"type": "bm25s"}}

    @classmethod
    def published(cls, described: dict) -> None:
        pass  # the folder is the build: publishing it retired the previous one

    def dense(self, vector: np.ndarray, depth: int) -> list[Hit]:
        scores, ids = self.index.search(np.asarray(vector, dtype=np.float32).reshape(1, -1),
                                        depth)
        return [Hit(int(i), round(float(s), 6), self.chunks[i])
                for i, s in zip(ids[0], scores[0]) if i >= 0]

    def sparse(self, query: str, depth: int) -> list[Hit]:
        vocab = self.bm25.vocab_dict
        tokens = [t for t in sparse_tokens([query])[0] if t in vocab]
        if not tokens:
            return []
        ids, scores = self.bm25.retrieve([tokens], k=min(depth, len(self.chunks)),
                                         show_progress=False, n_threads=1)
        return [Hit(int(i), round(float(s), 6), self.chunks[i])
                for i, s in zip(ids[0], scores[0]) if s > 0]

    def __len__(self) -> int:
        return len(self.chunks)


def _dense_index(vectors: np.ndarray, exact_max: int):
    """Exact inner product for small collections; HNSW above, with its recall@10 measured."""
    import faiss

    dim = vectors.shape[1]
    if len(vectors) <= exact_max:
        index = faiss.IndexFlatIP(dim)
        index.add(vectors)
        return index, None
    index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.add(vectors)
    index.hnsw.efSearch = 64
    rng = np.random.default_rng(0)
    sample = vectors[rng.choice(len(vectors), size=min(RECALL_SAMPLE, len(vectors)),
                                replace=False)]
    exact = np.argsort(-(sample @ vectors.T), axis=1)[:, :10]
    _, approx = index.search(sample, 10)
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx.tolist(), exact.tolist()))
    return index, round(hits / exact.size, 4)
