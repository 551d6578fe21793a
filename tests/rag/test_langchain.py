"""The LangChain retriever over a graftlm index."""

from graftlm.core.workspace import Workspace
from graftlm.rag.index import load_index
from graftlm.rag.langchain import GraftRetriever
from tests.rag.conftest import build


def test_langchain_retriever_returns_documents_with_metadata(docs, tmp_path, word_embedder):
    ws = Workspace(tmp_path / "home")
    build(docs, ws, word_embedder)
    retriever = GraftRetriever(index=load_index("kb", workspace=ws, embedder=word_embedder), k=2)
    docs_out = retriever.invoke("warranty two years")
    assert len(docs_out) == 2
    top = docs_out[0]
    assert top.metadata["source"] == "sub/warranty.txt" and top.metadata["lines"] == [1, 1]
    assert top.id == top.metadata["chunk_id"] and "score" in top.metadata
