"""A LangChain retriever over a graftlm index, returning LangChain ``Document`` objects.

Each document's metadata carries the chunk id, source file, document id, location (heading path,
page, line range), the fused score and the rank in each ranking, so chains can cite.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from graftlm.rag.index import Index
from graftlm.rag.retrieve import MODES, search


class GraftRetriever(BaseRetriever):
    """Retrieve from a loaded :class:`~rag.index.Index` with dense, sparse or hybrid search."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    k: int = Field(5, gt=0)
    mode: str = Field("hybrid", pattern="^(" + "|".join(MODES) + ")$")
    rrf_k: int = 10
    sparse_weight: float = 0.5

    def _get_relevant_documents(self, query: str, *,
                                run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        results = search(self.index, query, k=self.k, mode=self.mode, rrf_k=self.rrf_k,
                         sparse_weight=self.sparse_weight)
        return [Document(page_content=r.chunk.text, id=r.chunk.id, metadata=_metadata(r))
                for r in results]


def _metadata(result) -> dict[str, Any]:
    chunk = result.chunk
    return {
        "chunk_id": chunk.id, "source": chunk.source, "doc_id": chunk.doc_id,
        "heading": chunk.heading, "page": chunk.page,
        "lines": list(chunk.lines) if chunk.lines else None, "location": chunk.location(),
        "score": result.score, "dense_rank": result.dense_rank,
        "sparse_rank": result.sparse_rank,
    }
