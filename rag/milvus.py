"""An index held in Milvus: one collection per build, shared by every process that serves it.

Each build writes a new collection — the chunk (as JSON), its vector, and its text, which
Milvus's own BM25 function turns into a sparse vector — and the index's manifest names it once
it is complete, indexed and loaded; only then does the alias ``<prefix>_<index>`` move to it.
A server searches the collection its manifest named when it loaded the index, so it never sees
part of a build, and the ``rag.milvus.keep_builds`` newest builds are kept so servers started on
the previous one keep answering through an update. Older ones, and any a failed publish left
behind, are dropped after the next publish.

The same client code runs on Milvus Lite (a local file, one process at a time; or its server,
``milvus-lite server --data-dir DIR``, for several), a Milvus server and a Milvus cluster.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from graftlm.core.errors import ArtifactError, BackendUnavailableError
from graftlm.core.settings import MilvusSettings, RagSettings, secret
from graftlm.core.workspace import Workspace
from graftlm.rag.chunking import Chunk
from graftlm.rag.store import Hit, sparse_tokens

INSERT_BATCH = 512
HNSW = {"M": 32, "efConstruction": 80}
EF_SEARCH = 64


def _analyzer() -> dict:
    """Milvus's BM25 reads words as the folder store's bm25s does: lower-cased, English stop
    words dropped, no stemming (Milvus Lite has the standard tokenizer and the stop filter)."""
    from bm25s.stopwords import STOPWORDS_EN

    return {"tokenizer": "standard",
            "filter": ["lowercase", {"type": "stop", "stop_words": list(STOPWORDS_EN)}]}


def resolved(settings: MilvusSettings, workspace: Workspace) -> MilvusSettings:
    """``settings`` with its URI made explicit: a Milvus Lite file in the workspace when none
    is set, and a local file path made absolute (the manifest records it for readers)."""
    uri = settings.uri or str(workspace.home / "milvus.db")
    if "://" not in uri:
        uri = str(Path(uri).expanduser().resolve())
    return settings.model_copy(update={"uri": uri})


@lru_cache(maxsize=8)
def client(uri: str, token: str | None):
    """One client per Milvus and credentials, per process."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise BackendUnavailableError("an index held in Milvus needs pymilvus (and, for a "
                                      "local file, milvus-lite): pip install "
                                      "'graftlm[scale]'.") from None

    try:
        return MilvusClient(uri=uri, token=token or "")
    except Exception as exc:  # pymilvus raises its own and grpc's errors, Lite OS errors
        local = "://" not in uri
        hint = (" A Milvus Lite file is open to one process at a time: if a graft serve or "
                "another build holds it, serve it from a Milvus Lite server instead "
                "(`milvus-lite server --data-dir DIR`, then rag.milvus.uri = "
                "'http://127.0.0.1:19530')." if local else
                " Check that it runs and that rag.milvus.uri and rag.milvus.token are right.")
        raise BackendUnavailableError(f"cannot open Milvus at {uri}: {exc}.{hint}") from None


def base_name(settings: MilvusSettings, index: str, workspace: Workspace) -> str:
    """The alias of the index (and the prefix of its builds' collections). Milvus names allow
    letters, digits and underscores, so the index name is folded; a short hash of the workspace
    and the name keeps apart two folded names, and two workspaces sharing one Milvus."""
    folded = re.sub(r"[^A-Za-z0-9_]", "_", index)
    key = f"{Path(workspace.home).resolve()}\0{index}".encode()
    return f"{settings.prefix}_{folded}_{hashlib.sha1(key).hexdigest()[:8]}"


