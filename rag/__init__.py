"""Retrieval: load, chunk, embed and index documents; search them densely, sparsely or both.

The public names below are loaded on first use, so importing the CLI stays light.
"""

from importlib import import_module

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
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'rag' has no attribute {name!r}")
