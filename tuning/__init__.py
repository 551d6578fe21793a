"""Skills: training data formats and validation, LoRA (and full) training, adapter artifacts.

The public names below are loaded on first use, so importing the CLI stays light.
"""

from importlib import import_module

_PUBLIC = {
    "FieldMap": "tuning.data",
    "check": "tuning.data",
    "read_examples": "tuning.data",
    "encode": "tuning.data",
    "train": "tuning.train",
    "train_adapter": "tuning.adapter",
    "load_base": "tuning.adapter",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tuning' has no attribute {name!r}")
