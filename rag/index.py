"""The index artifact: build, update and load a hybrid (dense FAISS + sparse BM25) index.

An index lives in the workspace under ``indexes/<name>/``: ``chunks.jsonl`` (the chunk store),
``vectors.npy`` (one embedding per chunk, kept so an update re-embeds only changed files),
``dense.faiss``, ``sparse/`` (bm25s) and ``manifest.json`` (embedder and dimension, chunking
parameters, every source file with its hash, counts, the dense index type and its measured
recall, format version). Builds are written atomically: a failed or interrupted build leaves the
previous index intact and loadable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graftlm.embedder import Embedder
from graftlm.errors import ArtifactError, ConfigError, DocumentLoadError, InputError
from graftlm.lineage import file_sha256
from graftlm.settings import RagSettings
from graftlm.workspace import Artifact, Workspace, write_manifest
from rag.chunking import Chunk, chunk_all, make_splitter
from rag.loaders import discover, load

KIND = "indexes"
FORMAT_VERSION = 1
RECALL_SAMPLE = 200


@dataclass
class BuildReport:
    """What a build or update did, for the summary line."""

    name: str
    path: Path
    files: int = 0
    chunks: int = 0
    embedded: int = 0
    reused_files: int = 0
    removed_files: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    dense: str = "flat"
    recall_at_10: float | None = None
    seconds: float = 0.0


Progress = Callable[[str, int, int], None]  # (stage, done, total)


def build_index(folder: Path, name: str, *, workspace: Workspace, settings: RagSettings,
                embedder: Embedder, force: bool = False, strict: bool = False,
                update: bool = False, progress: Progress | None = None) -> BuildReport:
    """Build (or, with ``update``, refresh) the index ``name`` over ``folder``.

    With ``update`` only new or changed files are loaded and embedded; deleted files are
    dropped. Unreadable files are skipped and reported, or fatal with ``strict``.

    Raises:
        ArtifactError: the name exists and neither ``force`` nor ``update`` was given.
        DocumentLoadError: the folder is empty or holds no readable text (or, with ``strict``,
            any file fails to load).
    """
    started = time.perf_counter()
    progress = progress or (lambda *_: None)
    if workspace.exists(KIND, name) and not (force or update):
        raise ArtifactError(f"an index named '{name}' already exists; pass --force to rebuild "
                            f"it or use `graft index update {name}`.")
    folder = Path(folder).resolve()
    previous = _previous(workspace, name, settings, embedder) if update else {}
    report = BuildReport(name, workspace.path(KIND, name))
    files = discover(folder)
    if not files:
        raise DocumentLoadError(folder, "is empty; put documents (.txt, .md, .html, .pdf, "
                                ".jsonl) in it")
    splitter = make_splitter(settings.chunk_tokens, settings.chunk_overlap, embedder.count_tokens)
    kept: list[tuple[str, str, list[Chunk], np.ndarray | None]] = []
    for i, path in enumerate(files):
        progress("reading", i, len(files))
        rel = path.relative_to(folder).as_posix()
        sha = file_sha256(path)
        if rel in previous and previous[rel][0] == sha:
            kept.append((rel, sha, previous[rel][1], previous[rel][2]))
            report.reused_files += 1
            continue
        try:
            sources = load(path, folder, max_bytes=int(settings.max_file_mb * 1e6),
                           text_field=settings.text_field, id_field=settings.id_field)
        except DocumentLoadError as exc:
            if strict:
                raise
            report.skipped.append((rel, exc.reason))
            continue
        except OSError as exc:
            if strict:
                raise DocumentLoadError(rel, f"cannot be read ({exc.strerror})") from None
            report.skipped.append((rel, f"cannot be read ({exc.strerror})"))
            continue
        chunks = chunk_all(sources, splitter)
        if not chunks:
            report.skipped.append((rel, "has no text"))
            continue
        kept.append((rel, sha, chunks, None))
    progress("reading", len(files), len(files))
    report.removed_files = sorted(set(previous) - {rel for rel, *_ in kept})
    if not kept:
        why = "; ".join(f"{f}: {r}" for f, r in report.skipped[:5])
        raise DocumentLoadError(folder, f"has no readable text in {len(files)} files ({why})")

    todo = [c for _, _, chunks, vecs in kept if vecs is None for c in chunks]
    fresh = embed_chunks(embedder, todo, settings.batch_size, progress)
    report.embedded = len(todo)
    chunks, blocks, offset, files_meta = [], [], 0, {}
    for rel, sha, file_chunks, vecs in kept:
        if vecs is None:
            vecs = fresh[offset:offset + len(file_chunks)]
            offset += len(file_chunks)
        chunks.extend(file_chunks)
        blocks.append(vecs)
        files_meta[rel] = {"sha256": sha, "chunks": len(file_chunks), "kind": file_chunks[0].kind}
    vectors = np.vstack(blocks).astype(np.float32)
    report.files, report.chunks = len(kept), len(chunks)

    with workspace.writer(KIND, name, replace=True) as staging:
        progress("indexing", 0, 1)
        _write_chunks(staging / "chunks.jsonl", chunks)
        np.save(staging / "vectors.npy", vectors)
        dense, recall = _dense_index(vectors, settings.exact_max_chunks)
        import faiss

        faiss.write_index(dense, str(staging / "dense.faiss"))
        _sparse_index(chunks).save(str(staging / "sparse"), show_progress=False)
        report.dense, report.recall_at_10 = ("flat" if recall is None else "hnsw"), recall
        report.seconds = round(time.perf_counter() - started, 2)
        write_manifest(staging, "index", {
            "name": name, "source_folder": str(folder), "embedder": embedder.name,
            "embedder_backend": getattr(embedder, "backend", None),
            "dim": embedder.dim, "chunking": _chunking(settings), "files": files_meta,
            "skipped": [{"file": f, "reason": r} for f, r in report.skipped],
            "chunk_count": len(chunks), "dense": {"type": report.dense, "recall_at_10": recall},
            "sparse": {"type": "bm25s"}, "build_seconds": report.seconds,
        }, version=FORMAT_VERSION)
        progress("indexing", 1, 1)
    return report


def embed_chunks(embedder: Embedder, chunks: Sequence[Chunk], batch_size: int,
                 progress: Progress) -> np.ndarray:
    """Embed chunk texts in batches, reporting progress."""
    out = np.zeros((len(chunks), embedder.dim), dtype=np.float32)
    # Batches of similar length waste less padding.
    order = sorted(range(len(chunks)), key=lambda i: len(chunks[i].text))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        out[idx] = embedder.embed([chunks[i].embedding_text() for i in idx])
        progress("embedding", min(start + batch_size, len(order)), len(order))
    return out


def _previous(workspace: Workspace, name: str, settings: RagSettings,
              embedder: Embedder) -> dict[str, tuple[str, list[Chunk], np.ndarray]]:
    """Per source file of the existing index: its hash, chunks and vectors (for reuse)."""
    artifact = workspace.get(KIND, name)
    manifest = artifact.manifest
    if manifest.get("embedder") != embedder.name or manifest.get("chunking") != _chunking(settings):
        return {}  # different embedder or chunking: everything is rebuilt
    chunks = read_chunks(artifact.path / "chunks.jsonl")
    vectors = np.load(artifact.path / "vectors.npy")
    by_file: dict[str, tuple[str, list[Chunk], list[int]]] = {}
    for i, chunk in enumerate(chunks):
        sha = manifest["files"][chunk.source]["sha256"]
        by_file.setdefault(chunk.source, (sha, [], []))[1].append(chunk)
        by_file[chunk.source][2].append(i)
    return {rel: (sha, cs, vectors[idx]) for rel, (sha, cs, idx) in by_file.items()}


def _chunking(settings: RagSettings) -> dict:
    return {"chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap,
            "text_field": settings.text_field, "id_field": settings.id_field}


def _write_chunks(path: Path, chunks: Sequence[Chunk]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(chunk.to_dict(), ensure_ascii=False) + "\n")


def read_chunks(path: Path) -> list[Chunk]:
    with path.open(encoding="utf-8") as fh:
        return [Chunk.from_dict(json.loads(line)) for line in fh]


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


def sparse_tokens(texts: Sequence[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", return_ids=False, show_progress=False)


def _sparse_index(chunks: Sequence[Chunk]):
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(sparse_tokens([c.embedding_text() for c in chunks]), show_progress=False)
    return retriever


class Index:
    """A loaded index: chunks, dense and sparse structures, and its manifest."""

    def __init__(self, artifact: Artifact, embedder: Embedder):
        import bm25s
        import faiss

        self.name = artifact.name
        self.path = artifact.path
        self.manifest = artifact.manifest
        self.embedder = embedder
        self.chunks = read_chunks(artifact.path / "chunks.jsonl")
        self.dense = faiss.read_index(str(artifact.path / "dense.faiss"))
        if hasattr(self.dense, "hnsw"):
            self.dense.hnsw.efSearch = 64
        self.sparse = bm25s.BM25.load(str(artifact.path / "sparse"))


def load_index(name: str, *, workspace: Workspace, embedder: Embedder) -> Index:
    """Load index ``name``; refuse one built with another embedder than ``embedder``. Every file
    is read under the workspace's read lock, so a rebuild publishing meanwhile waits: the
    loaded index is one version, whole."""
    with workspace.reading(KIND, name) as artifact:
        return _checked(artifact, name, embedder)


def _checked(artifact: Artifact, name: str, embedder: Embedder) -> Index:
    manifest = artifact.manifest
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"index '{name}' has format version {manifest.get('format_version')}"
                            f"; this graftlm reads version {FORMAT_VERSION}. Rebuild it with "
                            f"`graft index build … --name {name} --force`.")
    if manifest.get("embedder") != embedder.name or manifest.get("dim") != embedder.dim:
        raise ConfigError(
            f"index '{name}' was built with the embedder '{manifest.get('embedder')}' "
            f"(dimension {manifest.get('dim')}), but the configured embedder is '{embedder.name}' "
            f"(dimension {embedder.dim}). Set models.embedder back, or rebuild the index.")
    return Index(artifact, embedder)


def source_folder(workspace: Workspace, name: str) -> Path:
    """The folder an index was built from (for ``graft index update``)."""
    folder = Path(workspace.get(KIND, name).manifest["source_folder"])
    if not folder.is_dir():
        raise InputError(f"index '{name}' was built from {folder}, which no longer exists; "
                         "pass the folder explicitly.")
    return folder
