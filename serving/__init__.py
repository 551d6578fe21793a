"""Serving: base model, adapters and retrieval behind one OpenAI-compatible endpoint.

The public names below are loaded on first use, so importing the CLI stays light.
"""

from graftlm.core.exports import lazy_exports

_PUBLIC = {
    "create_app": "graftlm.serving.app",
    "Runtime": "graftlm.serving.runtime",
    "LocalEngine": "graftlm.serving.engines.local",
    "VllmEngine": "graftlm.serving.engines.vllm",
}
__all__, __getattr__ = lazy_exports("serving", _PUBLIC)