class MilvusWriter:
    """Writes a build of one index into a new collection (see the module's docstring)."""

    kind = "milvus"

    def __init__(self, settings: MilvusSettings, workspace: Workspace):
        if not settings.uri:
            raise ValueError("resolve the Milvus URI first (rag.milvus.resolved)")
        self.settings, self.workspace = settings, workspace

    def write(self, folder: Path, chunks: Sequence[Chunk], vectors: np.ndarray, *, name: str,
              settings: RagSettings, previous: dict | None) -> dict:
        from pymilvus import DataType, Function, FunctionType

        milvus = client(self.settings.uri, secret(self.settings.token))
        base = base_name(self.settings, name, self.workspace)
        entry = (previous or {}).get("store", {})
        earlier = ([entry["collection"]] + entry.get("earlier", [])
                   if entry.get("type") == self.kind and entry.get("uri") == self.settings.uri
                   else [])[:self.settings.keep_builds - 1]
        # Retire builds here, under the index's write lock: those past keep_builds and any a
        # failed build left. (Published builds are never this index's newest but one.)
        for old in milvus.list_collections():
            if old.startswith(base + "_") and old not in earlier:
                milvus.drop_collection(old)
        collection = f"{base}_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}"
        schema = milvus.create_schema(auto_id=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=int(vectors.shape[1]))
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params=_analyzer())
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("chunk", DataType.JSON)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                     input_field_names=["text"], output_field_names=["sparse"]))
        exact = len(chunks) <= settings.exact_max_chunks
        params = milvus.prepare_index_params()
        params.add_index("vector", index_type="FLAT" if exact else "HNSW", metric_type="IP",
                         params={} if exact else HNSW)
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        milvus.create_collection(collection, schema=schema, index_params=params)
        for start in range(0, len(chunks), INSERT_BATCH):
            milvus.insert(collection, [
                {"id": start + i, "vector": vectors[start + i].tolist(),
                 "text": chunk.embedding_text()[:16000], "chunk": chunk.to_dict()}
                for i, chunk in enumerate(chunks[start:start + INSERT_BATCH])])
        milvus.flush(collection)
        milvus.load_collection(collection)
        return {"store": {"type": self.kind, "uri": self.settings.uri, "collection": collection,
                          "alias": base, "earlier": earlier},
                "dense": {"type": "flat" if exact else "hnsw", "recall_at_10": None},
                "sparse": {"type": "milvus-bm25"}}

    def published(self, described: dict) -> None:
        """Point the alias at the new build. The build is published already: a failure here
        is a warning, not a failed build."""
        entry = described["store"]
        try:
            milvus = client(self.settings.uri, secret(self.settings.token))
            if entry["alias"] in milvus.list_aliases().get("aliases", []):
                milvus.alter_alias(entry["collection"], entry["alias"])
            else:
                milvus.create_alias(entry["collection"], entry["alias"])
        except Exception as exc:  # noqa: BLE001 - pymilvus and grpc errors alike
            logging.getLogger("graftlm").warning(
                "the build is published, but the Milvus alias %s could not be moved to %s "
                "(%s); readers follow the manifest, not the alias.", entry["alias"],
                entry["collection"], exc)


def forget(entry: dict, settings: MilvusSettings) -> list[str]:
    """Drop the builds an index's manifest names (``entry``: its ``store``) — the current one
    and those kept before it — and its alias if it points at one of them, once the index is
    removed or rebuilt into another store. Returns the collections dropped."""
    milvus = client(entry["uri"], secret(settings.token))
    named = {entry["collection"], *entry.get("earlier", [])}
    if entry["alias"] in milvus.list_aliases().get("aliases", []) and milvus.describe_alias(
            entry["alias"]).get("collection_name") in named:
        milvus.drop_alias(entry["alias"])
    dropped = sorted(named & set(milvus.list_collections()))
    for collection in dropped:
        milvus.drop_collection(collection)
    return dropped


class MilvusStore:
    """Searches one build of an index held in Milvus."""

    kind = "milvus"

    def __init__(self, entry: dict, settings: MilvusSettings | None, size: int):
        self.collection, self.uri, self.size = entry["collection"], entry["uri"], size
        self.client = client(self.uri, secret((settings or MilvusSettings()).token))
        if not self.client.has_collection(self.collection):
            raise ArtifactError(self._gone())
        self.client.load_collection(self.collection)

    def dense(self, vector: np.ndarray, depth: int) -> list[Hit]:
        found = self._search(self.collection, data=[np.asarray(vector).tolist()],
                                   anns_field="vector", limit=depth, output_fields=["chunk"],
                                   search_params={"metric_type": "IP",
                                                  "params": {"ef": max(EF_SEARCH, depth)}})
        return [_hit(h) for h in found[0]]

    def sparse(self, query: str, depth: int) -> list[Hit]:
        if not sparse_tokens([query])[0]:
            return []  # stop words only: nothing to match (as the folder store answers)
        found = self._search(self.collection, data=[query], anns_field="sparse",
                                   limit=depth, output_fields=["chunk"],
                                   search_params={"metric_type": "BM25"})
        # Milvus Lite reports BM25 scores negated (best first still); Milvus, as they are.
        return [h for h in (_hit(h, absolute=True) for h in found[0]) if h.score > 0]

    def _search(self, *args, **kwargs):
        try:
            return self.client.search(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - pymilvus and grpc errors alike
            if not self.client.has_collection(self.collection):
                raise ArtifactError(self._gone()) from None
            raise BackendUnavailableError(f"Milvus at {self.uri} failed to search "
                                          f"{self.collection}: {exc}") from None

    def _gone(self) -> str:
        return (f"the Milvus collection {self.collection} at {self.uri} that holds this build "
                "is gone (builds older than rag.milvus.keep_builds are dropped, or it was "
                "removed by hand); restart the server to load the index's current build.")

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk of the build, in build order (read from Milvus)."""
        rows = []
        for start in range(0, self.size, 1000):  # ids are build positions: 0 .. size - 1
            rows += self.client.query(self.collection, filter=f"id >= {start} and id < "
                                      f"{start + 1000}", output_fields=["id", "chunk"])
        return [Chunk.from_dict(r["chunk"]) for r in sorted(rows, key=lambda r: r["id"])]

    def __len__(self) -> int:
        return self.size


def _hit(found: dict, absolute: bool = False) -> Hit:
    score = float(found["distance"])
    return Hit(int(found["id"]), round(abs(score) if absolute else score, 6),
               Chunk.from_dict(found["entity"]["chunk"]))
