"""The ``tuning`` section of the settings: how ``graft train`` trains (re-exported by
:mod:`graftlm.core.settings`, where every section is reached)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graftlm.tuning.methods import METHODS, Method, get


class TuningSettings(BaseModel):
    """How ``graft train`` trains adapters. Defaults follow docs/framework.md's LoRA recipe: all
    linear layers, a learning rate about 10x that of full fine-tuning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(
        "lora", description="What trains: " + "; ".join(
            f"{name} ({m.summary})" for name, m in METHODS.items()) + ".")
    targets: Literal["all-linear", "attention", "mlp"] = Field(
        "all-linear", description="Which linear layers of each block get an adapter (lora, "
        "dora, pissa, ia3).")
    rank: int = Field(16, gt=0, le=1024, description="LoRA rank (lora, dora, pissa).")
    alpha: float = Field(32.0, gt=0, description="LoRA alpha (scale = alpha / rank).")
    dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    learning_rate: float | None = Field(
        None, gt=0, lt=1, description="Peak learning rate of an adapter (default by method: "
        + ", ".join(f"{m.default_rate:g} for {name}" for name, m in METHODS.items()
                    if m.default_rate) + ").")
    full_learning_rate: float = Field(2e-5, gt=0, lt=1,
                                      description="Peak learning rate for --full.")
    epochs: float = Field(2.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(None, gt=0, description="Stop after this many steps.")
    batch_size: int = Field(8, gt=0, le=1024, description="Examples per step.")
    max_length: int = Field(256, gt=8, le=32768, description="Tokens per example, at most.")
    packing: bool = Field(
        False, description="Pack several examples into each row of max_length tokens "
        "(positions restart per example; attention stays within it); batch_size then counts "
        "rows. Off by default: batches are grouped by length, so they carry little padding, and "
        "packing does not mix with prefix or LoReFT.")
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
    reft_rank: int = Field(4, gt=0, le=256, description="LoReFT: rank of the subspace each "
                           "layer's edit works in.")
    reft_positions: int = Field(5, gt=0, le=64, description="LoReFT: the prompt's last tokens "
                                "edited (where the chat template opens the answer).")
    auto_methods: list[str] = Field(
        default_factory=lambda: ["lora", "dora", "pissa", "ia3", "prefix", "spectrum"],
        min_length=1, description="--auto: the methods searched (the first one's default "
        "recipe is the first trial).")
    auto_validation: float = Field(0.2, gt=0, lt=1, description="--auto: share of the train "
                                   "split the trials are scored on (not trained on).")
    distractor_share: float = Field(
        0.2, ge=0, le=1, description="With --index: share of training examples shown only "
        "distractor sources (RAFT), so the adapter learns to ignore unhelpful context.")

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value not in METHODS:
            raise ValueError(f"unknown method '{value}'; choose one of {', '.join(METHODS)}")
        return value

    @field_validator("auto_methods")
    @classmethod
    def _searchable(cls, value: list[str]) -> list[str]:
        wrong = [name for name in value if name not in METHODS or not METHODS[name].searchable]
        if wrong:
            raise ValueError(f"'{wrong[0]}' cannot be searched; choose from "
                             f"{', '.join(n for n, m in METHODS.items() if m.searchable)}")
        return value

    @model_validator(mode="after")
    def _fits_together(self) -> "TuningSettings":
        if self.packing and not self.tuner.packs:
            raise ValueError(f"tuning.packing cannot be used with method '{self.method}': "
                             f"{self.tuner.why_not_packed()}. Turn packing off or choose "
                             "another method.")
        return self

    @property
    def tuner(self) -> Method:
        """The method object of ``method``."""
        return get(self.method)

    @property
    def plain(self) -> bool:
        """Whether the method trains the model's own weights (no peft wrapper)."""
        return self.tuner.trains_base

    @property
    def peak_learning_rate(self) -> float:
        """The learning rate of the method: full_learning_rate for the methods that train the
        model's own weights, learning_rate (or the method's default) for adapters."""
        if self.plain:
            return self.full_learning_rate
        return self.learning_rate or self.tuner.default_rate
