"""The index artifact: build, update and load a hybrid (dense + sparse BM25) index.

An index lives in the workspace under ``indexes/<name>/``: ``chunks.jsonl`` (the chunk store),
``vectors.npy`` (one embedding per chunk, kept so an update re-embeds only changed files),
``manifest.json`` (embedder and dimension, chunking parameters, every source file with its
hash, counts, the store and its dense index type and measured recall, format version), and what
its store keeps there (:mod:`rag.store`: ``dense.faiss`` and ``sparse/`` by default; a Milvus
collection elsewhere). Builds are written atomically: a failed or interrupted build leaves the
previous index intact and loadable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from graftlm.core.embedder import Embedder
from graftlm.core.errors import ArtifactError, ConfigError, DocumentLoadError, InputError
from graftlm.core.lineage import file_sha256, version_of
from graftlm.core.settings import MilvusSettings, RagSettings
from graftlm.core.workspace import Artifact, Workspace, write_manifest
from graftlm.rag.chunking import Chunk, chunk_all, make_splitter
from graftlm.rag.loaders import discover, load
from graftlm.rag.milvus import MilvusStore, forget
from graftlm.rag.store import FolderStore, Store, StoreWriter, read_chunks, write_chunks

KIND = "indexes"
FORMAT_VERSION = 1


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
# What an executor yields per file it was given: (path relative to the folder, sha256, and
# either (chunks, their vectors) or why the file was skipped).
Outcome = tuple[str, str, "tuple[list[Chunk], np.ndarray] | str"]
Executor = Callable[[Sequence[tuple[str, Path, str]], Path, RagSettings, Embedder, bool,
                     Progress], Iterable[Outcome]]


def build_index(folder: Path, name: str, *, workspace: Workspace, settings: RagSettings,
                embedder: Embedder, force: bool = False, strict: bool = False,
                update: bool = False, progress: Progress | None = None,
                executor: Executor | None = None, store: StoreWriter | None = None
                ) -> BuildReport:
    """Build (or, with ``update``, refresh) the index ``name`` over ``folder``.

    With ``update`` only new or changed files are loaded and embedded; deleted files are
    dropped. Unreadable files are skipped and reported, or fatal with ``strict``. The
    ``executor`` reads, chunks and embeds the files that need it (by default
    :func:`local_executor`; :mod:`rag.ray_build` spreads them over a Ray cluster); the ``store``
    holds what is searched (by default FAISS and BM25 files in the index folder).

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
    todo, ready = [], {}
    for path in files:
        rel = path.relative_to(folder).as_posix()
        sha = file_sha256(path)
        if rel in previous and previous[rel][0] == sha:
            ready[rel] = (sha, previous[rel][1], previous[rel][2])
            report.reused_files += 1
        else:
            todo.append((rel, path, sha))
    run = executor or local_executor
    for rel, sha, outcome in run(todo, folder, settings, embedder, strict, progress):
        if isinstance(outcome, str):
            report.skipped.append((rel, outcome))
        else:
            ready[rel] = (sha, *outcome)
            report.embedded += len(outcome[0])
    kept = [(rel, *ready[rel]) for rel in (p.relative_to(folder).as_posix() for p in files)
            if rel in ready]
    report.removed_files = sorted(set(previous) - {rel for rel, *_ in kept})
    if not kept:
        why = "; ".join(f"{f}: {r}" for f, r in report.skipped[:5])
        raise DocumentLoadError(folder, f"has no readable text in {len(files)} files ({why})")

    chunks, blocks, files_meta = [], [], {}
    for rel, sha, file_chunks, vecs in kept:
        chunks.extend(file_chunks)
        blocks.append(vecs)
        files_meta[rel] = {"sha256": sha, "chunks": len(file_chunks), "kind": file_chunks[0].kind}
    vectors = np.vstack(blocks).astype(np.float32)
    report.files, report.chunks = len(kept), len(chunks)
    store = store or FolderStore
    with workspace.writer(KIND, name, replace=True) as staging:
        progress("indexing", 0, 1)
        write_chunks(staging / "chunks.jsonl", chunks)
        np.save(staging / "vectors.npy", vectors)
        # Read under the write lock (after any interrupted publish is recovered).
        previous = workspace.get(KIND, name).manifest if workspace.exists(KIND, name) else None
        described = store.write(staging, chunks, vectors, name=name, settings=settings,
                                previous=previous)
        report.dense = described["dense"]["type"]
        report.recall_at_10 = described["dense"].get("recall_at_10")
        report.seconds = round(time.perf_counter() - started, 2)
        write_manifest(staging, "index", {
            "name": name, "source_folder": str(folder), "embedder": embedder.name,
            "embedder_backend": getattr(embedder, "backend", None),
            "dim": embedder.dim, "chunking": _chunking(settings), "files": files_meta,
            "skipped": [{"file": f, "reason": r} for f, r in report.skipped],
            "chunk_count": len(chunks), **described, "build_seconds": report.seconds,
        }, version=FORMAT_VERSION)
        progress("indexing", 1, 1)
    store.published(described)
    forget_store(previous, settings.milvus, now=described.get("store"))
    return report


def remove_index(name: str, *, workspace: Workspace, milvus: MilvusSettings) -> Path:
    """Delete index ``name``, and what its store holds outside the workspace (a Milvus alias
    and collections); returns where the index was."""
    manifest = workspace.get(KIND, name).manifest
    path = workspace.remove(KIND, name)
    forget_store(manifest, milvus)
    return path


