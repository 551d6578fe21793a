"""The LoRA recipe: which layers get adapters and how, from the tuning settings.

FRAMEWORK.md's recipe: adapters on every linear layer (``all-linear``; attention-only LoRA
underperforms), rank and alpha from the settings. Training (``graft train``) and measured advice
both wrap the base model here, so an adapter measured is an adapter trained the same way.
"""

from __future__ import annotations

from graftlm.settings import TuningSettings


def lora_config(settings: TuningSettings):
    """The peft ``LoraConfig`` the settings describe."""
    from peft import LoraConfig

    return LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def with_lora(model, settings: TuningSettings):
    """``model`` wrapped by peft with fresh, trainable LoRA adapters."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(settings))
