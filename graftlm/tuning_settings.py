"""The ``tuning`` section of the settings: how ``graft train`` trains (re-exported by
:mod:`graftlm.settings`, where every section is reached)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


# Adapter learning rates by method. LoRA's: FRAMEWORK.md's recipe (about 10x full fine-tuning).
# IA3 learns scales around 1, at T-Few's 3e-3; prefixes are activations, at peft's examples' 1e-2.
ADAPTER_LEARNING_RATES = {"lora": 2e-4, "dora": 2e-4, "pissa": 2e-4, "ia3": 3e-3, "prefix": 1e-2}


class TuningSettings(BaseModel):
    """How ``graft train`` trains adapters. Defaults follow FRAMEWORK.md's LoRA recipe: all
    linear layers, a learning rate about 10x that of full fine-tuning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["lora", "dora", "pissa", "ia3", "prefix", "spectrum", "full"] = Field(
        "lora", description="What trains: lora; dora (LoRA with a learned magnitude per "
        "output); pissa (LoRA started from the weights' principal singular vectors, saved as a "
        "plain LoRA); ia3 (learned scales of keys, values and MLP inputs); prefix (learned "
        "key/value prefixes in every layer); spectrum (the highest signal-to-noise weight "
        "matrices trained in full, the rest frozen); full (every weight).")
    targets: Literal["all-linear", "attention", "mlp"] = Field(
        "all-linear", description="Which linear layers of each block get an adapter (lora, "
        "dora, pissa, ia3).")
    rank: int = Field(16, gt=0, le=1024, description="LoRA rank (lora, dora, pissa).")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha (scale = alpha / rank).")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    learning_rate: float | None = Field(
        None, gt=0, lt=1, description="Peak learning rate of an adapter (default by method: "
        "2e-4 for lora, dora and pissa; 3e-3 for ia3, as its paper; 1e-2 for prefix).")
    full_learning_rate: float = Field(2e-5, gt=0, lt=1,
                                      description="Peak learning rate for --full.")
    epochs: float = Field(2.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many steps.")
    batch_size: int = Field(8, gt=0, le=1024, description="Examples per step.")
    max_length: int = Field(256, gt=8, le=32768, description="Tokens per example, at most.")
    packing: bool = Field(
        False, description="Pack several examples into each row of max_length tokens "
        "(positions restart per example; attention stays within it); batch_size then counts "
        "rows. Off by default: with batches of similar lengths, padding is under 1% of the "
        "tokens on the benchmark data.")
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps warming up.")
    eval_fraction: float = Field(0.1, gt=0, lt=1,
                                 description="Share held out when no --eval-file is given.")
    eval_max: int = Field(200, gt=0, description="Held-out examples evaluated, at most.")
    eval_every: int = Field(50, gt=0, description="Steps between evaluations.")
    patience: int = Field(3, ge=1, description="Evaluations without improvement before stopping.")
    keep_checkpoints: int = Field(2, ge=1, description="Checkpoints of a run kept (the newest).")
    seed: int = Field(0, description="Seed for the split, batch order and initialisation.")
    spectrum_share: float = Field(
        0.25, gt=0, le=1, description="Spectrum: the share of each module type's weight "
        "matrices trained (the highest signal-to-noise first); the paper used 0.25 and 0.5.")
    prefix_tokens: int = Field(16, gt=0, le=512, description="Prefix tuning: virtual tokens "
                               "of key/value prefix in every layer.")
    auto_methods: list[Literal["lora", "dora", "pissa", "ia3", "prefix", "spectrum"]] = Field(
        default_factory=lambda: ["lora", "dora", "pissa", "ia3", "prefix", "spectrum"],
        min_length=1, description="--auto: the methods searched (the first one's default "
        "recipe is the first trial).")
    auto_validation: float = Field(0.2, gt=0, lt=1, description="--auto: share of the train "
                                   "split the trials are scored on (not trained on).")
    distractor_share: float = Field(
        0.2, ge=0, le=1, description="With --index: share of training examples shown only "
        "distractor sources (RAFT), so the adapter learns to ignore unhelpful context.")

    @model_validator(mode="after")
    def _fits_together(self) -> "TuningSettings":
        if self.method == "prefix" and self.packing:
            raise ValueError("tuning.packing cannot be used with method 'prefix': packed rows "
                             "keep examples apart by restarting positions, and a prefix shifts "
                             "them. Turn packing off or choose another method.")
        return self

    @property
    def plain(self) -> bool:
        """Whether the method trains the model's own weights (no peft wrapper)."""
        return self.method in ("full", "spectrum")

    @property
    def peak_learning_rate(self) -> float:
        """The learning rate of the method: full_learning_rate for the methods that train the
        model's own weights, learning_rate (or the method's default) for adapters."""
        if self.plain:
            return self.full_learning_rate
        return self.learning_rate or ADAPTER_LEARNING_RATES[self.method]
