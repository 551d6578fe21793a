"""Retrieval: load, chunk, embed and index documents; search them densely, sparsely or both.

The public names below are loaded on first use, so that importing one module of the stage
(``graft`` loads a stage's CLI when one of its commands runs) does not import all of it.
"""

from graftlm.core.exports import lazy_exports

_PUBLIC = {
    "build_index": "graftlm.rag.index",
    "load_index": "graftlm.rag.index",
    "Index": "graftlm.rag.index",
    "BuildReport": "graftlm.rag.index",
    "search": "graftlm.rag.retrieve",
    "Result": "graftlm.rag.retrieve",
    "Chunk": "graftlm.rag.chunking",
    "GraftRetriever": "graftlm.rag.langchain",
}
__all__, __getattr__ = lazy_exports("rag", _PUBLIC)
