"""What every PEFT method is: the :class:`Method` interface and the helpers methods share.

A method answers the questions the rest of graftlm asks of it — the settings (its default rate,
whether it trains the base weights, whether examples may be packed), training (its peft config,
how it wraps the base, how it saves), using the result (open, switch off, merge, the fastest exact
form), serving (which engines, and how) and ``--auto`` (its search space) — so no caller compares
method names. A new method is a module with one subclass, registered in
:mod:`tuning.methods`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Literal

from graftlm.core.errors import ArtifactError, InputError
from graftlm.tuning.spectrum import module_kind

_ATTENTION = ("attn", "attention")
VllmPath = Literal["lora", "merged"] | None


class Method:
    """One ``tuning.method``. Subclasses set the class attributes and override what differs
    from a peft adapter's default behaviour."""

    name: ClassVar[str]
    label: ClassVar[str] = ""  # how messages name it ("a prefix-tuning adapter"); name if empty
    summary: ClassVar[str]  # what trains, in a few words (the settings' and the docs' tables)
    # The adapter's default peak learning rate; None for methods that train the model's own
    # weights, which use tuning.full_learning_rate.
    default_rate: ClassVar[float | None] = None
    trains_base: ClassVar[bool] = False  # the model's own weights train: no adapter to remove
    starts_as_base: ClassVar[bool] = False  # untrained, it answers as the base model does
    on_4bit_base: ClassVar[bool] = True  # can train on a frozen 4-bit base (--qlora)
    packs: ClassVar[bool] = True  # examples may share a row (tuning.packing)
    # Saved as a plain LoRA: shares the local engine's mixed batch with other LoRA adapters.
    lora_shaped: ClassVar[bool] = False
    # How vLLM serves it: its LoRA path, a merged copy of the weights, or not at all.
    on_vllm: ClassVar[VllmPath] = "merged"
    # Why what it learned cannot be folded into the weights (None: it can be merged).
    unmergeable: ClassVar[str | None] = None
    is_model: ClassVar[bool] = False  # the artifact is a model of its own, not an adapter
    # --auto: whether it can be searched, the settings searched beyond rate and epochs, with their choices, and the
    # recipe's value of each (the search's first trial).
    searchable: ClassVar[bool] = True
    search: ClassVar[dict[str, tuple]] = {}
    recipe: ClassVar[dict] = {}

    # -- settings -------------------------------------------------------------------------------

    def why_not_packed(self) -> str:
        return f"method '{self.name}' cannot train on packed rows"

    def check_fits(self, settings, skeleton) -> None:
        """Refuse, from the base model's skeleton (on the meta device: no weights), settings
        that cannot train it."""

    def search_settings(self, params: dict) -> dict:
        """A trial's searched parameters as tuning settings."""
        return {key: params[key] for key in self.search if key in params}

    def search_words(self, params: dict) -> list[str]:
        """A trial's searched parameters in a few words (a trial's label)."""
        return [str(params[key]) for key in self.search if key in params]

    # -- training -------------------------------------------------------------------------------

    def peft_config(self, settings, model):
        """The peft configuration for ``model`` (methods that are not peft tuners: None)."""
        return None

    def prepare(self, model, settings, *, init_dir: Path | None, start_ids: list[int] | None
                ) -> tuple[object, dict]:
        """``model`` made ready to train, and what the card records of how (beyond the
        parameter counts, which :func:`tuning.methods.prepare` adds)."""
        from peft import get_peft_model

        config = self.peft_config(settings, model)
        return get_peft_model(model, config), {"config": plain(config.to_dict())}

    def notes(self, record: dict) -> list[str]:
        """Lines for the user about what :meth:`prepare` chose (its ``record``)."""
        return []

    def save(self, model, out: Path, settings, tokenizer, *, init_dir: Path | None) -> None:
        """Write the trained ``model`` as this method's artifact files into ``out``."""
        model.save_pretrained(out)

    # -- using the result -----------------------------------------------------------------------

    def open(self, base, path: Path):
        """The base model with the artifact at ``path`` on top."""
        from peft import PeftModel

        try:
            return PeftModel.from_pretrained(base, str(path))
        except (OSError, ValueError, KeyError) as exc:
            raise ArtifactError(f"cannot load the adapter in {path}: {exc}") from exc

    @contextmanager
    def switched_off(self, model):
        """While active, ``model`` answers as its base model."""
        with model.disable_adapter():
            yield model

    def merge(self, model, name: str = "the adapter"):
        """``model`` (from :meth:`open`) as a plain transformers model answering the same, or
        an error naming what to do."""
        if self.unmergeable:
            raise ArtifactError(f"'{name}' is {self.called()}: {self.unmergeable}, so it cannot "
                                "be merged. Serve it with --engine local, or train with --method "
                                "lora to get a mergeable adapter.")
        return model.merge_and_unload()

    def for_inference(self, model):
        """The fastest exact form of a trained model: merged where the method folds into the
        weights, else as it is (callers that carry a KV cache across calls take
        :func:`tuning.methods.decoding_view` of it)."""
        return model if self.unmergeable else self.merge(model)

    def not_on_vllm(self, name: str) -> str:
        """Why vLLM cannot serve adapter ``name`` (for ``on_vllm = None``), and what to do."""
        return (f"adapter '{name}' is {self.called()}; vLLM serves LoRA adapters only, and "
                f"{self.unmergeable or 'it cannot be merged'}. Serve it with --engine local, or "
                "train with --method lora.")

    def called(self) -> str:
        """'a lora adapter', 'a prefix-tuning adapter', 'a LoReFT adapter'."""
        words = self.label or self.name
        return f"{'an' if words[0].lower() in 'aeio' else 'a'} {words} adapter"


# -- helpers the methods share ---------------------------------------------------------------------

def linear_layers(model) -> dict[str, object]:
    """The linear layers inside the model's numbered blocks, by module path."""
    import torch

    return {name: module for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and module_kind(f"{name}.weight")}


def layer_group(path: str) -> str:
    """``attention`` for a linear layer inside a block's attention, else ``mlp``."""
    parent = path.rsplit(".", 2)[-2].lower()
    return "attention" if any(word in parent for word in _ATTENTION) else "mlp"


def target_names(model, targets: str) -> list[str]:
    """The leaf names (``q_proj``, …) of the linear layers ``targets`` names: ``attention``, the
    layers inside each block's attention; ``mlp``, the rest of the block's; ``all-linear``,
    both."""
    names = {path.rsplit(".", 1)[-1]: layer_group(path) for path in linear_layers(model)}
    chosen = sorted(n for n, group in names.items() if targets == "all-linear" or group == targets)
    if not chosen:
        raise InputError(f"the base model has no {targets} linear layers in its numbered blocks "
                         "for tuning.targets; choose all-linear.")
    return chosen


def plain(value):
    """A peft config's dict with sets and enums made JSON's."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return sorted(plain(v) for v in value) if isinstance(value, (set, frozenset)) \
            else [plain(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (int, float, str, bool)):
        return value.value
    return value
