"""The PEFT methods, one module each, registered once here.

==========  =====================================================================  ===========
method      what trains                                                            on vLLM
==========  =====================================================================  ===========
lora        low-rank updates B·A of the target layers (peft LoRA)                   LoRA path
dora        LoRA's direction plus a learned magnitude per output (peft DoRA)        merged copy
pissa       LoRA started from the principal singular vectors, saved as LoRA         LoRA path
ia3         learned scales of keys, values and the MLP's inner input (peft IA3)     merged copy
prefix      learned key/value prefixes in every layer (peft prefix tuning)          no
loreft      a low-rank edit of the prompt's last hidden states at every layer        no
spectrum    the highest signal-to-noise weight matrices, in full                    merged copy
full        every weight                                                            (a model)
==========  =====================================================================  ===========

Everything else asks the method (:class:`~tuning.methods.base.Method`) — settings validate
``tuning.method`` against :data:`METHODS`, the CLI offers its names, ``--auto`` searches each
one's space, ``--qlora``, merging and the engines read its attributes. Adding a method is a
module with one ``Method`` subclass and a line in :data:`METHODS`.

The functions below are the operations every caller needs, by method name or on a settings
object; they hold what is common to all methods (the seed, the parameter counts).
"""

from __future__ import annotations

import json
from pathlib import Path

from graftlm.core.errors import ConfigError
from graftlm.tuning.methods.base import Method, target_names
from graftlm.tuning.methods.full import SPECTRUM_FILE, Full, Spectrum
from graftlm.tuning.methods.ia3 import Ia3
from graftlm.tuning.methods.lora import Dora, Lora, Pissa
from graftlm.tuning.methods.loreft import Loreft
from graftlm.tuning.methods.prefix import Prefix, decoding_view

METHODS: dict[str, Method] = {m.name: m for m in (
    Lora(), Dora(), Pissa(), Ia3(), Prefix(), Loreft(), Spectrum(), Full())}

__all__ = ["METHODS", "SPECTRUM_FILE", "Method", "check_fits", "decoding_view", "get",
           "method_at", "method_of", "prepare", "save", "target_names"]


def get(name: str) -> Method:
    """The method called ``name``."""
    try:
        return METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown tuning.method '{name}'; choose one of "
                          f"{', '.join(METHODS)}.") from None


def method_of(card: dict) -> Method:
    """The method an artifact was trained with (cards before the toolbox say lora or full)."""
    return get(card.get("type") or "lora")


def method_at(path: Path) -> Method:
    """The method of the artifact in folder ``path``: its card's, else (a bare peft folder)
    lora."""
    manifest = Path(path) / "manifest.json"
    return method_of(json.loads(manifest.read_text()) if manifest.is_file() else {})


def check_fits(settings, config) -> None:
    """Refuse, from the base model's config alone (no weights are loaded), settings that
    cannot train it."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(config)
    get(settings.method).check_fits(settings, skeleton)


def prepare(model, settings, *, init_dir: Path | None = None,
            start_ids: list[int] | None = None):
    """``model`` made ready to train by ``settings.method``, and the card's record of it.

    The new weights start from ``settings.seed``, not from whatever the process drew before (a
    second run in one process would otherwise start from other adapter weights)."""
    import torch

    torch.manual_seed(settings.seed)
    model, record = get(settings.method).prepare(model, settings, init_dir=init_dir,
                                                 start_ids=start_ids)
    record = {"name": settings.method, **record}
    record["trainable_parameters"] = sum(p.numel() for p in model.parameters()
                                         if p.requires_grad)
    record["parameters"] = sum(p.numel() for p in model.parameters())
    return model, record


def save(model, out: Path, settings, tokenizer, *, init_dir: Path | None = None) -> None:
    """Write the trained ``model`` as its method's artifact files into ``out``."""
    get(settings.method).save(model, out, settings, tokenizer, init_dir=init_dir)
