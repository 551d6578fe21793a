"""Skills: training data formats and validation, LoRA (and full) training, adapter artifacts.

The public names below are loaded on first use, so that importing one module of the stage
(``graft`` loads a stage's CLI when one of its commands runs) does not import all of it.
"""

from graftlm.core.exports import lazy_exports

_PUBLIC = {
    "FieldMap": "graftlm.tuning.data",
    "check": "graftlm.tuning.data",
    "read_examples": "graftlm.tuning.data",
    "encode": "graftlm.tuning.data",
    "train": "graftlm.tuning.train",
    "train_adapter": "graftlm.tuning.pipeline",
    "load_base": "graftlm.core.loader",
}
__all__, __getattr__ = lazy_exports("tuning", _PUBLIC)