def forget_store(manifest: dict | None, milvus: MilvusSettings, now: dict | None = None) -> None:
    """Drop the collections the build ``manifest`` names from its Milvus (and the alias, if it
    still points at one of them), unless the index's store ``now`` is that same Milvus under
    the same alias, whose writer retires its own builds. Only named collections go, so a build
    that started since keeps its own. A failure is a warning naming what was left: the index
    itself is gone or replaced either way."""
    entry = (manifest or {}).get("store") or {}
    if entry.get("type") != "milvus":
        return
    if now and now.get("type") == "milvus" and all(now.get(key) == entry.get(key)
                                                   for key in ("uri", "alias")):
        return

    try:
        forget(entry, milvus)
    except Exception as exc:  # noqa: BLE001 - pymilvus and grpc errors alike
        logging.getLogger("graftlm").warning(
            "the index no longer uses Milvus at %s, but its alias %s and collections %s could "
            "not be dropped there (%s); drop them with the Milvus client.", entry.get("uri"),
            entry.get("alias"), [entry.get("collection"), *entry.get("earlier", [])], exc)


def local_executor(todo: Sequence[tuple[str, Path, str]], folder: Path, settings: RagSettings,
                   embedder: Embedder, strict: bool, progress: Progress) -> Iterator[Outcome]:
    """Read, chunk and embed files in this process: every file is read first (so that
    ``strict`` fails before any embedding), then all chunks are embedded in batches."""
    splitter = make_splitter(settings.chunk_tokens, settings.chunk_overlap, embedder.count_tokens)
    read: list[tuple[str, str, list[Chunk]]] = []
    for i, (rel, path, sha) in enumerate(todo):
        progress("reading", i, len(todo))
        found = read_file(path, folder, rel, settings, splitter, strict)
        if isinstance(found, str):
            yield rel, sha, found
        else:
            read.append((rel, sha, found))
    progress("reading", len(todo), len(todo))
    vectors = embed_chunks(embedder, [c for *_, cs in read for c in cs], settings.batch_size,
                           progress)
    offset = 0
    for rel, sha, chunks in read:
        yield rel, sha, (chunks, vectors[offset:offset + len(chunks)])
        offset += len(chunks)


def read_file(path: Path, folder: Path, rel: str, settings: RagSettings, splitter,
              strict: bool) -> list[Chunk] | str:
    """The chunks of one file, or why it was skipped.

    Raises:
        DocumentLoadError: with ``strict``, instead of skipping.
    """
    try:
        sources = load(path, folder, max_bytes=int(settings.max_file_mb * 1e6),
                       text_field=settings.text_field, id_field=settings.id_field,
                       max_pages=settings.max_pages, max_seconds=settings.max_file_seconds)
    except DocumentLoadError as exc:
        if strict:
            raise
        return exc.reason
    except OSError as exc:
        if strict:
            raise DocumentLoadError(rel, f"cannot be read ({exc.strerror})") from None
        return f"cannot be read ({exc.strerror})"
    except Exception as exc:  # noqa: BLE001 - one file's reader failing must not end the build
        reason = f"could not be read ({type(exc).__name__}: {exc})"
        if strict:
            raise DocumentLoadError(rel, reason) from None
        return reason
    return chunk_all(sources, splitter) or "has no text"


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


class Index:
    """A loaded index: its manifest, the embedder that queries it, and its store."""

    def __init__(self, artifact: Artifact, embedder: Embedder, store: Store):
        self.name = artifact.name
        self.path = artifact.path
        self.manifest = artifact.manifest
        self.embedder = embedder
        self.store = store
        # Which build this is, read with it (under the read lock): what lineage names.
        self.version = version_of(artifact)
        if "collection" in self.manifest.get("store", {}):
            self.version["collection"] = self.manifest["store"]["collection"]

    def __len__(self) -> int:
        return len(self.store)

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk, in build order."""
        return self.store.chunks


def load_index(name: str, *, workspace: Workspace, embedder: Embedder,
               milvus: MilvusSettings | None = None) -> Index:
    """Load index ``name``; refuse one built with another embedder than ``embedder``. Every file
    is read under the workspace's read lock, so a rebuild publishing meanwhile waits: the
    loaded index is one version, whole. An index held in Milvus is searched in the collection
    its manifest names, which no later build changes (``milvus`` gives the credentials)."""
    with workspace.reading(KIND, name) as artifact:
        return _checked(artifact, name, embedder, milvus)


def _checked(artifact: Artifact, name: str, embedder: Embedder,
             milvus: MilvusSettings | None) -> Index:
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
    if manifest.get("store", {}).get("type", "faiss") == "milvus":
        return Index(artifact, embedder,
                     MilvusStore(manifest["store"], milvus, manifest["chunk_count"]))
    return Index(artifact, embedder, FolderStore(artifact.path))


def source_folder(workspace: Workspace, name: str) -> Path:
    """The folder an index was built from (for ``graft index update``)."""
    folder = Path(workspace.get(KIND, name).manifest["source_folder"])
    if not folder.is_dir():
        raise InputError(f"index '{name}' was built from {folder}, which no longer exists; "
                         "pass the folder explicitly.")
    return folder
