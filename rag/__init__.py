"""Retrieval: load, chunk, embed and index documents; search them densely, sparsely or both.

The public names below are loaded on first use, so importing the CLI stays light.
"""

from graftlm.exports import lazy_exports

_PUBLIC = {
    "build_index": "rag.index",
    "load_index": "rag.index",
    "Index": "rag.index",
    "BuildReport": "rag.index",
    "search": "rag.retrieve",
    "Result": "rag.retrieve",
    "Chunk": "rag.chunking",
    "GraftRetriever": "rag.langchain",
}
__all__, __getattr__ = lazy_exports("rag", _PUBLIC)
