"""Advice on how to adapt a model to a task: prompting, few-shot, RAG, LoRA, full FT or hybrid.

The public names below are loaded on first use, so that importing the CLI (``graft --help``)
does not import numpy or the embedder.
"""

from graftlm.exports import lazy_exports

_PUBLIC = {
    "Advisor": "advisor.advise",
    "description_from": "advisor.advise",
    "read_description": "advisor.advise",
    "validate_description": "advisor.advise",
    "Advice": "advisor.schema",
    "SCHEMA_VERSION": "advisor.schema",
    "json_schema": "advisor.schema",
    "Facts": "advisor.scoring",
    "STRATEGIES": "advisor.scoring",
}
__all__, __getattr__ = lazy_exports("advisor", _PUBLIC)
