"""Loading the base model, for every stage that runs it: one device and dtype policy, one loader.

The policy: bfloat16 on a CUDA GPU; float32 on a CPU, where this project's machines have no
bf16 arithmetic (bf16 decoding measured slower than float32 here, docs/commands/serve.md). Training,
evaluation, measured advice and the in-process engine all load through :func:`load_pretrained`,
so they run the same weights the same way. Heavy libraries are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graftlm.core.errors import BackendUnavailableError
from graftlm.core.models import base_model_dir
from graftlm.core.settings import ModelSettings
from graftlm.core.workspace import Workspace


def device_and_dtype(device: str | None = None) -> tuple[str, Any]:
    """``(device, torch dtype)`` to run on: the given device or CUDA when there is one, else
    the CPU; bfloat16 on CUDA, float32 elsewhere."""
    import torch

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return device, torch.bfloat16 if device.startswith("cuda") else torch.float32


def load_pretrained(path: Path | str, *, device: str | None = None, for_training: bool = False,
                    four_bit: bool = False):
    """``(model, tokenizer)`` from a Hugging Face directory (or allowed hub id).

    Args:
        path: the model directory.
        device: where to put it (default: :func:`device_and_dtype`'s choice).
        for_training: turn the KV cache off, which training does not use.
        four_bit: NF4 weights with double quantization and bf16 compute (QLoRA's base); CUDA
            and bitsandbytes only.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per load is noise in a command's output
    device, dtype = device_and_dtype(device)
    tokenizer = AutoTokenizer.from_pretrained(path)
    if four_bit:
        model = AutoModelForCausalLM.from_pretrained(
            path, quantization_config=_nf4(device), device_map={"": 0})
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device)
    if for_training:
        model.config.use_cache = False
    else:
        model.eval()
    return model, tokenizer


def load_base(settings: ModelSettings, workspace: Workspace, *, for_training: bool = False,
              four_bit: bool = False):
    """``(model, tokenizer, path)`` of the configured (prepared) base model."""
    path = base_model_dir(settings, workspace)
    model, tokenizer = load_pretrained(path, for_training=for_training, four_bit=four_bit)
    return model, tokenizer, path


def base_tokenizer(settings: ModelSettings, workspace: Workspace):
    """``(tokenizer, path)`` of the configured (prepared) base model, without its weights."""
    from transformers import AutoTokenizer

    path = base_model_dir(settings, workspace)
    return AutoTokenizer.from_pretrained(path), path


def _nf4(device: str):
    import importlib.util

    import torch
    from transformers import BitsAndBytesConfig

    if not device.startswith("cuda"):
        raise BackendUnavailableError("--qlora trains on a 4-bit base, which needs a CUDA GPU; "
                                      "on this machine train a plain LoRA adapter (drop --qlora).")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise BackendUnavailableError("--qlora needs bitsandbytes: pip install 'graftlm[gpu]' "
                                      "(or pip install bitsandbytes).")
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)
