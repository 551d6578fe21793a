"""Advice on how to adapt a model to a task: prompting, few-shot, RAG, LoRA, full FT or hybrid.

The public names below are loaded on first use, so that importing one module of the stage does
not import all of it (numpy, the embedder).
"""

from graftlm.core.exports import lazy_exports

_PUBLIC = {
    "Advisor": "graftlm.advisor.advise",
    "description_from": "graftlm.advisor.advise",
    "read_description": "graftlm.advisor.advise",
    "validate_description": "graftlm.advisor.advise",
    "Advice": "graftlm.advisor.schema",
    "SCHEMA_VERSION": "graftlm.advisor.schema",
    "json_schema": "graftlm.advisor.schema",
    "Facts": "graftlm.advisor.scoring",
    "STRATEGIES": "graftlm.advisor.scoring",
}
__all__, __getattr__ = lazy_exports("advisor", _PUBLIC)
