"""IA3 (Liu et al. 2022, T-Few): learned scales of the keys, the values and the MLP's inner
activations — the input of the down projection — by peft's per-architecture layer lists;
``tuning.targets`` keeps the attention or MLP part of them. Folds into the weights exactly."""

from __future__ import annotations

from graftlm.core.errors import InputError
from graftlm.tuning.methods.base import Method, layer_group, linear_layers


class Ia3(Method):
    name = "ia3"
    summary = "learned scales of keys, values and the MLP's inner input (peft IA3)"
    default_rate = 3e-3  # scales around 1, at T-Few's rate
    search = {"targets": ("all-linear", "attention", "mlp")}
    recipe = {"targets": "all-linear"}

    def peft_config(self, settings, model):
        import peft
        from peft.utils.constants import (
            TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD)
        from peft.utils.constants import (
            TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS)

        kind = model.config.model_type
        targets, feedforward = TARGETS.get(kind), FEEDFORWARD.get(kind)
        if targets is None:
            raise InputError(f"peft has no IA3 layer list for '{kind}' models; choose another "
                             "tuning.method.")
        groups = {path.rsplit(".", 1)[-1]: layer_group(path) for path in linear_layers(model)}
        keep = [t for t in targets if settings.targets == "all-linear"
                or groups.get(t) == settings.targets]
        if not keep:
            raise InputError(f"IA3 has no {settings.targets} layers in '{kind}' models; choose "
                             "tuning.targets all-linear.")
        return peft.IA3Config(target_modules=keep,
                              feedforward_modules=[f for f in feedforward if f in keep],
                              task_type="CAUSAL_LM")
