"""The ``rag`` section of the settings (see :mod:`graftlm.core.settings`): how indexes are built,
where they are held, and how they are searched."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class RaySettings(BaseModel):
    """``graft index build --executor ray``: where and how wide the build runs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = Field(
        None, description="Ray cluster to run on ('HOST:PORT', or 'ray://HOST:10001' for Ray "
        "Client); none starts a local Ray for the build.")
    workers: int = Field(2, gt=0, le=4096, description="Embedding workers (Ray actors), each "
                         "holding one copy of the embedder.")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPUs Ray reserves per worker.")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs Ray reserves per worker "
                                   "(0: embed on CPUs).")
    batch_size: int = Field(64, gt=0, le=65536, description="Chunks per embedding batch on a "
                            "worker.")
    files_per_block: int = Field(16, gt=0, description="Files read and chunked per Ray task.")


class MilvusSettings(BaseModel):
    """``graft index build --store milvus``: the Milvus that holds indexes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: str | None = Field(
        None, description="A Milvus server or cluster ('http://HOST:19530'), or a Milvus Lite "
        "file path (one process at a time); none: milvus.db in the workspace.")
    token: SecretStr | None = Field(None, description="Milvus credentials ('user:password' or an "
                              "API key), if the server asks for them.")
    prefix: str = Field("graft", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,31}$",
                        description="Prefix of the collections and aliases graftlm creates.")
    keep_builds: int = Field(2, ge=1, le=100, description="Builds of an index kept in Milvus, "
                             "the newest included, so servers started on the previous one keep "
                             "answering through an update.")


class PromptSettings(BaseModel):
    """The one retrieval prompt: how retrieved sources join a conversation, everywhere they do
    (``graft serve``, ``graft eval run --index``, measured advice, ``graft train --index``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(1, gt=0, le=50, description="Sources retrieved per question.")
    mode: Literal["hybrid", "dense", "sparse"] = Field(
        "hybrid", description="How the index is searched for them.")
    context_tokens: int = Field(512, gt=0, le=32768,
                                description="Token budget for the sources in the prompt.")
    placement: Literal["user", "system"] = Field(
        "user", description="Where the sources go: before the question in the last user "
        "message, or appended to the system message.")
    instruction: str = Field(
        "Answer with a short phrase copied from the sources.",
        min_length=1, description="What the model is told to do with the sources.")


class RagSettings(BaseModel):
    """How ``graft index`` reads, chunks, embeds and searches documents."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    chunk_tokens: int = Field(200, gt=16, le=4096,
                              description="Chunk size in embedder tokens.")
    chunk_overlap: int = Field(30, ge=0, le=1024, description="Overlap between chunks, in tokens.")
    batch_size: int = Field(32, gt=0, le=4096, description="Chunks embedded per batch.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are skipped.")
    max_pages: int = Field(5000, gt=0, description="PDFs with more pages than this are skipped.")
    max_file_seconds: float = Field(120.0, gt=0, description="A file that takes longer than "
                                    "this to read (a hostile or broken PDF) is skipped.")
    exact_max_chunks: int = Field(
        50_000, gt=0,
        description="Up to this many chunks the dense index is exact (flat); above, HNSW.")
    text_field: str = Field("text", description="Field of JSONL records that holds the text.")
    id_field: str | None = Field(
        None, description="Field of JSONL records that holds a document id (default: file:line).")
    k: int = Field(5, gt=0, le=1000, description="Results per query.")
    mode: Literal["hybrid", "dense", "sparse"] = Field(
        "hybrid", description="Dense (embeddings), sparse (BM25), or both fused.")
    rrf_k: int = Field(10, gt=0, description="Reciprocal rank fusion constant.")
    sparse_weight: float = Field(
        0.5, ge=0, le=10, description="Weight of the BM25 ranking in fusion (dense is 1).")
    executor: Literal["local", "ray"] = Field(
        "local", description="Where files are read, chunked and embedded: in this process, or "
        "on a Ray cluster (rag.ray).")
    store: Literal["faiss", "milvus"] = Field(
        "faiss", description="Where a new index is held: FAISS and BM25 files in the workspace, "
        "or a Milvus collection (rag.milvus).")
    prompt: PromptSettings = Field(default_factory=PromptSettings)
    ray: RaySettings = Field(default_factory=RaySettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
