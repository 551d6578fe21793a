"""Skills: training data formats and validation, LoRA (and full) training, adapter artifacts.

The public names below are loaded on first use, so importing the CLI stays light.
"""

from graftlm.exports import lazy_exports

_PUBLIC = {
    "FieldMap": "tuning.data",
    "check": "tuning.data",
    "read_examples": "tuning.data",
    "encode": "tuning.data",
    "train": "tuning.train",
    "train_adapter": "tuning.pipeline",
    "load_base": "graftlm.loader",
}
__all__, __getattr__ = lazy_exports("tuning", _PUBLIC)
