"""The LoRA family: low-rank updates B·A of the target layers (Hu et al. 2021), and two variants
peft implements as LoRA options.

- **lora**: the update starts at zero (B = 0).
- **dora** (Liu et al. 2024): LoRA's update to each weight's direction plus a learned magnitude
  per output; folds into the weights exactly, so vLLM serves it from a merged copy.
- **pissa** (Meng et al. 2024): B·A starts from each weight's principal singular vectors and the
  base keeps the residual (W = W_res + B·A). At save time peft turns the trained adapter into a
  plain LoRA of twice the rank on the *unmodified* base, so it loads, batches and serves (vLLM's
  LoRA path included) exactly as LoRA does.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from graftlm.core.errors import InputError
from graftlm.tuning.methods.base import Method, linear_layers, target_names

RANKS = (4, 8, 16, 32, 64)


class Lora(Method):
    name = "lora"
    summary = "low-rank updates B·A of the target layers (peft LoRA)"
    default_rate = 2e-4  # about 10x full fine-tuning's (docs/framework.md's recipe)
    lora_shaped = True
    on_vllm = "lora"
    search = {"rank": RANKS, "alpha_ratio": (1, 2), "targets": ("all-linear", "attention", "mlp")}
    recipe = {"rank": 16, "alpha_ratio": 2, "targets": "all-linear"}

    def check_fits(self, settings, skeleton) -> None:
        """A rank above the narrowest target layer's width cannot train."""
        targets = target_names(skeleton, settings.targets)
        widths = {path.rsplit(".", 1)[-1]: min(layer.in_features, layer.out_features)
                  for path, layer in linear_layers(skeleton).items()}
        narrowest = min(targets, key=lambda n: widths[n])
        if settings.rank > widths[narrowest]:
            raise InputError(f"tuning.rank = {settings.rank} is above the width of the base "
                             f"model's {narrowest} layers ({widths[narrowest]}); a rank can be "
                             "at most the smaller side of the matrix it adapts. Choose --rank "
                             f"{widths[narrowest]} or less.")

    def search_settings(self, params: dict) -> dict:
        out = {key: params[key] for key in ("targets",) if key in params}
        if "rank" in params:
            out.update(rank=params["rank"], alpha=float(params["rank"] * params["alpha_ratio"]))
        return out

    def search_words(self, params: dict) -> list[str]:
        words = [f"r{params['rank']} α{params['rank'] * params['alpha_ratio']}"] \
            if "rank" in params else []
        return words + ([params["targets"]] if "targets" in params else [])

    def peft_config(self, settings, model):
        import peft

        targets = "all-linear" if settings.targets == "all-linear" else \
            target_names(model, settings.targets)
        return peft.LoraConfig(r=settings.rank, lora_alpha=settings.alpha,
                               lora_dropout=settings.dropout, target_modules=targets,
                               task_type="CAUSAL_LM", **self.options())

    def options(self) -> dict:
        """What sets this variant apart in peft's LoraConfig."""
        return {}


class Dora(Lora):
    name = "dora"
    summary = "LoRA's direction plus a learned magnitude per output (peft DoRA)"
    lora_shaped = False  # its magnitudes are not a LoRA: a merged copy on vLLM
    on_vllm = "merged"

    def options(self) -> dict:
        return {"use_dora": True}


class Pissa(Lora):
    name = "pissa"
    summary = "LoRA started from each weight's principal singular vectors, saved as LoRA"
    starts_as_base = True  # W_res + B·A = W; switching the adapter off would leave W_res
    on_4bit_base = False  # it rewrites the base weights it starts from
    recipe = Lora.recipe

    def options(self) -> dict:
        return {"init_lora_weights": "pissa"}

    def prepare(self, model, settings, *, init_dir, start_ids):
        """Saves the starting adapter to ``init_dir`` (the main process alone, under
        ``accelerate launch``): :meth:`save` needs it to write the trained one as plain LoRA."""
        if init_dir is None:
            raise ValueError("PiSSA needs init_dir to save its starting adapter")
        model, record = super().prepare(model, settings, init_dir=init_dir, start_ids=start_ids)
        if os.environ.get("RANK", "0") == "0":
            model.save_pretrained(init_dir)
        return model, record

    def save(self, model, out: Path, settings, tokenizer, *, init_dir) -> None:
        with warnings.catch_warnings():  # peft's advice to convert to LoRA, which this does
            warnings.filterwarnings("ignore", "PiSSA changes the base weights")
            model.save_pretrained(out, path_initial_model_for_weight_conversion=str(init_dir))



