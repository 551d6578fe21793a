"""Serving: base model, adapters and retrieval behind one OpenAI-compatible endpoint.

The public names below are loaded on first use, so that importing one module of the stage
(``graft`` loads a stage's CLI when one of its commands runs) does not import all of it.
"""

from graftlm.core.exports import lazy_exports

_PUBLIC = {
    "create_app": "graftlm.serving.app",
    "Runtime": "graftlm.serving.runtime",
    "LocalEngine": "graftlm.serving.engines.local",
    "VllmEngine": "graftlm.serving.engines.vllm",
}
__all__, __getattr__ = lazy_exports("serving", _PUBLIC)
